package wiegand

import (
	"errors"
	"fmt"
	"math/bits"
)

// MaxBits is the longest frame the decoder assembles; a longer burst is
// noise and is rejected (see Decoder).
const MaxBits = 64

// Errors returned by Frame.Card.
var (
	// ErrBits reports a frame of a length other than 26 or 34 bits.
	ErrBits = errors.New("wiegand: unsupported frame length")
	// ErrParity reports a 26- or 34-bit frame with a wrong parity bit.
	ErrParity = errors.New("wiegand: wrong parity")
	// ErrOverlap reports a frame during which pulses on D0 and D1
	// overlapped.
	ErrOverlap = errors.New("wiegand: pulses on D0 and D1 overlapped")
)

// Frame is the bits received between two silences, in the order received.
type Frame struct {
	// Bits holds the bits with the last one received in bit 0, the first
	// in bit Len-1. It is meaningful only when Len <= MaxBits.
	Bits uint64
	// Len is the number of bits received; MaxBits+1 for a burst cut off as
	// too long.
	Len int
	// Overlap reports a pulse that began while the other line was still
	// low.
	Overlap bool
}

// Card checks the frame and returns the card id it carries: for 26 bits
// (HID H10301) the facility code and the card number, 3 bytes; for 34 bits
// the 32 data bits, 4 bytes big-endian. The error wraps ErrOverlap,
// ErrBits or ErrParity.
func (f Frame) Card() ([]byte, error) {
	if f.Overlap {
		return nil, fmt.Errorf("%w (%d bits)", ErrOverlap, f.Len)
	}
	if f.Len != 26 && f.Len != 34 {
		return nil, fmt.Errorf("%w: %d bits", ErrBits, f.Len)
	}
	half := uint(f.Len / 2) // 13 or 17: each parity bit and the data bits it covers
	v := f.Bits & (1<<f.Len - 1)
	if bits.OnesCount64(v>>half)%2 != 0 {
		return nil, fmt.Errorf("%w: %d-bit frame, even parity of the first half", ErrParity, f.Len)
	}
	if bits.OnesCount64(v&(1<<half-1))%2 != 1 {
		return nil, fmt.Errorf("%w: %d-bit frame, odd parity of the second half", ErrParity, f.Len)
	}
	data := uint32(v >> 1) // drop the odd parity bit; the even one is above 32 bits or masked
	if f.Len == 26 {
		data &= 1<<24 - 1
		return []byte{byte(data >> 16), byte(data >> 8), byte(data)}, nil
	}
	return []byte{byte(data >> 24), byte(data >> 16), byte(data >> 8), byte(data)}, nil
}

// Encode26 returns the 26-bit (HID H10301) frame of facility code fc and
// card number cn.
func Encode26(fc uint8, cn uint16) Frame {
	return withParity(uint64(fc)<<16|uint64(cn), 26)
}

// Encode34 returns the 34-bit frame carrying data.
func Encode34(data uint32) Frame {
	return withParity(uint64(data), 34)
}

// withParity frames n-2 data bits with the even (leading) and odd
// (trailing) parity bits, each over its half of the data.
func withParity(data uint64, n int) Frame {
	half := uint(n/2 - 1) // data bits per half
	v := data << 1
	if bits.OnesCount64(data>>half)%2 == 1 {
		v |= 1 << (n - 1)
	}
	if bits.OnesCount64(data&(1<<half-1))%2 == 0 {
		v |= 1
	}
	return Frame{Bits: v, Len: n}
}
