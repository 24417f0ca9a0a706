package em4100

import (
	"encoding/binary"

	"github.com/redcarpet-retail/redcarpet/drivers"
)

// Frame bytes.
const (
	stx = 0x02 // start of frame
	etx = 0x03 // end of frame
	cr  = '\r' // ID-12 style readers send CR LF before ETX
	lf  = '\n'
)

// FrameLen is the length of a frame without CR LF; ID-12 style frames are
// two bytes longer.
const FrameLen = 14

// Frame is one decoded EM4100 reading.
type Frame struct {
	Version byte   // version or customer code, the first data byte
	ID      uint32 // the 32-bit tag id, data bytes 2 to 5
}

// UID returns the card id drivers emit for the frame: the tag id as 4 bytes
// big-endian. The version byte is not part of it.
func (f Frame) UID() []byte { return binary.BigEndian.AppendUint32(nil, f.ID) }

// Checksum returns the XOR of the frame's 5 data bytes.
func (f Frame) Checksum() byte {
	return f.Version ^ byte(f.ID>>24) ^ byte(f.ID>>16) ^ byte(f.ID>>8) ^ byte(f.ID)
}

// Encode returns the 14 bytes an RDM6300 sends for f: STX, the data and
// checksum in upper-case hex, ETX.
func (f Frame) Encode() []byte {
	const digits = "0123456789ABCDEF"
	data := [6]byte{f.Version, byte(f.ID >> 24), byte(f.ID >> 16), byte(f.ID >> 8), byte(f.ID), f.Checksum()}
	b := make([]byte, 0, FrameLen)
	b = append(b, stx)
	for _, v := range data {
		b = append(b, digits[v>>4], digits[v&0xf])
	}
	return append(b, etx)
}

// Parser states.
const (
	waitSTX  = iota // between frames: anything but STX is noise
	skipping        // discarding bytes already counted as a reject, until STX
	inData          // collecting the 12 hex digits
	wantEnd         // 12 digits read: ETX, or CR of CR LF ETX
	wantLF          // CR read
	wantETX         // CR LF read
)

// Parser decodes the byte stream of a reader into frames. It is incremental:
// feed it bytes as they arrive, split anywhere. The zero value is ready to
// use; a Parser is not safe for concurrent use.
//
// Every STX starts a new frame, whatever came before it: an unfinished frame
// is then rejected as cut short. Rejected input is reported once per frame
// or per run of noise between frames:
//
//	drivers.RejectFraming   noise outside a frame; a frame cut short by an
//	                        STX, holding a byte other than a hex digit, or
//	                        without ETX (or CR LF ETX) after its 12 digits
//	drivers.RejectChecksum  a well-formed frame whose checksum is wrong
//
// A Parser holds at most one frame (12 digits), whatever it is fed.
type Parser struct {
	state  uint8
	n      uint8    // hex digits collected
	digits [12]byte // their values, 0 to 15
}

// Feed parses b, calling emit for each valid frame and reject (which may be
// nil) with the reason for each rejected frame or run of noise, in stream
// order. A frame whose end is not in b is completed by later calls.
func (p *Parser) Feed(b []byte, emit func(Frame), reject func(reason string)) {
	fail := func(reason string) {
		p.state = skipping
		if reject != nil {
			reject(reason)
		}
	}
	for _, c := range b {
		if c == stx {
			if p.state >= inData {
				fail(drivers.RejectFraming) // cut short
			}
			p.state, p.n = inData, 0
			continue
		}
		switch p.state {
		case waitSTX:
			fail(drivers.RejectFraming)
		case skipping:
		case inData:
			v, ok := unhex(c)
			if !ok {
				fail(drivers.RejectFraming)
				continue
			}
			p.digits[p.n] = v
			if p.n++; int(p.n) == len(p.digits) {
				p.state = wantEnd
			}
		case wantEnd:
			switch c {
			case etx:
				p.finish(emit, fail)
			case cr:
				p.state = wantLF
			default:
				fail(drivers.RejectFraming)
			}
		case wantLF:
			if c != lf {
				fail(drivers.RejectFraming)
				continue
			}
			p.state = wantETX
		case wantETX:
			if c != etx {
				fail(drivers.RejectFraming)
				continue
			}
			p.finish(emit, fail)
		}
	}
}

// finish checks the collected frame's checksum and emits it.
func (p *Parser) finish(emit func(Frame), fail func(string)) {
	var data [6]byte
	for i := range data {
		data[i] = p.digits[2*i]<<4 | p.digits[2*i+1]
	}
	f := Frame{Version: data[0], ID: binary.BigEndian.Uint32(data[1:5])}
	if f.Checksum() != data[5] {
		fail(drivers.RejectChecksum)
		return
	}
	p.state = waitSTX
	emit(f)
}

// unhex returns the value of an upper- or lower-case hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
