package wiegand_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/wiegand"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Typical reader timing: 50 µs pulses 2 ms apart.
const (
	pulseWidth = 50 * time.Microsecond
	interval   = 2 * time.Millisecond
)

// rig is a Reader running on two gpiotest pins, D0 and D1, inside a
// synctest bubble.
type rig struct {
	t      *testing.T
	d0, d1 *gpiotest.Pin
	edge   gpio.Edge // the source's edge detection
	meter  *drivers.Meter
	out    chan edge.Event
	done   chan error
	cancel context.CancelFunc
	src    gpiopair.Source
}

var epoch = time.Date(2025, 6, 13, 9, 0, 0, 0, time.UTC)

// start runs a Reader with opts (Name, Meter and Now set here) over pins
// opened with edge detection e. It must be called inside a bubble.
func start(t *testing.T, opts wiegand.Opts, e gpio.Edge) *rig {
	t.Helper()
	// The real clockwork clock calls time.After, which follows the bubble.
	d0 := &gpiotest.Pin{N: "GPIO5", Num: 5, EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	d1 := &gpiotest.Pin{N: "GPIO6", Num: 6, EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	src, err := gpiopair.FromPins(d0, d1, gpio.PullUp, e)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, d0: d0, d1: d1, edge: e, meter: drivers.NewMeter(), out: make(chan edge.Event, 16), done: make(chan error, 1), src: src}
	opts.Name = "lane-1-rfid"
	opts.Meter = r.meter
	began := time.Now()
	opts.Now = func() time.Time { return epoch.Add(time.Since(began)) }
	rd, err := wiegand.New(src, &opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r.cancel = cancel
	go func() { r.done <- rd.Run(ctx, r.out) }()
	return r
}

// stop cancels Run, checks it returned nil and closes the source.
func (r *rig) stop() {
	r.t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Errorf("Run after cancel = %v, want nil", err)
	}
	if err := r.src.Close(); err != nil {
		r.t.Errorf("Close: %v", err)
	}
}

// pulse sends one bit as the reader does: the line low for pulseWidth.
func (r *rig) pulse(bit uint64) {
	p := r.d0
	if bit == 1 {
		p = r.d1
	}
	p.EdgesChan <- gpio.Low
	time.Sleep(pulseWidth)
	if r.edge == gpio.BothEdges {
		p.EdgesChan <- gpio.High
	} else {
		_ = p.Out(gpio.High) // back to idle; a falling-edge line reports nothing
	}
}

// send transmits the n first bits of f, one pulse per every.
func (r *rig) sendBits(f wiegand.Frame, n int, every time.Duration) {
	for i := f.Len - 1; i >= f.Len-n; i-- {
		r.pulse(f.Bits >> i & 1)
		time.Sleep(every - pulseWidth)
	}
}

func (r *rig) send(f wiegand.Frame) { r.sendBits(f, f.Len, interval) }

// settle lets the lines stay idle past the frame gap and returns the
// events sent so far.
func (r *rig) settle() []edge.Event {
	time.Sleep(wiegand.DefaultFrameGap + time.Millisecond)
	synctest.Wait()
	var evs []edge.Event
	for {
		select {
		case ev := <-r.out:
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

func (r *rig) wantRejects(want map[string]uint64) {
	r.t.Helper()
	if got := r.meter.Stats().Rejected; !maps.Equal(got, want) {
		r.t.Errorf("rejected %v, want %v", got, want)
	}
}

func wantCards(t *testing.T, evs []edge.Event, uids ...[]byte) {
	t.Helper()
	if len(evs) != len(uids) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(uids), evs)
	}
	for i, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
		if ev.Kind != edge.KindCardRead || ev.Source != "lane-1-rfid" || !bytes.Equal(ev.Card.UID, uids[i]) {
			t.Errorf("event %d = %s from %s, card % X; want card.read from lane-1-rfid, card % X", i, ev.Kind, ev.Source, ev.Card.UID, uids[i])
		}
	}
}

func TestReaderFormats(t *testing.T) {
	for _, e := range []gpio.Edge{gpio.BothEdges, gpio.FallingEdge} {
		t.Run(e.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := start(t, wiegand.Opts{}, e)
				defer r.stop()
				r.send(wiegand.Encode26(123, 4567))
				evs := r.settle()
				wantCards(t, evs, []byte{123, 0x11, 0xD7})
				// The frame takes 26 × 2 ms; the event comes once the lines
				// stayed idle for the frame gap after the last pulse.
				if want := epoch.Add(26*interval - interval + pulseWidth + wiegand.DefaultFrameGap); len(evs) == 1 && evs[0].Time.Sub(want).Abs() > interval {
					t.Errorf("event at %v, want about %v", evs[0].Time, want)
				}
				r.send(wiegand.Encode34(0x00BC614E))
				wantCards(t, r.settle(), []byte{0x00, 0xBC, 0x61, 0x4E})
				r.wantRejects(map[string]uint64{})
			})
		})
	}
}

