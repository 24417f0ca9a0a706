package wiegand_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/wiegand"
)

// edgesOf turns fuzz input into edges: per byte, bit 0 is the line, bits
// 1-2 both set make a rising edge (else falling), bits 3-7 the time since
// the previous edge in ms (0 to 31: around the 25 ms gap). 0xFF is a
// silence reported by the caller (End).
func edgesOf(data []byte, t0 time.Time) (edges []gpiopair.Edge, ends []bool) {
	at := t0
	for _, b := range data {
		if b == 0xFF {
			edges, ends = append(edges, gpiopair.Edge{}), append(ends, true)
			continue
		}
		at = at.Add(time.Duration(b>>3) * time.Millisecond)
		level := gpio.Low
		if b&6 == 6 {
			level = gpio.High
		}
		edges, ends = append(edges, gpiopair.Edge{Line: int(b & 1), Level: level, At: at}), append(ends, false)
	}
	return edges, ends
}

// bytesOf encodes a frame as edgesOf input: falling edges 2 ms apart.
func bytesOf(f wiegand.Frame) []byte {
	var data []byte
	for i := f.Len - 1; i >= 0; i-- {
		data = append(data, 2<<3|byte(f.Bits>>i&1))
	}
	return data
}

func FuzzDecoder(f *testing.F) {
	f.Add(bytesOf(wiegand.Encode26(123, 4567)))
	f.Add(append(bytesOf(wiegand.Encode34(0x00BC614E)), 0xFF))
	f.Add(append(append(bytesOf(wiegand.Encode26(1, 2)), 30<<3), bytesOf(wiegand.Encode26(3, 4))...))
	f.Add([]byte{0x00, 0x06, 0x01, 0x07, 0xFF, 0xF8, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		edges, ends := edgesOf(data, time.Unix(0, 0))
		var (
			d      wiegand.Decoder
			frames []wiegand.Frame
			bits   int // falling edges fed
		)
		for i, e := range edges {
			var (
				fr wiegand.Frame
				ok bool
			)
			if ends[i] {
				fr, ok = d.End()
			} else {
				if e.Level == gpio.Low {
					bits++
				}
				fr, ok = d.Edge(e)
				if dl, pending := d.Deadline(); pending && !dl.Equal(e.At.Add(wiegand.DefaultFrameGap)) && e.Level == gpio.Low {
					t.Fatalf("deadline %v after a bit at %v", dl, e.At)
				}
			}
			if ok {
				frames = append(frames, fr)
			}
		}
		if fr, ok := d.End(); ok {
			frames = append(frames, fr)
		}
		total, cut := 0, false
		for _, fr := range frames {
			switch {
			case fr.Len < 1 || fr.Len > wiegand.MaxBits+1:
				t.Fatalf("frame of %d bits", fr.Len)
			case fr.Len > wiegand.MaxBits:
				cut = true
			case fr.Len < 64 && fr.Bits>>fr.Len != 0:
				t.Fatalf("%d-bit frame with bits %#x", fr.Len, fr.Bits)
			}
			total += fr.Len
			uid, err := fr.Card()
			if err != nil {
				continue
			}
			// An accepted frame is exactly the encoding of its card.
			var want wiegand.Frame
			switch len(uid) {
			case 3:
				want = wiegand.Encode26(uid[0], uint16(uid[1])<<8|uint16(uid[2]))
			case 4:
				want = wiegand.Encode34(binary.BigEndian.Uint32(uid))
			default:
				t.Fatalf("card id of %d bytes", len(uid))
			}
			if fr != want {
				t.Fatalf("accepted %+v, re-encodes as %+v", fr, want)
			}
		}
		// Without a burst cut off as noise, every bit lands in a frame.
		if !cut && total != bits {
			t.Fatalf("%d bits fed, %d in frames", bits, total)
		}
	})
}

// Random cards go through the decoder and come out as sent.
func TestDecoderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var d wiegand.Decoder
	at := time.Unix(0, 0)
	for i := range 2000 {
		fr := wiegand.Encode26(uint8(rng.Uint32()), uint16(rng.Uint32()))
		if i%2 == 1 {
			fr = wiegand.Encode34(rng.Uint32())
		}
		var got []wiegand.Frame
		step := time.Duration(200+rng.IntN(19800)) * time.Microsecond // SIA: 200 µs to 20 ms
		for j := fr.Len - 1; j >= 0; j-- {
			at = at.Add(step)
			if f, ok := d.Edge(gpiopair.Edge{Line: int(fr.Bits >> j & 1), Level: gpio.Low, At: at}); ok {
				got = append(got, f)
			}
		}
		at = at.Add(wiegand.DefaultFrameGap)
		if f, ok := d.End(); ok {
			got = append(got, f)
		}
		if len(got) != 1 || got[0] != fr {
			t.Fatalf("sent %+v with pulses %v apart, decoded %+v", fr, step, got)
		}
	}
}
