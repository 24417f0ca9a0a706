package mfrc522

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/mfrc522/mfrc522test"
	"github.com/redcarpet-retail/redcarpet/edge"
)

var (
	uid4  = []byte{0xDE, 0xAD, 0xBE, 0xEF}
	uid7  = []byte{0x04, 0xA2, 0x2C, 0x6A, 0x8B, 0x5C, 0x80}
	uid10 = []byte{0x04, 0xA2, 0x2C, 0x6A, 0x8B, 0x5C, 0x80, 0x11, 0x22, 0x33}
)

// rig is a Reader running periph's driver against an emulated chip, its IRQ
// line on a gpiotest.Pin. Build it inside a synctest bubble: the pin's
// default clock (clockwork's real clock, that is time.After) and periph's
// own timers then run on the bubble's fake time.
type rig struct {
	t     *testing.T
	chip  *mfrc522test.Chip
	irq   *gpiotest.Pin
	reset *gpiotest.Pin
	meter *drivers.Meter
	r     *Reader
	out   chan edge.Event
	done  chan error // Run's result

	cancel   context.CancelFunc
	waitOnce sync.Once
	runErr   error
}

// rigOpts are options for newRig.
type rigOpts struct {
	opts   Opts
	out    chan edge.Event                // default: buffered, so Run never waits
	wrap   func(*gpiotest.Pin) gpio.PinIn // how New gets the IRQ pin
	noRun  bool                           // do not start Run
	before func(*mfrc522test.Chip)        // set the chip up before New
}

func newRig(t *testing.T, ro rigOpts) *rig {
	t.Helper()
	g := &rig{
		t:     t,
		irq:   &gpiotest.Pin{N: "GPIO24", Num: 24, EdgesChan: make(chan gpio.Level, 1)},
		reset: &gpiotest.Pin{N: "GPIO25", Num: 25},
		meter: drivers.NewMeter(),
		out:   ro.out,
		done:  make(chan error, 1),
	}
	if g.out == nil {
		g.out = make(chan edge.Event, 16)
	}
	g.chip = mfrc522test.NewChip(g.irq)
	if ro.before != nil {
		ro.before(g.chip)
	}
	o := ro.opts
	if o.Name == "" {
		o.Name = "front-door"
	}
	o.Meter = g.meter
	var irq gpio.PinIn = g.irq
	if ro.wrap != nil {
		irq = ro.wrap(g.irq)
	}
	r, err := New(g.chip, g.reset, irq, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.r = r
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	if !ro.noRun {
		go func() { g.done <- r.Run(ctx, g.out) }()
	}
	t.Cleanup(func() {
		if !ro.noRun {
			if err := g.stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return g
}

// events returns the events sent so far, once every goroutine of the
// bubble is blocked.
func (g *rig) events() []edge.Event {
	g.t.Helper()
	synctest.Wait()
	var evs []edge.Event
	for {
		select {
		case ev := <-g.out:
			if err := ev.Validate(); err != nil {
				g.t.Errorf("invalid event: %v", err)
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// wait returns Run's result, waiting for it the first time.
func (g *rig) wait() error {
	g.waitOnce.Do(func() { g.runErr = <-g.done })
	return g.runErr
}

// stop cancels Run's context and returns Run's result.
func (g *rig) stop() error {
	g.cancel()
	return g.wait()
}

func (g *rig) rejects() map[string]uint64 { return g.meter.Stats().Rejected }

func TestCardSizes(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		uid    []byte
		want   []byte // nil: no event
		reject string // "": none
	}{
		{"single size", uid4, uid4, ""},
		{"double size, cascade level 2", uid7, uid7, ""},
		{"triple size, beyond periph", uid10, nil, drivers.RejectFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newRig(t, rigOpts{opts: Opts{Now: func() time.Time { return at }}})
				g.chip.Present(c.uid)
				time.Sleep(time.Second)
				evs := g.events()
				switch {
				case c.want == nil && len(evs) != 0:
					t.Fatalf("%d events, want none", len(evs))
				case c.want != nil && len(evs) != 1:
					t.Fatalf("%d events, want 1", len(evs))
				case c.want != nil:
					ev := evs[0]
					if ev.Kind != edge.KindCardRead || ev.Source != "front-door" || !ev.Time.Equal(at) {
						t.Errorf("event %s from %q at %s, want %s from front-door at %s", ev.Kind, ev.Source, ev.Time, edge.KindCardRead, at)
					}
					if !bytes.Equal(ev.Card.UID, c.want) {
						t.Errorf("UID % X, want % X", ev.Card.UID, c.want)
					}
				}
				rej := g.rejects()
				if c.reject == "" && len(rej) != 0 {
					t.Errorf("rejects %v, want none", rej)
				}
				if c.reject != "" && rej[c.reject] == 0 {
					t.Errorf("rejects %v, want %s", rej, c.reject)
				}
				if g.chip.Stats().Edges == 0 {
					t.Error("the chip never raised IRQ")
				}
			})
		})
	}
}

// TestRestingCard checks the debounce: a card resting on the reader is read
// on every attempt and reported once, a card lifted briefly is the same
// presentation, a card gone for longer than Debounce a new one.
func TestRestingCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, rigOpts{})
		start := time.Now()
		g.chip.Present(uid4)
		time.Sleep(5 * time.Second)
		evs := g.events()
		if len(evs) != 1 {
			t.Fatalf("%d events while the card rested, want 1", len(evs))
		}
		if !bytes.Equal(evs[0].Card.UID, uid4) {
			t.Errorf("UID % X, want % X", evs[0].Card.UID, uid4)
		}
		if d := evs[0].Time.Sub(start); d < 0 || d > DefaultOpts.PollTimeout {
			t.Errorf("event at start+%s", d)
		}
		// One read per Rest (250 ms): about 20 in 5 s.
		if n := g.chip.Stats().UIDs; n < 15 || n > 21 {
			t.Errorf("the card was read %d times in 5 s, want about 20", n)
		}

		g.chip.Remove()
		time.Sleep(800 * time.Millisecond) // shorter than Debounce
		g.chip.Present(uid4)
		time.Sleep(2 * time.Second)
		if evs := g.events(); len(evs) != 0 {
			t.Errorf("%d events after lifting the card for 0.8 s, want none", len(evs))
		}

		g.chip.Remove()
		time.Sleep(3 * time.Second) // longer than Debounce
		if evs := g.events(); len(evs) != 0 {
			t.Errorf("%d events with no card, want none", len(evs))
		}
		g.chip.Present(uid4)
		time.Sleep(time.Second)
		evs = g.events()
		if len(evs) != 1 || !bytes.Equal(evs[0].Card.UID, uid4) {
			t.Errorf("%d events when the card came back after 3 s, want one with its UID", len(evs))
		}
		if rej := g.rejects(); len(rej) != 0 {
			t.Errorf("rejects %v, want none", rej)
		}
	})
}

func TestNoCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, rigOpts{})
		time.Sleep(10 * time.Second)
		if evs := g.events(); len(evs) != 0 {
			t.Errorf("%d events, want none", len(evs))
		}
		if rej := g.rejects(); len(rej) != 0 {
			t.Errorf("rejects %v, want none: no card is not an error", rej)
		}
		// One attempt per PollTimeout (each starts with a soft reset), a
		// REQA every 100 ms within it.
		s := g.chip.Stats()
		if s.SoftResets < 12 || s.SoftResets > 15 {
			t.Errorf("%d attempts in 10 s, want one per 750 ms", s.SoftResets)
		}
		if s.Requests != 0 {
			t.Errorf("%d REQA counted by a card that is not there", s.Requests)
		}
	})
}

// TestFailedReads checks that garbled exchanges are counted and not
// reported, that the loop backs off instead of spinning, and that reading
// resumes when the card reads cleanly again.
func TestFailedReads(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault mfrc522test.Fault
		want  string // reject reason; "": none
	}{
		{"wrong BCC (periph: CRC mismatch)", mfrc522test.FaultBCC, drivers.RejectFraming},
		{"parity error (periph: wrong number of bits)", mfrc522test.FaultParity, drivers.RejectFraming},
		{"card falls silent (periph: IRQ error)", mfrc522test.FaultMute, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newRig(t, rigOpts{})
				g.chip.SetFault(c.fault)
				g.chip.Present(uid4)
				time.Sleep(10 * time.Second)
				if evs := g.events(); len(evs) != 0 {
					t.Errorf("%d events from failed reads, want none", len(evs))
				}
				rej := g.rejects()
				if c.want == "" && len(rej) != 0 {
					t.Errorf("rejects %v, want none", rej)
				}
				if c.want != "" && (rej[c.want] < 5 || len(rej) != 1) {
					t.Errorf("rejects %v, want several %s", rej, c.want)
				}
				// Backing off from 50 ms to 1 s: about 14 attempts in 10 s.
				if n := g.chip.Stats().SoftResets / 2; n > 20 {
					t.Errorf("%d attempts in 10 s: the loop does not back off", n)
				}

				g.chip.SetFault(mfrc522test.FaultNone)
				time.Sleep(2 * time.Second)
				if evs := g.events(); len(evs) != 1 {
					t.Errorf("%d events once the card reads cleanly, want 1", len(evs))
				}
			})
		})
	}
}