func TestReaderRejects(t *testing.T) {
	w26 := wiegand.Encode26(123, 4567)
	w34 := wiegand.Encode34(0x12345678)
	for _, tc := range []struct {
		name string
		send func(r *rig)
		want map[string]uint64
	}{
		{"26 bits, even parity flipped", func(r *rig) { r.send(wiegand.Frame{Bits: w26.Bits ^ 1<<25, Len: 26}) },
			map[string]uint64{drivers.RejectParity: 1}},
		{"26 bits, card number bit flipped", func(r *rig) { r.send(wiegand.Frame{Bits: w26.Bits ^ 1<<3, Len: 26}) },
			map[string]uint64{drivers.RejectParity: 1}},
		{"34 bits, odd parity flipped", func(r *rig) { r.send(wiegand.Frame{Bits: w34.Bits ^ 1, Len: 34}) },
			map[string]uint64{drivers.RejectParity: 1}},
		{"25 bits", func(r *rig) { r.sendBits(w26, 25, interval) },
			map[string]uint64{drivers.RejectBits: 1}},
		{"27 bits", func(r *rig) { r.send(wiegand.Frame{Bits: w26.Bits<<1 | 1, Len: 27}) },
			map[string]uint64{drivers.RejectBits: 1}},
		{"frame cut by a 30 ms pause after bit 10", func(r *rig) {
			r.sendBits(w26, 10, interval)
			time.Sleep(30 * time.Millisecond)
			r.send(wiegand.Frame{Bits: w26.Bits, Len: 16}) // bits 11 to 26
		}, map[string]uint64{drivers.RejectBits: 2}},
		{"overlapping pulses", func(r *rig) {
			r.sendBits(w26, 5, interval)
			r.d0.EdgesChan <- gpio.Low
			r.d1.EdgesChan <- gpio.Low // D1 falls while D0 is still low
			time.Sleep(pulseWidth)
			r.d0.EdgesChan <- gpio.High
			r.d1.EdgesChan <- gpio.High
			time.Sleep(interval)
			r.send(wiegand.Frame{Bits: w26.Bits, Len: 19})
		}, map[string]uint64{drivers.RejectFraming: 1}},
		{"noise: 200 pulses 1 ms apart", func(r *rig) {
			r.sendBits(wiegand.Frame{Bits: 0x5555555555555555, Len: 64}, 64, time.Millisecond)
			r.sendBits(wiegand.Frame{Bits: 0x5555555555555555, Len: 64}, 64, time.Millisecond)
			r.sendBits(wiegand.Frame{Bits: 0x5555555555555555, Len: 64}, 64, time.Millisecond)
			r.sendBits(wiegand.Frame{Bits: 0x5555, Len: 8}, 8, time.Millisecond)
		}, map[string]uint64{drivers.RejectBits: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := start(t, wiegand.Opts{}, gpio.BothEdges)
				defer r.stop()
				tc.send(r)
				if evs := r.settle(); len(evs) != 0 {
					t.Errorf("events %+v, want none", evs)
				}
				r.wantRejects(tc.want)
				// The reader recovers: the next good frame is read.
				r.send(w26)
				wantCards(t, r.settle(), []byte{123, 0x11, 0xD7})
			})
		})
	}
}

