package hid

import (
	"encoding/binary"
	"fmt"

	"github.com/redcarpet-retail/redcarpet/drivers"
)

// DefaultMaxLine is the longest line a Decoder keeps by default: far longer
// than loyalty, shopping-list and coupon codes; raise it only for large 2D
// symbols.
const DefaultMaxLine = 512

// Held modifier keys.
const (
	modLeftShift = 1 << iota
	modRightShift
	modLeftCtrl
	modRightCtrl
	modLeftAlt
	modRightAlt

	modShift = modLeftShift | modRightShift
	modCtrl  = modLeftCtrl | modRightCtrl
	modAlt   = modLeftAlt | modRightAlt
)

// modifier returns the bit of a modifier key.
func modifier(code uint16) (uint8, bool) {
	switch code {
	case keyLeftShift:
		return modLeftShift, true
	case keyRightShift:
		return modRightShift, true
	case keyLeftCtrl:
		return modLeftCtrl, true
	case keyRightCtrl:
		return modRightCtrl, true
	case keyLeftAlt:
		return modLeftAlt, true
	case keyRightAlt:
		return modRightAlt, true
	}
	return 0, false
}

// Decoder turns evdev input_event records into lines of text as described in
// the package documentation. It is incremental: feed it bytes as a device
// returns them, split anywhere, even inside a record. A Decoder is not safe
// for concurrent use.
type Decoder struct {
	size    int // record size, 16 or 24
	maxLine int

	rec  [24]byte // a record split across Feed calls
	nrec int

	line   []byte
	bad    bool  // the line is being discarded, up to its Enter
	resync bool  // after SYN_DROPPED: events are ignored up to SYN_REPORT
	mods   uint8 // held modifiers
	caps   bool  // Caps Lock on
	alt    int   // the character code typed on the keypad while Alt is held
	altN   int   // its number of digits
}

// NewDecoder returns a decoder of records of recordSize bytes (16 or 24; 0
// means RecordSize, this process's layout) keeping lines of up to maxLine
// characters (0 means DefaultMaxLine).
func NewDecoder(recordSize, maxLine int) (*Decoder, error) {
	if recordSize == 0 {
		recordSize = RecordSize
	}
	if recordSize != 16 && recordSize != 24 {
		return nil, fmt.Errorf("hid: record size %d: want 16 or 24", recordSize)
	}
	if maxLine == 0 {
		maxLine = DefaultMaxLine
	}
	if maxLine < 0 {
		return nil, fmt.Errorf("hid: maximum line length %d", maxLine)
	}
	return &Decoder{size: recordSize, maxLine: maxLine}, nil
}

// Feed decodes p, calling line with each completed line (without its Enter)
// and reject, which may be nil, with the reason for each discarded line or
// each SYN_DROPPED. A record or line whose end is not in p is completed by
// later calls.
func (d *Decoder) Feed(p []byte, line func(text string), reject func(reason string)) {
	if reject == nil {
		reject = func(string) {}
	}
	for len(p) > 0 {
		if d.nrec > 0 || len(p) < d.size {
			n := copy(d.rec[d.nrec:d.size], p)
			d.nrec += n
			p = p[n:]
			if d.nrec < d.size {
				return
			}
			d.record(d.rec[:d.size], line, reject)
			d.nrec = 0
			continue
		}
		d.record(p[:d.size], line, reject)
		p = p[d.size:]
	}
}

// record handles one input_event: the time (ignored), then type, code and
// value in the last 8 bytes.
func (d *Decoder) record(r []byte, line func(string), reject func(string)) {
	r = r[len(r)-8:]
	typ := binary.NativeEndian.Uint16(r)
	code := binary.NativeEndian.Uint16(r[2:])
	value := int32(binary.NativeEndian.Uint32(r[4:]))
	switch {
	case typ == evSyn && code == synDropped:
		// The kernel's buffer overflowed: events are lost, maybe an Enter
		// and some releases. Forget the key state and the line so far, and
		// ignore the rest of the line, whose start is gone.
		reject(drivers.RejectDropped)
		d.resync, d.mods, d.alt, d.altN = true, 0, 0, 0
		d.line, d.bad = d.line[:0], true
	case typ == evSyn && code == synReport:
		d.resync = false
	case typ == evKey && !d.resync:
		d.key(code, value, line, reject)
	}
}

// key handles a key's press or release.
func (d *Decoder) key(code uint16, value int32, line func(string), reject func(string)) {
	if code >= btnMisc || value != keyPress && value != keyRelease {
		return // a button, or an autorepeat
	}
	press := value == keyPress
	if m, ok := modifier(code); ok {
		held := d.mods&modAlt != 0
		if press {
			d.mods |= m
		} else {
			d.mods &^= m
		}
		switch altNow := d.mods&modAlt != 0; {
		case !held && altNow:
			d.alt, d.altN = 0, 0
		case held && !altNow && d.altN > 0:
			if d.altN <= 4 && d.alt <= 0x7E && lineChar(byte(d.alt)) {
				d.put(byte(d.alt), reject)
			} else {
				d.unknown(reject)
			}
			d.alt, d.altN = 0, 0
		}
		return
	}
	if !press {
		return
	}
	switch {
	case code == keyCapsLock:
		d.caps = !d.caps
	case code == keyNumLock || code == keyScrollLock || code == keyLeftMeta || code == keyRightMeta:
	case code == keyEnter || code == keyKPEnter:
		if len(d.line) > 0 && !d.bad {
			line(string(d.line))
		}
		d.line, d.bad, d.alt, d.altN = d.line[:0], false, 0, 0
	case d.mods&modCtrl != 0:
		if code == keyRightBrace {
			d.put(gs, reject)
		} else {
			d.unknown(reject)
		}
	case d.mods&modAlt != 0:
		if k := usLayout[code].keypad; k >= 0 {
			d.alt = min(d.alt*10+int(k), 10000) // bounded: anything above 255 is refused
			d.altN++
		} else {
			d.unknown(reject)
		}
	default:
		k := usLayout[code]
		if k.plain == 0 {
			d.unknown(reject)
			return
		}
		shift := d.mods&modShift != 0
		if k.letter && d.caps {
			shift = !shift
		}
		if shift {
			d.put(k.shifted, reject)
		} else {
			d.put(k.plain, reject)
		}
	}
}

// put appends c to the line, or starts discarding an overlong line.
func (d *Decoder) put(c byte, reject func(string)) {
	switch {
	case d.bad:
	case len(d.line) >= d.maxLine:
		d.line, d.bad = d.line[:0], true
		reject(drivers.RejectFraming)
	default:
		d.line = append(d.line, c)
	}
}

// unknown discards the line: a key typed something the decoder cannot map.
func (d *Decoder) unknown(reject func(string)) {
	if !d.bad {
		d.line, d.bad = d.line[:0], true
		reject(drivers.RejectFormat)
	}
}
