package gpiopair

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// FromPins configures a and b as inputs with pull and edge detection edge
// (a.In(pull, edge)) and returns a source of their edges: a is line 0, b
// line 1. One goroutine per pin waits for edges; see the package
// documentation for what the reported levels mean and how the two lines
// are ordered. Pin drivers cannot report errors from WaitForEdge, so Next
// never returns a line error; a pin that fails is merely silent.
//
// Close interrupts pending waits with Halt and leaves the pins configured.
// The pins must not be used elsewhere while the source is open.
//
// gpiotest.Pin reports every level sent on its EdgesChan as an edge,
// whatever the configured edge. To model a line configured for
// gpio.FallingEdge, send only gpio.Low and restore the idle level with
// Out(gpio.High); with gpio.BothEdges, send both levels. Give test pins a
// Clock (clockwork.NewRealClock() follows a testing/synctest bubble; a
// clockwork fake clock does not).
func FromPins(a, b gpio.PinIn, pull gpio.Pull, edge gpio.Edge) (Source, error) {
	if a == nil || b == nil {
		return nil, errors.New("gpiopair: nil pin")
	}
	if a.Name() == b.Name() {
		return nil, fmt.Errorf("gpiopair: %s given for both lines", a.Name())
	}
	if edge == gpio.NoEdge {
		return nil, errors.New("gpiopair: edge detection required (not gpio.NoEdge)")
	}
	pins := [2]gpio.PinIn{a, b}
	for _, p := range pins {
		if err := p.In(pull, edge); err != nil {
			return nil, fmt.Errorf("gpiopair: set up %s as input: %w", p.Name(), err)
		}
	}
	s := newStream()
	if edge == gpio.BothEdges {
		for i, p := range pins {
			s.push(i, p.Read())
		}
	}
	// A pin's first WaitForEdge sets up its edge file (gpioioctl) without
	// a lock, so Close halts only pins whose first wait has returned;
	// pollInterval bounds the others.
	var armed [2]atomic.Bool
	s.halt = func() {
		for i, p := range pins {
			if armed[i].Load() {
				_ = p.Halt()
			}
		}
	}
	for i, p := range pins {
		s.wg.Go(func() { s.watchPin(i, p, edge, &armed[i]) })
	}
	return s, nil
}

// watchPin queues the edges of one pin until Close.
func (s *stream) watchPin(line int, p gpio.PinIn, edge gpio.Edge, armed *atomic.Bool) {
	for !s.stopped() {
		began := time.Now()
		got := p.WaitForEdge(pollInterval)
		armed.Store(true)
		if !got {
			// A wait that ends early without an edge was halted or hit a
			// driver error that gpio.PinIn cannot report: never spin on it.
			if time.Since(began) < pollInterval/2 && !s.pause(pollInterval) {
				return
			}
			continue
		}
		var level gpio.Level
		switch edge {
		case gpio.FallingEdge:
			level = gpio.Low
		case gpio.RisingEdge:
			level = gpio.High
		default:
			level = p.Read()
		}
		if !s.push(line, level) {
			return
		}
	}
}
