package gpiopair_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
)

// newPin returns a gpiotest pin whose edges the test sends on EdgesChan.
// The real clockwork clock calls time.After, which follows the synctest
// bubble of the calling goroutine; a clockwork fake clock would not.
func newPin(name string) *gpiotest.Pin {
	return &gpiotest.Pin{N: name, EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
}

func openPins(t *testing.T, pull gpio.Pull, edge gpio.Edge) (a, b *gpiotest.Pin, src gpiopair.Source) {
	t.Helper()
	a, b = newPin("GPIO17"), newPin("GPIO27")
	src, err := gpiopair.FromPins(a, b, pull, edge)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a, b, src
}

func next(t *testing.T, src gpiopair.Source, timeout time.Duration) gpiopair.Edge {
	t.Helper()
	e, err := src.Next(t.Context(), timeout)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return e
}

func TestFromPinsFallingEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, src := openPins(t, gpio.PullUp, gpio.FallingEdge)
		t0 := time.Now()
		// A Wiegand-like pulse train: a falling edge is reported, the
		// return to idle is not (Out sets the level without an edge).
		for i, p := range []*gpiotest.Pin{a, b, b, a} {
			p.EdgesChan <- gpio.Low
			time.Sleep(50 * time.Microsecond)
			_ = p.Out(gpio.High)
			time.Sleep(2*time.Millisecond - 50*time.Microsecond)
			_ = i
		}
		want := []int{0, 1, 1, 0}
		for i, line := range want {
			e := next(t, src, 0)
			if e.Line != line || e.Level != gpio.Low {
				t.Errorf("edge %d = line %d %s, want line %d Low", i, e.Line, e.Level, line)
			}
			if at := t0.Add(time.Duration(i) * 2 * time.Millisecond); !e.At.Equal(at) {
				t.Errorf("edge %d at %v, want %v", i, e.At.Sub(t0), at.Sub(t0))
			}
		}
		if _, err := src.Next(t.Context(), 0); !errors.Is(err, gpiopair.ErrTimeout) {
			t.Errorf("Next on an empty queue = %v, want ErrTimeout", err)
		}
	})
}

func TestFromPinsBothEdgesReportsLevels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newPin("A"), newPin("B")
		a.L, b.L = gpio.High, gpio.Low // Float keeps these
		src, err := gpiopair.FromPins(a, b, gpio.Float, gpio.BothEdges)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		// The levels at start come first.
		for _, want := range []gpiopair.Edge{{Line: 0, Level: gpio.High}, {Line: 1, Level: gpio.Low}} {
			if e := next(t, src, 0); e.Line != want.Line || e.Level != want.Level {
				t.Errorf("initial %+v, want line %d %s", e, want.Line, want.Level)
			}
		}
		b.EdgesChan <- gpio.High
		time.Sleep(30 * time.Millisecond)
		a.EdgesChan <- gpio.Low
		for _, want := range []gpiopair.Edge{{Line: 1, Level: gpio.High}, {Line: 0, Level: gpio.Low}} {
			if e := next(t, src, -1); e.Line != want.Line || e.Level != want.Level {
				t.Errorf("got line %d %s, want line %d %s", e.Line, e.Level, want.Line, want.Level)
			}
		}
	})
}

func TestNextTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _, src := openPins(t, gpio.PullUp, gpio.FallingEdge)
		t0 := time.Now()
		if _, err := src.Next(t.Context(), 0); !errors.Is(err, gpiopair.ErrTimeout) || time.Since(t0) != 0 {
			t.Errorf("Next(0) = %v after %v, want ErrTimeout at once", err, time.Since(t0))
		}
		if _, err := src.Next(t.Context(), 25*time.Millisecond); !errors.Is(err, gpiopair.ErrTimeout) || time.Since(t0) != 25*time.Millisecond {
			t.Errorf("Next(25ms) = %v after %v, want ErrTimeout after 25ms", err, time.Since(t0))
		}
		// A negative timeout waits as long as it takes.
		go func() {
			time.Sleep(time.Hour)
			a.EdgesChan <- gpio.Low
		}()
		e := next(t, src, -1)
		if got := e.At.Sub(t0); got != time.Hour+25*time.Millisecond {
			t.Errorf("edge after %v, want 1h0.025s", got)
		}
	})
}

func TestNextContextAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, src := openPins(t, gpio.PullUp, gpio.FallingEdge)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := src.Next(ctx, -1); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next with an expiring context = %v, want context.DeadlineExceeded", err)
		}
		done := make(chan error)
		go func() {
			_, err := src.Next(t.Context(), -1)
			done <- err
		}()
		time.Sleep(time.Minute)
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, gpiopair.ErrClosed) {
			t.Errorf("pending Next after Close = %v, want ErrClosed", err)
		}
		if _, err := src.Next(t.Context(), 0); !errors.Is(err, gpiopair.ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	})
}

// The order and times of edges from two lines follow their arrival, and At
// never decreases.
func TestFromPinsInterleaved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, src := openPins(t, gpio.PullDown, gpio.BothEdges)
		next(t, src, 0) // initial levels
		next(t, src, 0)
		t0 := time.Now()
		seq := []struct {
			p    *gpiotest.Pin
			l    gpio.Level
			line int
		}{{a, gpio.High, 0}, {b, gpio.High, 1}, {a, gpio.Low, 0}, {b, gpio.Low, 1}, {b, gpio.High, 1}, {a, gpio.High, 0}}
		for _, s := range seq {
			s.p.EdgesChan <- s.l
			time.Sleep(time.Millisecond)
		}
		prev := time.Time{}
		for i, s := range seq {
			e := next(t, src, 0)
			if e.Line != s.line || e.Level != s.l {
				t.Errorf("edge %d = line %d %s, want line %d %s", i, e.Line, e.Level, s.line, s.l)
			}
			if e.At.Before(prev) || e.At.Sub(t0) != time.Duration(i)*time.Millisecond {
				t.Errorf("edge %d at %v", i, e.At.Sub(t0))
			}
			prev = e.At
		}
	})
}

// failingPin is a pin whose driver fails: WaitForEdge returns false at
// once, as gpioioctl and bcm283x do on errors.
type failingPin struct {
	gpiotest.Pin
	waits atomic.Int64
}

func (p *failingPin) WaitForEdge(time.Duration) bool {
	p.waits.Add(1)
	return false
}

func TestFromPinsDoesNotSpinOnAFailingPin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &failingPin{Pin: gpiotest.Pin{N: "A", EdgesChan: make(chan gpio.Level)}}
		src, err := gpiopair.FromPins(a, newPin("B"), gpio.PullUp, gpio.FallingEdge)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
		// One wait per 250 ms poll interval, not millions.
		if n := a.waits.Load(); n > 41 {
			t.Errorf("%d waits in 10s", n)
		}
	})
}

func TestFromPinsErrors(t *testing.T) {
	noEdges := &gpiotest.Pin{N: "NOEDGES"} // In with an edge needs EdgesChan
	for _, tc := range []struct {
		name string
		a, b gpio.PinIn
		edge gpio.Edge
		want string
	}{
		{"nil pin", nil, newPin("B"), gpio.FallingEdge, "nil pin"},
		{"same pin", newPin("A"), newPin("A"), gpio.FallingEdge, "A given for both lines"},
		{"no edge", newPin("A"), newPin("B"), gpio.NoEdge, "edge detection required"},
		{"In fails", newPin("A"), noEdges, gpio.FallingEdge, "set up NOEDGES as input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := gpiopair.FromPins(tc.a, tc.b, gpio.PullUp, tc.edge)
			if err == nil {
				src.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
