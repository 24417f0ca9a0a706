package wiegand

import (
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
)

// DefaultFrameGap is the silence that ends a frame: above SIA's 20 ms
// maximum pulse interval.
const DefaultFrameGap = 25 * time.Millisecond

// Decoder assembles the edges of D0 (line 0) and D1 (line 1) into frames;
// the package documentation lists its rules. It does no I/O and reads no
// clock: the caller reports silence with End. The zero value is ready to
// use with DefaultFrameGap. A Decoder is not safe for concurrent use.
type Decoder struct {
	// FrameGap is the silence that ends a frame. Zero means
	// DefaultFrameGap.
	FrameGap time.Duration

	bits    uint64
	n       int       // bits in the current frame
	last    time.Time // time of the latest bit
	overlap bool      // the current frame had overlapping pulses
	discard bool      // a burst was cut off as too long: ignore bits until silence
	low     [2]bool   // the line's level is low, as last reported
	rises   [2]bool   // the source reports rising edges of the line
}

func (d *Decoder) gap() time.Duration {
	if d.FrameGap > 0 {
		return d.FrameGap
	}
	return DefaultFrameGap
}

// Edge feeds one edge. It returns a frame when one ended: the frame before
// this edge's bit when the bit came FrameGap or more after the previous
// one, or a burst cut off at MaxBits+1 bits. Edges of other lines than 0
// and 1 are ignored.
func (d *Decoder) Edge(e gpiopair.Edge) (f Frame, ok bool) {
	if e.Line != 0 && e.Line != 1 {
		return Frame{}, false
	}
	if e.Level == gpio.High {
		d.low[e.Line] = false
		d.rises[e.Line] = true
		return Frame{}, false
	}
	if (d.n > 0 || d.discard) && e.At.Sub(d.last) >= d.gap() {
		f, ok = d.End()
	}
	other := 1 - e.Line
	overlap := d.rises[other] && d.low[other]
	d.low[e.Line] = true
	if e.At.After(d.last) {
		d.last = e.At
	}
	if d.discard {
		return f, ok
	}
	d.overlap = d.overlap || overlap
	d.n++
	if d.n > MaxBits {
		cut := Frame{Len: d.n, Overlap: d.overlap}
		d.reset()
		d.discard = true
		return cut, true // the frame before was not pending: n would be 1
	}
	d.bits = d.bits<<1 | uint64(e.Line)
	return f, ok
}

// End ends the current frame, for a caller that saw no edge for FrameGap,
// and returns it; ok is false when no frame was in progress.
func (d *Decoder) End() (f Frame, ok bool) {
	if d.discard {
		d.discard = false
		return Frame{}, false
	}
	if d.n == 0 {
		return Frame{}, false
	}
	f = Frame{Bits: d.bits, Len: d.n, Overlap: d.overlap}
	d.reset()
	return f, true
}

// Deadline returns when the current frame ends if no further bit arrives:
// FrameGap after the latest bit. ok is false when no frame is in progress.
func (d *Decoder) Deadline() (t time.Time, ok bool) {
	if d.n == 0 && !d.discard {
		return time.Time{}, false
	}
	return d.last.Add(d.gap()), true
}

func (d *Decoder) reset() {
	d.bits, d.n, d.overlap = 0, 0, false
}
