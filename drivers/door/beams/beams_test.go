package beams_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/door/beams"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// rig is a Counter running on two gpiotest pins, beam A and beam B, inside
// a synctest bubble.
type rig struct {
	t      *testing.T
	a, b   *gpiotest.Pin
	broken gpio.Level
	meter  *drivers.Meter
	out    chan edge.Event
	done   chan error
	cancel context.CancelFunc
	src    gpiopair.Source
}

var epoch = time.Date(2025, 6, 13, 9, 0, 0, 0, time.UTC)

// start runs a Counter with opts (Name, Meter and Now set here). Both beams
// are clear unless listed in brokenAtStart. It must be called inside a
// bubble.
func start(t *testing.T, opts beams.Opts, brokenAtStart ...string) *rig {
	t.Helper()
	broken := gpio.High
	if opts.BrokenLevel == beams.BrokenLow {
		broken = gpio.Low
	}
	// The real clockwork clock calls time.After, which follows the bubble.
	// Float keeps the levels set here (push-pull sensor outputs).
	a := &gpiotest.Pin{N: "GPIO17", Num: 17, L: !broken, EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	b := &gpiotest.Pin{N: "GPIO27", Num: 27, L: !broken, EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	for _, name := range brokenAtStart {
		map[string]*gpiotest.Pin{"A": a, "B": b}[name].L = broken
	}
	src, err := gpiopair.FromPins(a, b, gpio.Float, gpio.BothEdges)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, a: a, b: b, broken: broken, meter: drivers.NewMeter(), out: make(chan edge.Event, 16), done: make(chan error, 1), src: src}
	opts.Name = "main-door-beams"
	opts.Meter = r.meter
	began := time.Now()
	opts.Now = func() time.Time { return epoch.Add(time.Since(began)) }
	c, err := beams.New(src, &opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r.cancel = cancel
	go func() { r.done <- c.Run(ctx, r.out) }()
	return r
}

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

// do plays a script: "A+" breaks beam A, "B-" clears beam B, a duration
// lets that much time pass.
func (r *rig) do(script ...any) {
	r.t.Helper()
	for _, s := range script {
		switch s := s.(type) {
		case time.Duration:
			time.Sleep(s)
		case string:
			p := map[byte]*gpiotest.Pin{'A': r.a, 'B': r.b}[s[0]]
			if p == nil || len(s) != 2 || (s[1] != '+' && s[1] != '-') {
				r.t.Fatalf("bad step %q", s)
			}
			l := r.broken
			if s[1] == '-' {
				l = !l
			}
			p.EdgesChan <- l
		}
	}
}

// settle lets the beams rest beyond the debounce and returns the events
// sent so far, crossings as "in"/"out" and statuses as "state: detail".
func (r *rig) settle() []string {
	time.Sleep(100 * time.Millisecond)
	synctest.Wait()
	var got []string
	for {
		select {
		case ev := <-r.out:
			if err := ev.Validate(); err != nil {
				r.t.Errorf("invalid event %+v: %v", ev, err)
			}
			if ev.Source != "main-door-beams" {
				r.t.Errorf("event from %q", ev.Source)
			}
			switch ev.Kind {
			case edge.KindDoorCrossing:
				if ev.Crossing.Count != 1 {
					r.t.Errorf("crossing of %d people", ev.Crossing.Count)
				}
				got = append(got, string(ev.Crossing.Dir))
			case edge.KindDeviceStatus:
				if d := ev.Device; d.Device != "main-door-beams" || d.Kind != "ir_beams" {
					r.t.Errorf("status of device %q kind %q", d.Device, d.Kind)
				}
				got = append(got, string(ev.Device.State)+": "+ev.Device.Detail)
			default:
				r.t.Errorf("event of kind %s", ev.Kind)
			}
		default:
			return got
		}
	}
}

func (r *rig) want(want ...string) {
	r.t.Helper()
	if got := r.settle(); !slices.Equal(got, want) {
		r.t.Errorf("events %q, want %q", got, want)
	}
}

func (r *rig) wantRejects(want map[string]uint64) {
	r.t.Helper()
	if got := r.meter.Stats().Rejected; !maps.Equal(got, want) {
		r.t.Errorf("rejected %v, want %v", got, want)
	}
}

// A person walking at about 1.4 m/s through beams 15 cm apart: each beam
// broken for about 180 ms, overlapping for about 70 ms.
const step = 100 * time.Millisecond

func TestCrossings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   beams.Opts
		script []any
		want   []string
	}{
		{"in", beams.Opts{}, []any{"A+", step, "B+", step, "A-", step, "B-"}, []string{"in"}},
		{"out", beams.Opts{}, []any{"B+", step, "A+", step, "B-", step, "A-"}, []string{"out"}},
		{"in, sensors low while broken", beams.Opts{BrokenLevel: beams.BrokenLow},
			[]any{"A+", step, "B+", step, "A-", step, "B-"}, []string{"in"}},
		{"out, sensors low while broken", beams.Opts{BrokenLevel: beams.BrokenLow},
			[]any{"B+", step, "A+", step, "B-", step, "A-"}, []string{"out"}},
		{"U-turn in A", beams.Opts{}, []any{"A+", 3 * step, "A-"}, nil},
		{"U-turn in B", beams.Opts{}, []any{"B+", 3 * step, "B-"}, nil},
		{"U-turn from outside, into B and back", beams.Opts{},
			[]any{"A+", step, "B+", step, "B-", step, "A-"}, nil},
		{"U-turn from inside, into A and back", beams.Opts{},
			[]any{"B+", step, "A+", step, "A-", step, "B-"}, nil},
		{"hesitating: into B, back, then in", beams.Opts{},
			[]any{"A+", step, "B+", step, "B-", 5 * step, "B+", step, "A-", step, "B-"}, []string{"in"}},
		{"lingering in A for 5 s, then in", beams.Opts{},
			[]any{"A+", 50 * step, "B+", step, "A-", step, "B-"}, []string{"in"}},
		{"two in, the second enters A while the first is still in B", beams.Opts{},
			[]any{"A+", step, "B+", step, "A-", step / 2, "A+", step / 2, "B-", step / 2, "B+", step, "A-", step, "B-"},
			[]string{"in", "in"}},
		{"two out, close behind", beams.Opts{},
			[]any{"B+", step, "A+", step, "B-", step / 2, "B+", step / 2, "A-", step / 2, "A+", step, "B-", step, "A-"},
			[]string{"out", "out"}},
		{"in then out", beams.Opts{},
			[]any{"A+", step, "B+", step, "A-", step, "B-", 10 * step, "B+", step, "A+", step, "B-", step, "A-"},
			[]string{"in", "out"}},
		{"a gap between the beams, within MaxTransit", beams.Opts{},
			[]any{"A+", step, "A-", 5 * step, "B+", step, "B-"}, []string{"in"}},
		{"one beam, then the other after MaxTransit", beams.Opts{},
			[]any{"A+", step, "A-", 25 * step, "B+", step, "B-"}, nil},
		{"gap longer than a shorter MaxTransit", beams.Opts{MaxTransit: 400 * time.Millisecond},
			[]any{"A+", step, "A-", 5 * step, "B+", step, "B-"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := start(t, tc.opts)
				defer r.stop()
				r.do(tc.script...)
				r.want(tc.want...)
				r.wantRejects(map[string]uint64{})
				// Whatever happened, the next crossing counts.
				r.do(20*step, "A+", step, "B+", step, "A-", step, "B-")
				r.want("in")
			})
		})
	}
}

func TestGlitchesShorterThanDebounceAreIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, beams.Opts{})
		defer r.stop()
		const flick = 5 * time.Millisecond
		// Flickers on idle beams.
		r.do("A+", flick, "A-", step, "B+", 15*time.Millisecond, "B-", step)
		r.want()
		// A crossing whose edges bounce, with a flicker of A while in B.
		r.do("A+", flick, "A-", flick, "A+", step, "B+", flick, "B-", flick, "B+", step, "A-", flick, "A+", flick, "A-",
			step/2, "A+", flick, "A-", step/2, "B-", flick, "B+", flick, "B-")
		r.want("in")
		r.wantRejects(map[string]uint64{beams.RejectGlitch: 7})
	})
}

// A flicker longer than the debounce is a real (if brief) break.
func TestDebounceOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, beams.Opts{Debounce: 50 * time.Millisecond})
		defer r.stop()
		const short = 40 * time.Millisecond
		r.do("A+", short, "A-", step, // too short a break
			"A+", step, "B+", short, "B-", step, // too short a break of B
			"B+", step, "B-", short, "B+", step, // too short a clear of B
			"A-", step, "B-")
		r.want("in")
		r.wantRejects(map[string]uint64{beams.RejectGlitch: 3})
	})
}

func TestObstruction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, beams.Opts{})
		defer r.stop()
		t0 := time.Now()
		r.do("A+", 9*time.Second)
		r.want() // not yet
		time.Sleep(time.Second)
		if got := r.settle(); !slices.Equal(got, []string{"degraded: beam A obstructed for 10s"}) {
			t.Errorf("after 10 s: %q", got)
		}
		// People pass through B meanwhile: nothing can be counted.
		r.do(10*step, "B+", 2*step, "B-", 10*step, "B+", 2*step, "B-", 10*step)
		r.want()
		// The obstruction is removed.
		r.do("A-")
		r.want("up: beam A no longer obstructed")
		r.wantRejects(map[string]uint64{beams.RejectAmbiguous: 1})
		if d := time.Since(t0); d < 10*time.Second {
			t.Errorf("the scenario took %v", d)
		}
		r.do("B+", step, "A+", step, "B-", step, "A-")
		r.want("out")
	})
}

