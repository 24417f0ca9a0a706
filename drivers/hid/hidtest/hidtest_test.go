package hidtest

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	at := time.Unix(1700000000, 250_000_000)
	for _, size := range []int{24, 16} {
		r := Record(size, at, EvKey, 30, Press)
		if len(r) != size {
			t.Fatalf("%d-byte record of %d bytes", size, len(r))
		}
		word := size/2 - 4
		sec, usec := uint64(binary.NativeEndian.Uint32(r)), uint64(binary.NativeEndian.Uint32(r[word:]))
		if word == 8 {
			sec, usec = binary.NativeEndian.Uint64(r), binary.NativeEndian.Uint64(r[word:])
		}
		typ, code := binary.NativeEndian.Uint16(r[2*word:]), binary.NativeEndian.Uint16(r[2*word+2:])
		value := int32(binary.NativeEndian.Uint32(r[2*word+4:]))
		if int64(sec) != at.Unix() || usec != 250000 || typ != EvKey || code != 30 || value != Press {
			t.Errorf("%d-byte record % X", size, r)
		}
	}
}

func TestKeyOf(t *testing.T) {
	for c := byte(0x20); c <= 0x7E; c++ {
		if code, _ := KeyOf(c); code == 0 {
			t.Errorf("no key for %q", c)
		}
	}
	for _, tt := range []struct {
		c     byte
		code  uint16
		shift bool
	}{{'1', 2, false}, {'!', 2, true}, {'q', 16, false}, {'A', 30, true}, {'z', 44, false}, {'?', 53, true}, {' ', 57, false}, {'|', 43, true}} {
		if code, shift := KeyOf(tt.c); code != tt.code || shift != tt.shift {
			t.Errorf("KeyOf(%q) = %d, %v; want %d, %v", tt.c, code, shift, tt.code, tt.shift)
		}
	}
	if code, _ := KeyOf('\t'); code != 0 {
		t.Errorf("KeyOf(tab) = %d", code)
	}
}

func TestType(t *testing.T) {
	kb := Keyboard{Size: 16}
	// "A": shift press, key press, key release, shift release; 3 records each.
	if got := len(kb.Type("A")); got != 4*3*16 {
		t.Errorf("%d bytes for one shifted key", got)
	}
	if !bytes.Equal(kb.Type("\x1d"), kb.Tap(nil, KeyRightBrace, KeyLeftCtrl)) {
		t.Error("GS is not Ctrl+]")
	}
	defer func() {
		if recover() == nil {
			t.Error("Type(tab) did not panic")
		}
	}()
	kb.Type("\t")
}
