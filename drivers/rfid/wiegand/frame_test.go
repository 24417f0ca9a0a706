package wiegand_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/redcarpet-retail/redcarpet/drivers/rfid/wiegand"
)

// Vectors computed from the formats (see the package documentation).
var vectors = []struct {
	name string
	f    wiegand.Frame
	bits uint64
	uid  []byte
}{
	// P FFFFFFFF CCCCCCCCCCCCCCCC P
	// 1 01111011 0001000111010111 0
	{"H10301 FC 123 CN 4567", wiegand.Encode26(123, 4567), 0x2F623AE, []byte{123, 0x11, 0xD7}},
	// All zero data: even parity 0, odd parity 1.
	{"H10301 FC 0 CN 0", wiegand.Encode26(0, 0), 0x0000001, []byte{0, 0, 0}},
	// FC 0xFF (8 ones) and CN bits 10-13 = 1111: 12 ones, even parity 0;
	// bits 14-25 = 12 ones, odd parity 1.
	{"H10301 FC 255 CN 65535", wiegand.Encode26(255, 65535), 0x1FFFFFF, []byte{0xFF, 0xFF, 0xFF}},
	// P DDDDDDDDDDDDDDDD DDDDDDDDDDDDDDDD P
	// 1 0000000010111100 0110000101001110 0
	// 0x00BC has 5 ones (even parity 1), 0x614E 7 ones (odd parity 0).
	{"34-bit 0x00BC614E (fob 0012345678)", wiegand.Encode34(12345678), 0x20178C29C, []byte{0x00, 0xBC, 0x61, 0x4E}},
	// 0x1234 has 5 ones (even parity 1), 0x5678 8 ones (odd parity 1).
	{"34-bit 0x12345678", wiegand.Encode34(0x12345678), 0x22468ACF1, []byte{0x12, 0x34, 0x56, 0x78}},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			if v.f.Bits != v.bits {
				t.Errorf("encoded %#x, want %#x", v.f.Bits, v.bits)
			}
			uid, err := wiegand.Frame{Bits: v.bits, Len: v.f.Len}.Card()
			if err != nil || !bytes.Equal(uid, v.uid) {
				t.Errorf("Card() = % X, %v; want % X", uid, err, v.uid)
			}
		})
	}
}

// Every single-bit error in a 26- or 34-bit frame breaks a parity.
func TestParityCatchesEveryFlip(t *testing.T) {
	for _, v := range vectors {
		for i := range v.f.Len {
			f := v.f
			f.Bits ^= 1 << i
			if _, err := f.Card(); !errors.Is(err, wiegand.ErrParity) {
				t.Errorf("%s with bit %d flipped: %v, want ErrParity", v.name, v.f.Len-i, err)
			}
		}
	}
}

func TestLengths(t *testing.T) {
	w26 := wiegand.Encode26(123, 4567)
	for _, f := range []wiegand.Frame{
		{Bits: w26.Bits >> 1, Len: 25},   // last bit lost
		{Bits: w26.Bits<<1 | 1, Len: 27}, // one bit too many
		{Bits: 0b1010, Len: 4},           // a keypad key
		{Bits: 1<<35 - 1, Len: 35},       // HID Corporate 1000
		{Len: wiegand.MaxBits + 1},       // noise
		{},
	} {
		if _, err := f.Card(); !errors.Is(err, wiegand.ErrBits) {
			t.Errorf("%d bits: %v, want ErrBits", f.Len, err)
		}
	}
	if _, err := (wiegand.Frame{Bits: w26.Bits, Len: 26, Overlap: true}).Card(); !errors.Is(err, wiegand.ErrOverlap) {
		t.Errorf("overlapping pulses: %v, want ErrOverlap", err)
	}
}
