// Package hidtest produces the evdev records a USB keyboard-wedge device
// sends, for tests of code that reads them (hid.Keyboard, hid.Decoder). It
// is independent of package hid: its key table is written from
// linux/input-event-codes.h for the US layout, so a test checks the decoder
// against a second reading of the source.
package hidtest

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Event types and codes (linux/input-event-codes.h).
const (
	EvSyn = 0x00
	EvKey = 0x01
	EvMsc = 0x04

	SynReport  = 0
	SynDropped = 3
	MscScan    = 4

	Release = 0
	Press   = 1
	Repeat  = 2

	KeyEnter      = 28
	KeyLeftCtrl   = 29
	KeyLeftShift  = 42
	KeyRightShift = 54
	KeyLeftAlt    = 56
	KeyCapsLock   = 58
	KeyKPEnter    = 96
	KeyRightBrace = 27
	KeyTab        = 15
)

// Record returns one input_event of size bytes (24 for 64-bit, 16 for
// 32-bit systems) in this machine's byte order, as the kernel writes it,
// with its time set to t.
func Record(size int, t time.Time, typ, code uint16, value int32) []byte {
	b := make([]byte, size)
	half := size/2 - 4 // bytes of each timeval field: 8 or 4
	if half == 8 {
		binary.NativeEndian.PutUint64(b, uint64(t.Unix()))
		binary.NativeEndian.PutUint64(b[8:], uint64(t.Nanosecond()/1000))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(t.Unix()))
		binary.NativeEndian.PutUint32(b[4:], uint32(t.Nanosecond()/1000))
	}
	r := b[size-8:]
	binary.NativeEndian.PutUint16(r, typ)
	binary.NativeEndian.PutUint16(r[2:], code)
	binary.NativeEndian.PutUint32(r[4:], uint32(value))
	return b
}

// Keyboard types text as a HID keyboard does: for each key change an
// EV_MSC/MSC_SCAN, the EV_KEY and an EV_SYN/SYN_REPORT. The zero value types
// 24-byte records at the zero time.
type Keyboard struct {
	Size int       // record size, 16 or 24; 0 means 24
	Time time.Time // the records' time
	// Shift is the Shift key the keyboard uses: KeyLeftShift (0 means that)
	// or KeyRightShift.
	Shift uint16
}

// Key appends the records of one key change to b.
func (k Keyboard) Key(b []byte, code uint16, value int32) []byte {
	size := k.Size
	if size == 0 {
		size = 24
	}
	b = append(b, Record(size, k.Time, EvMsc, MscScan, 0x70000|int32(code))...) // not the real HID usage
	b = append(b, Record(size, k.Time, EvKey, code, value)...)
	return append(b, Record(size, k.Time, EvSyn, SynReport, 0)...)
}

// Tap appends the press and release of a key to b, with the modifiers held
// around it.
func (k Keyboard) Tap(b []byte, code uint16, modifiers ...uint16) []byte {
	for _, m := range modifiers {
		b = k.Key(b, m, Press)
	}
	b = k.Key(b, code, Press)
	b = k.Key(b, code, Release)
	for _, m := range modifiers {
		b = k.Key(b, m, Release)
	}
	return b
}

// Type returns the records of typing text with the US layout: '\n' is Enter
// and GS (0x1D) is Ctrl+]. It panics on a character a US keyboard cannot
// type.
func (k Keyboard) Type(text string) []byte {
	shift := k.Shift
	if shift == 0 {
		shift = KeyLeftShift
	}
	var b []byte
	for i := range len(text) {
		c := text[i]
		switch code, shifted := KeyOf(c); {
		case c == '\n':
			b = k.Tap(b, KeyEnter)
		case c == 0x1D:
			b = k.Tap(b, KeyRightBrace, KeyLeftCtrl)
		case code == 0:
			panic(fmt.Sprintf("hidtest: %q has no key in the US layout", c))
		case shifted:
			b = k.Tap(b, code, shift)
		default:
			b = k.Tap(b, code)
		}
	}
	return b
}

// KeyOf returns the key typing the printable ASCII character c in the US
// layout, and whether Shift must be held; code 0 if there is none.
func KeyOf(c byte) (code uint16, shift bool) {
	for i, row := range rows {
		if j := strings.IndexByte(row.plain, c); j >= 0 {
			return rows[i].first + uint16(j), false
		}
		if j := strings.IndexByte(row.shifted, c); j >= 0 {
			return rows[i].first + uint16(j), true
		}
	}
	return 0, false
}

// rows of the US layout: key codes first, first+1, … and what they type.
var rows = []struct {
	first          uint16
	plain, shifted string
}{
	{2, "1234567890-=", "!@#$%^&*()_+"},   // KEY_1 = 2
	{16, "qwertyuiop[]", "QWERTYUIOP{}"},  // KEY_Q = 16
	{30, "asdfghjkl;'`", "ASDFGHJKL:\"~"}, // KEY_A = 30
	{43, "\\zxcvbnm,./", "|ZXCVBNM<>?"},   // KEY_BACKSLASH = 43, KEY_Z = 44
	{57, " ", ""},                         // KEY_SPACE
}

// Keypad key codes by the digit they type.
var Keypad = [10]uint16{82, 79, 80, 81, 75, 76, 77, 71, 72, 73} // KEY_KP0 … KEY_KP9
