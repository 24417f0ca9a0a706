package gpiopair

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3/gpioioctl"
)

// OpenLineSet requests the GPIO lines named a and b as inputs with bias
// pull and edge detection edge, in one request of the GPIO character
// device, and returns a source of their edges: a is line 0, b line 1. The
// kernel orders the edges of both lines, which is what Wiegand decoding
// needs.
//
// Call it after host.Init. a and b are the kernel's line names as gpioinfo
// lists them ("GPIO17" on a Raspberry Pi), or any name or alias gpioreg
// resolves to such a line ("17", "P1_11" on a Raspberry Pi). Both lines
// must belong to the same GPIO chip, and neither may be in use: a line
// configured through gpioreg.ByName(…).In() is busy until the process
// releases it. Close releases the lines.
func OpenLineSet(a, b string, pull gpio.Pull, edge gpio.Edge) (Source, error) {
	if edge == gpio.NoEdge {
		return nil, errors.New("gpiopair: edge detection required (not gpio.NoEdge)")
	}
	chip, la, lb, err := findLines(gpioioctl.Chips, a, b)
	if err != nil {
		return nil, err
	}
	ls, err := chip.LineSet(gpioioctl.LineInput, edge, pull, la, lb)
	if err != nil {
		return nil, fmt.Errorf("gpiopair: request lines %s and %s of %s: %w", la, lb, chip.Name(), err)
	}
	src, err := FromLineSet(ls)
	if err != nil {
		_ = ls.Close()
		return nil, err
	}
	return src, nil
}

// FromLineSet returns a source of the edges of ls, which must hold exactly
// two input lines with edge detection: ls.Lines()[0] is line 0. The source
// owns ls and closes it on Close.
func FromLineSet(ls *gpioioctl.LineSet) (Source, error) {
	lines := ls.Lines()
	if len(lines) != 2 {
		return nil, fmt.Errorf("gpiopair: a line set of %d lines, want 2", len(lines))
	}
	both := true
	for _, l := range lines {
		if l.Direction() != gpioioctl.LineInput || l.Edge() == gpio.NoEdge {
			return nil, fmt.Errorf("gpiopair: line %s is not an input with edge detection", l.Name())
		}
		both = both && l.Edge() == gpio.BothEdges
	}
	var initial []gpio.Level
	if both {
		v, err := ls.Read(0)
		if err != nil {
			return nil, fmt.Errorf("gpiopair: read lines %s and %s: %w", lines[0].Name(), lines[1].Name(), err)
		}
		initial = []gpio.Level{v&1 != 0, v&2 != 0}
	}
	return fromWaiter(ls, [2]int{lines[0].Number(), lines[1].Number()}, initial, ls.Close), nil
}

// waiter is what the line set source needs of a gpioioctl.LineSet.
type waiter interface {
	// WaitForEdge returns the chip offset of the line that changed and the
	// edge, or an error wrapping os.ErrDeadlineExceeded on timeout or Halt.
	WaitForEdge(timeout time.Duration) (number int, edge gpio.Edge, err error)
	// Halt interrupts a pending WaitForEdge.
	Halt() error
}

// fromWaiter starts a source reading w, whose lines 0 and 1 have the chip
// offsets numbers. initial, when not nil, holds the lines' levels at start.
// release is called by Close once the reader exited.
func fromWaiter(w waiter, numbers [2]int, initial []gpio.Level, release func() error) *stream {
	s := newStream()
	s.release = release
	for i, l := range initial {
		s.push(i, l)
	}
	var armed atomic.Bool // see FromPins
	s.halt = func() {
		if armed.Load() {
			_ = w.Halt()
		}
	}
	s.wg.Go(func() { s.watchSet(w, numbers, &armed) })
	return s
}

// watchSet queues the edges of a line set until Close or a read error.
func (s *stream) watchSet(w waiter, numbers [2]int, armed *atomic.Bool) {
	for !s.stopped() {
		n, e, err := w.WaitForEdge(pollInterval)
		armed.Store(true)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue // timeout, or Halt from Close
		}
		if err != nil {
			s.fail(fmt.Errorf("gpiopair: wait for edge: %w", err))
			return
		}
		line := -1
		for i, num := range numbers {
			if n == num {
				line = i
			}
		}
		if line < 0 {
			s.fail(fmt.Errorf("gpiopair: edge on line %d, not on %d or %d", n, numbers[0], numbers[1]))
			return
		}
		var level gpio.Level
		switch e {
		case gpio.RisingEdge:
			level = gpio.High
		case gpio.FallingEdge:
			level = gpio.Low
		default:
			continue
		}
		if !s.push(line, level) {
			return
		}
	}
}

// chip is what findLines needs of a gpioioctl.GPIOChip.
type chip interface {
	Name() string
	ByName(name string) *gpioioctl.GPIOLine
}

// findLines returns the chip holding the lines named (or aliased) a and b,
// and their line names on it.
func findLines[C chip](chips []C, a, b string) (c C, la, lb string, err error) {
	if len(chips) == 0 {
		return c, "", "", errors.New("gpiopair: no GPIO chip: host.Init not called, no /dev/gpiochip*, or no permission to open it")
	}
	if a == b {
		return c, "", "", fmt.Errorf("gpiopair: %s given for both lines", a)
	}
	la, lb = lineName(chips, a), lineName(chips, b)
	var where [2]string // a chip holding each line
	for _, c := range chips {
		hasA, hasB := c.ByName(la) != nil, c.ByName(lb) != nil
		if hasA && hasB {
			return c, la, lb, nil
		}
		if hasA && where[0] == "" {
			where[0] = c.Name()
		}
		if hasB && where[1] == "" {
			where[1] = c.Name()
		}
	}
	switch {
	case where[0] == "":
		return c, "", "", fmt.Errorf("gpiopair: no GPIO line %s", a)
	case where[1] == "":
		return c, "", "", fmt.Errorf("gpiopair: no GPIO line %s", b)
	}
	return c, "", "", fmt.Errorf("gpiopair: %s is on %s and %s on %s: one line request needs both on one chip (use FromPins)", a, where[0], b, where[1])
}

// lineName returns the chip line name for name: name itself when a chip
// has a line of that name, else the name of the pin gpioreg resolves it to
// (an alias such as "17" or "P1_11" on a Raspberry Pi).
func lineName[C chip](chips []C, name string) string {
	for _, c := range chips {
		if c.ByName(name) != nil {
			return name
		}
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return name
	}
	if r, ok := p.(gpio.RealPin); ok {
		p = r.Real()
	}
	return p.Name()
}