// TestStop checks every way Run ends: it returns nil soon, the chip is
// halted exactly once, and Close may be called again.
func TestStop(t *testing.T) {
	for _, c := range []struct {
		name    string
		card    bool // a card rests on the reader
		blocked bool // nobody receives Run's events
		close   bool // Close instead of cancelling the context
	}{
		{"cancel while waiting for a card", false, false, false},
		{"cancel while sending", true, true, false},
		{"Close while waiting for a card", false, false, true},
		{"Close while sending", true, true, true},
		{"cancel while resting", true, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ro := rigOpts{}
				if c.blocked {
					ro.out = make(chan edge.Event)
				}
				g := newRig(t, ro)
				if c.card {
					g.chip.Present(uid4)
				}
				time.Sleep(100 * time.Millisecond)
				synctest.Wait()
				t0 := time.Now()
				if c.close {
					if err := g.r.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				} else {
					g.cancel()
				}
				if err := g.wait(); err != nil {
					t.Errorf("Run: %v", err)
				}
				if d := time.Since(t0); d > DefaultOpts.PollTimeout {
					t.Errorf("Run returned %s after the stop, want at most PollTimeout", d)
				}
				for range 2 {
					if err := g.r.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
				if n := g.chip.Stats().PowerDowns; n != 1 {
					t.Errorf("chip halted %d times, want once", n)
				}
				if err := g.r.Run(context.Background(), g.out); !errors.Is(err, ErrRunning) {
					t.Errorf("second Run: %v, want ErrRunning", err)
				}
			})
		})
	}
}

func TestCloseBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, rigOpts{noRun: true})
		if err := g.r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := g.r.Run(context.Background(), g.out); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Close: %v, want ErrClosed", err)
		}
		if n := g.chip.Stats().PowerDowns; n != 1 {
			t.Errorf("chip halted %d times, want once", n)
		}
	})
}

// TestBusFailure runs outside a synctest bubble: periph's ReadUID leaks
// the goroutine waiting for IRQ when a transfer fails while it waits for a
// card (it returns without receiving that goroutine's result), and a
// bubble must end with no goroutine left.
func TestBusFailure(t *testing.T) {
	irq := &gpiotest.Pin{N: "GPIO24", EdgesChan: make(chan gpio.Level, 1)}
	chip := mfrc522test.NewChip(irq)
	meter := drivers.NewMeter()
	o := Opts{PollTimeout: 20 * time.Millisecond, Rest: 10 * time.Millisecond, Meter: meter}
	r, err := New(chip, &gpiotest.Pin{N: "GPIO25"}, irq, &o)
	if err != nil {
		t.Fatal(err)
	}
	chip.SetFault(mfrc522test.FaultBus)
	err = r.Run(context.Background(), make(chan edge.Event, 1))
	if !errors.Is(err, mfrc522test.ErrBus) || !strings.HasPrefix(err.Error(), "mfrc522 on mfrc522test: ") {
		t.Errorf("Run: %v, want the bus error, naming the port", err)
	}
	if rej := meter.Stats().Rejected; len(rej) != 0 {
		t.Errorf("rejects %v: a bus failure is not a card's", rej)
	}
	if err := r.Close(); !errors.Is(err, mfrc522test.ErrBus) {
		t.Errorf("Close: %v, want the halt's bus error", err)
	}
}
