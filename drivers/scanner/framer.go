package scanner

import (
	"fmt"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
)

// Terminator is what ends one scan on a serial line: the suffix the scanner
// is configured to send, or silence.
type Terminator string

// Terminators; the values are those of the configuration's terminator
// option.
const (
	Line Terminator = "line" // CR, LF or CR LF: each ends a scan, a CR LF pair is one terminator
	CR   Terminator = "cr"   // CR (0x0D)
	LF   Terminator = "lf"   // LF (0x0A)
	CRLF Terminator = "crlf" // CR followed by LF; a lone CR or LF is noise
	Tab  Terminator = "tab"  // HT (0x09)
	Idle Terminator = "idle" // no suffix: IdleGap of silence ends a scan
)

// valid reports whether t is one of the terminators.
func (t Terminator) valid() error {
	switch t {
	case Line, CR, LF, CRLF, Tab, Idle:
		return nil
	}
	return fmt.Errorf("terminator %q is not one of line, cr, lf, crlf, tab, idle", string(t))
}

// CutShortAfter is how long a partial scan may wait for its terminator:
// with any terminator but Idle, a scan whose bytes stopped arriving this
// long ago is discarded as cut short (drivers.RejectFraming). A scanner
// sends a whole scan within milliseconds; without this, a scan that lost
// its terminator would be glued to the front of the next one.
const CutShortAfter = time.Second

// framer cuts a serial byte stream into scans. It is incremental: feed it
// bytes however the port splits them and tell it about silence. Not safe for
// concurrent use. The rules are in the package documentation.
type framer struct {
	term     Terminator
	termByte byte // CR, LF, Tab: the terminator
	idleGap  time.Duration
	maxLen   int
	keep     [0x20]bool // C0 controls that are data: GS, and those of the strip prefix and suffix
	emit     func(scan []byte)
	reject   func(reason string)

	buf     []byte
	spoiled bool          // the scan held noise or overflowed: already counted, discard it at its end
	noise   bool          // in a run of noise between scans: already counted
	afterCR bool          // Line: the last byte was a CR that ended a scan
	heldCR  bool          // CRLF: a CR waiting for its LF
	quiet   time.Duration // silence since the last byte
}

// newFramer returns a framer calling emit with each scan (the slice is
// reused: copy it) and reject with drivers.RejectFraming for each discarded
// scan or run of noise. keep lists the bytes configured around the data
// (the strip prefix and suffix): control characters among them are data.
func newFramer(term Terminator, idleGap time.Duration, maxLen int, keep string, emit func([]byte), reject func(string)) *framer {
	f := &framer{term: term, idleGap: idleGap, maxLen: maxLen, emit: emit, reject: reject}
	f.termByte = map[Terminator]byte{CR: '\r', LF: '\n', Tab: '\t'}[term]
	f.keep[GS] = true
	for i := range len(keep) {
		if c := keep[i]; c < 0x20 {
			f.keep[c] = true
		}
	}
	return f
}

// feed processes bytes that just arrived.
func (f *framer) feed(p []byte) {
	if len(p) > 0 {
		f.quiet = 0
	}
	for _, c := range p {
		f.push(c)
	}
}

// silence tells the framer that d passed without a byte.
func (f *framer) silence(d time.Duration) {
	f.quiet += d
	switch {
	case f.term == Idle:
		if f.quiet >= f.idleGap {
			f.end()
		}
	case f.quiet >= CutShortAfter:
		if f.heldCR { // a lone CR: noise
			f.heldCR = false
			f.add('\r')
		}
		if len(f.buf) > 0 {
			f.spoil()
		}
		f.end()
	}
}

func (f *framer) push(c byte) {
	switch f.term {
	case Line:
		if c == '\n' && f.afterCR {
			f.afterCR = false // the LF of a CR LF pair
			return
		}
		f.afterCR = c == '\r'
		if c == '\r' || c == '\n' {
			f.end()
			return
		}
	case CR, LF, Tab:
		if c == f.termByte {
			f.end()
			return
		}
	case CRLF:
		if f.heldCR {
			f.heldCR = false
			if c == '\n' {
				f.end()
				return
			}
			f.add('\r') // a CR without LF: noise
		}
		if c == '\r' {
			f.heldCR = true
			return
		}
	}
	f.add(c)
}

// add appends a byte that is not a terminator to the scan.
func (f *framer) add(c byte) {
	if (c < 0x20 && !f.keep[c]) || c == 0x7f {
		if len(f.buf) == 0 && !f.spoiled {
			// Noise between scans: counted once per run, the next scan
			// is not affected.
			if !f.noise {
				f.noise = true
				f.reject(drivers.RejectFraming)
			}
			return
		}
		f.spoil() // noise inside a scan: the scan is garbled
		return
	}
	f.noise = false
	if f.spoiled {
		return
	}
	if len(f.buf) >= f.maxLen {
		f.spoil() // overlong
		return
	}
	f.buf = append(f.buf, c)
}

// spoil discards the scan being collected, counting it once, and ignores
// its remaining bytes until its end.
func (f *framer) spoil() {
	if !f.spoiled {
		f.spoiled = true
		f.reject(drivers.RejectFraming)
	}
	f.buf = f.buf[:0]
}

// end ends the scan being collected: a terminator arrived or the line fell
// silent. An empty scan is no scan.
func (f *framer) end() {
	if len(f.buf) > 0 && !f.spoiled {
		f.emit(f.buf)
	}
	f.buf, f.spoiled, f.noise = f.buf[:0], false, false
}