// Pulses 20 ms apart (SIA's longest interval) stay one frame with the
// default 25 ms gap.
func TestReaderSlowPulses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, wiegand.Opts{}, gpio.FallingEdge)
		defer r.stop()
		r.sendBits(wiegand.Encode26(123, 4567), 26, 20*time.Millisecond)
		wantCards(t, r.settle(), []byte{123, 0x11, 0xD7})
		r.wantRejects(map[string]uint64{})
	})
}

func TestReaderCardsInQuickSuccession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, wiegand.Opts{}, gpio.FallingEdge)
		defer r.stop()
		// Two cards, the second 30 ms after the first (more than the gap).
		r.send(wiegand.Encode26(123, 4567))
		time.Sleep(30 * time.Millisecond)
		r.send(wiegand.Encode26(123, 4568))
		wantCards(t, r.settle(), []byte{123, 0x11, 0xD7}, []byte{123, 0x11, 0xD8})
		r.wantRejects(map[string]uint64{})
	})
}

// A reader repeating a resting card is reported once per presentation.
func TestReaderDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, wiegand.Opts{}, gpio.FallingEdge)
		defer r.stop()
		card := wiegand.Encode34(0x00BC614E)
		for range 4 { // repeated every 250 ms while the card rests
			r.send(card)
			time.Sleep(250*time.Millisecond - 34*interval)
		}
		wantCards(t, r.settle(), []byte{0x00, 0xBC, 0x61, 0x4E})
		time.Sleep(1500 * time.Millisecond) // taken away, presented again
		r.send(card)
		wantCards(t, r.settle(), []byte{0x00, 0xBC, 0x61, 0x4E})
	})
}

func TestReaderDebounceDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, wiegand.Opts{Debounce: -1}, gpio.FallingEdge)
		defer r.stop()
		r.send(wiegand.Encode26(1, 2))
		time.Sleep(100 * time.Millisecond)
		r.send(wiegand.Encode26(1, 2))
		wantCards(t, r.settle(), []byte{1, 0, 2}, []byte{1, 0, 2})
	})
}

func TestReaderFrameGapOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, wiegand.Opts{FrameGap: 5 * time.Millisecond}, gpio.FallingEdge)
		defer r.stop()
		// 10 ms between pulses is two frame gaps: every bit is a frame.
		r.sendBits(wiegand.Encode26(123, 4567), 3, 10*time.Millisecond)
		r.settle()
		r.wantRejects(map[string]uint64{drivers.RejectBits: 3})
	})
}

// A source that fails ends Run with its error.
func TestReaderSourceFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, wiegand.Opts{}, gpio.FallingEdge)
		r.sendBits(wiegand.Encode26(123, 4567), 5, interval)
		if err := r.src.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-r.done; !errors.Is(err, gpiopair.ErrClosed) {
			t.Errorf("Run = %v, want the source's ErrClosed", err)
		}
		r.cancel()
	})
}

func TestNewErrors(t *testing.T) {
	if _, err := wiegand.New(nil, nil); err == nil {
		t.Error("New(nil source): no error")
	}
	synctest.Test(t, func(t *testing.T) {
		d0 := &gpiotest.Pin{N: "D0", EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
		d1 := &gpiotest.Pin{N: "D1", EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
		src, err := gpiopair.FromPins(d0, d1, gpio.PullUp, gpio.FallingEdge)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if _, err := wiegand.New(src, &wiegand.Opts{FrameGap: -time.Millisecond}); err == nil {
			t.Error("negative frame gap: no error")
		}
		if _, err := wiegand.New(src, nil); err != nil {
			t.Errorf("New with default options: %v", err)
		}
	})
}