func TestObstructionOfBothBeams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, beams.Opts{ObstructedAfter: 5 * time.Second})
		defer r.stop()
		r.do("B+", 5*time.Second)
		r.want("degraded: beam B obstructed for 5s")
		r.do("A+", 5*time.Second)
		r.want("degraded: beams A and B obstructed for 5s")
		r.do("B-")
		r.want("degraded: beam A obstructed for 5s")
		r.do("A-")
		r.want("up: beam A no longer obstructed")
		r.do("A+", step, "B+", step, "A-", step, "B-")
		r.want("in")
	})
}

// A beam already broken when the counter starts is seen: the source
// reports the levels at start.
func TestBrokenAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, beams.Opts{}, "A")
		defer r.stop()
		time.Sleep(10 * time.Second)
		r.want("degraded: beam A obstructed for 10s")
		r.do("A-")
		r.want("up: beam A no longer obstructed")
	})
}

// Both beams breaking at the same instant leave the direction unknown.
func TestSimultaneousBreakCountsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, beams.Opts{})
		defer r.stop()
		r.do("A+", "B+", step, "A-", step, "B-")
		r.want()
		r.wantRejects(map[string]uint64{beams.RejectAmbiguous: 1})
		r.do("A+", step, "B+", step, "A-", step, "B-")
		r.want("in")
	})
}

func TestRunEndsWithTheSourceError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, beams.Opts{})
		r.do("A+", step)
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
	if _, err := beams.New(nil, nil); err == nil {
		t.Error("nil source: no error")
	}
	synctest.Test(t, func(t *testing.T) {
		a := &gpiotest.Pin{N: "A", EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
		b := &gpiotest.Pin{N: "B", EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
		src, err := gpiopair.FromPins(a, b, gpio.PullUp, gpio.BothEdges)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for _, o := range []beams.Opts{
			{Debounce: -time.Millisecond},
			{ObstructedAfter: -time.Second},
			{MaxTransit: -time.Second},
			{BrokenLevel: 7},
		} {
			if _, err := beams.New(src, &o); err == nil {
				t.Errorf("New(%+v): no error", o)
			}
		}
		if _, err := beams.New(src, nil); err != nil {
			t.Errorf("New with default options: %v", err)
		}
	})
}

func TestPolarityString(t *testing.T) {
	if beams.BrokenHigh.String() != "high" || beams.BrokenLow.String() != "low" {
		t.Errorf("polarities: %v, %v", beams.BrokenHigh, beams.BrokenLow)
	}
}
