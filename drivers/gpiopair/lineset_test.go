package gpiopair

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/host/v3/gpioioctl"
)

// The line set source needs a GPIO character device; without one, its
// reading loop runs against fakeSet, which behaves as gpioioctl.LineSet
// does: one event per WaitForEdge, the chip offset of the line, and an
// error wrapping os.ErrDeadlineExceeded on timeout and on Halt.

type event struct {
	number int
	edge   gpio.Edge
	err    error
}

type fakeSet struct {
	events   chan event
	halted   chan struct{}
	halts    atomic.Int32
	released atomic.Int32
}

func newFakeSet() *fakeSet {
	return &fakeSet{events: make(chan event), halted: make(chan struct{}, 1)}
}

func (f *fakeSet) WaitForEdge(timeout time.Duration) (int, gpio.Edge, error) {
	timeoutErr := &fs.PathError{Op: "read", Path: "gpio-lineset", Err: os.ErrDeadlineExceeded}
	select {
	case ev := <-f.events:
		return ev.number, ev.edge, ev.err
	case <-time.After(timeout):
		return 0, gpio.NoEdge, timeoutErr
	case <-f.halted:
		return 0, gpio.NoEdge, timeoutErr
	}
}

func (f *fakeSet) Halt() error {
	f.halts.Add(1)
	select {
	case f.halted <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakeSet) release() error {
	f.released.Add(1)
	return nil
}

func TestLineSetSourceMapsOffsetsAndEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSet()
		src := fromWaiter(f, [2]int{17, 27}, []gpio.Level{gpio.High, gpio.High}, f.release)
		t0 := time.Now()
		go func() {
			for _, ev := range []event{{27, gpio.FallingEdge, nil}, {27, gpio.RisingEdge, nil}, {17, gpio.FallingEdge, nil}} {
				time.Sleep(time.Second) // longer than the poll interval: timeouts are not errors
				f.events <- ev
			}
		}()
		want := []Edge{
			{0, gpio.High, t0}, {1, gpio.High, t0}, // levels at start
			{1, gpio.Low, t0.Add(time.Second)}, {1, gpio.High, t0.Add(2 * time.Second)}, {0, gpio.Low, t0.Add(3 * time.Second)},
		}
		for i, w := range want {
			e, err := src.Next(t.Context(), -1)
			if err != nil || e != w {
				t.Errorf("edge %d = %+v, %v; want %+v", i, e, err, w)
			}
		}
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
		if f.released.Load() != 1 || f.halts.Load() != 1 {
			t.Errorf("Close: %d releases, %d halts; want 1 each", f.released.Load(), f.halts.Load())
		}
		if err := src.Close(); err != nil || f.released.Load() != 1 {
			t.Errorf("second Close = %v, %d releases", err, f.released.Load())
		}
	})
}

func TestLineSetSourceCloseInterruptsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSet()
		src := fromWaiter(f, [2]int{5, 6}, nil, f.release)
		time.Sleep(time.Second) // the reader has waited: Close may halt it
		t0 := time.Now()
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("Close took %v: Halt did not interrupt the wait", d)
		}
	})
}

func TestLineSetSourceReportsReadErrorsAfterQueuedEdges(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   event
		want string
	}{
		{"read error", event{err: &fs.PathError{Op: "read", Path: "gpio-lineset", Err: syscall.EIO}}, "input/output error"},
		{"foreign line", event{number: 9, edge: gpio.FallingEdge}, "edge on line 9, not on 5 or 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSet()
				src := fromWaiter(f, [2]int{5, 6}, nil, f.release)
				defer src.Close()
				f.events <- event{number: 6, edge: gpio.FallingEdge}
				f.events <- tc.ev
				synctest.Wait()
				if e, err := src.Next(t.Context(), 0); err != nil || e.Line != 1 {
					t.Fatalf("first Next = %+v, %v; want the queued edge of line 1", e, err)
				}
				for range 2 { // the error sticks
					_, err := src.Next(t.Context(), time.Second)
					if err == nil || errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("Next = %v, want an error containing %q", err, tc.want)
					}
				}
			})
		})
	}
}

// fakeChip stands for a gpioioctl.GPIOChip with named lines.
type fakeChip struct {
	name  string
	lines []string
}

func (c fakeChip) Name() string { return c.name }

func (c fakeChip) ByName(name string) *gpioioctl.GPIOLine {
	for _, l := range c.lines {
		if l == name {
			return &gpioioctl.GPIOLine{}
		}
	}
	return nil
}

func TestFindLines(t *testing.T) {
	// gpioreg resolves aliases to registered pins, as on a Raspberry Pi
	// after host.Init ("17" and "P1_11" for GPIO17).
	if err := gpioreg.Register(&gpiotest.Pin{N: "GPIO17", Num: 17}); err != nil {
		t.Fatal(err)
	}
	if err := gpioreg.RegisterAlias("P1_11", "GPIO17"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gpioreg.Unregister("P1_11")
		_ = gpioreg.Unregister("GPIO17")
	})
	chips := []fakeChip{
		{"gpiochip0", []string{"ID_SDA", "GPIO5", "GPIO6", "GPIO17", "GPIO27"}},
		{"gpiochip1", []string{"BT_ON", "WL_ON", "GPIO6"}},
		{"gpiochip2", []string{"EXP_A"}},
	}
	for _, tc := range []struct {
		a, b, chip, la, lb, err string
	}{
		{a: "GPIO5", b: "GPIO6", chip: "gpiochip0", la: "GPIO5", lb: "GPIO6"},
		{a: "P1_11", b: "GPIO27", chip: "gpiochip0", la: "GPIO17", lb: "GPIO27"},
		{a: "BT_ON", b: "GPIO6", chip: "gpiochip1", la: "BT_ON", lb: "GPIO6"},
		{a: "GPIO5", b: "EXP_A", err: "GPIO5 is on gpiochip0 and EXP_A on gpiochip2: one line request needs both on one chip"},
		{a: "GPIO99", b: "GPIO6", err: "no GPIO line GPIO99"},
		{a: "GPIO5", b: "GPIO99", err: "no GPIO line GPIO99"},
		{a: "GPIO5", b: "GPIO5", err: "GPIO5 given for both lines"},
	} {
		c, la, lb, err := findLines(chips, tc.a, tc.b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("findLines(%s, %s) error = %v, want %q", tc.a, tc.b, err, tc.err)
			}
			continue
		}
		if err != nil || c.name != tc.chip || la != tc.la || lb != tc.lb {
			t.Errorf("findLines(%s, %s) = %s %s %s %v, want %s %s %s", tc.a, tc.b, c.name, la, lb, err, tc.chip, tc.la, tc.lb)
		}
	}
}

// Without host.Init (and on machines without /dev/gpiochip*) there is no
// chip: the error says what to check.
func TestOpenLineSetWithoutChips(t *testing.T) {
	if len(gpioioctl.Chips) != 0 {
		t.Fatalf("gpioioctl.Chips is not empty without host.Init: %d chips", len(gpioioctl.Chips))
	}
	_, err := OpenLineSet("GPIO5", "GPIO6", gpio.PullUp, gpio.FallingEdge)
	if err == nil || !strings.Contains(err.Error(), "no GPIO chip: host.Init not called") {
		t.Errorf("OpenLineSet = %v", err)
	}
	if _, err := OpenLineSet("GPIO5", "GPIO6", gpio.PullUp, gpio.NoEdge); err == nil {
		t.Error("OpenLineSet with NoEdge: no error")
	}
}
