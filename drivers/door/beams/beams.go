package beams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Kind is the configuration kind of the device, reported in its
// edge.DeviceStatus events.
const Kind = "ir_beams"

// Reasons the counter skips input, counted on Opts.Meter. They are metric
// label values: the set is small and stable.
const (
	// RejectGlitch is a level change that did not hold for Opts.Debounce.
	RejectGlitch = "glitch"
	// RejectAmbiguous is a passage left uncounted because its direction
	// could not be known: both beams changed at the same instant, or a beam
	// was obstructed during it.
	RejectAmbiguous = "ambiguous"
)

// Polarity is the input level of a beam sensor while its beam is broken.
type Polarity uint8

// Polarities.
const (
	BrokenHigh Polarity = iota // the input is high while the beam is broken
	BrokenLow                  // the input is low while the beam is broken
)

// String returns "high" or "low", as configured in broken_level.
func (p Polarity) String() string {
	switch p {
	case BrokenHigh:
		return "high"
	case BrokenLow:
		return "low"
	}
	return fmt.Sprintf("Polarity(%d)", uint8(p))
}

// Opts configures a Counter. Zero fields take the value in DefaultOpts.
type Opts struct {
	// Name is the device's configured name: the Source of its events, the
	// Device of its status reports and the subject of its errors. Default
	// "ir_beams".
	Name string
	// BrokenLevel is the sensors' output level while a beam is broken.
	// Default BrokenHigh.
	BrokenLevel Polarity
	// Debounce is how long a beam's level must hold before it counts;
	// shorter changes are glitches. Default 20 ms.
	Debounce time.Duration
	// ObstructedAfter is how long a beam may stay broken before the device
	// reports itself degraded. Default 10 s.
	ObstructedAfter time.Duration
	// MaxTransit is how long after the entry beam broke the exit beam may
	// still break when the entry beam has cleared in between. Default 2 s.
	MaxTransit time.Duration
	// Meter counts skipped input by reason (RejectGlitch,
	// RejectAmbiguous). Nil counts nothing.
	Meter *drivers.Meter
	// Now is the clock stamping events. Default time.Now. The counter's own
	// timing does not use it: it runs on the monotonic clock the source
	// stamps edges with.
	Now func() time.Time
}

// DefaultOpts is the configuration used for nil options and zero fields.
var DefaultOpts = Opts{
	Name:            Kind,
	BrokenLevel:     BrokenHigh,
	Debounce:        20 * time.Millisecond,
	ObstructedAfter: 10 * time.Second,
	MaxTransit:      2 * time.Second,
	Now:             time.Now,
}

// Counter counts people crossing a door through two infrared beams.
type Counter struct {
	src gpiopair.Source
	o   Opts
}

// New returns a Counter of src, whose line 0 is beam A (outside) and line
// 1 beam B (inside), opened with gpio.BothEdges (see the package
// documentation). The caller keeps ownership of src: close it after Run
// returned.
func New(src gpiopair.Source, o *Opts) (*Counter, error) {
	if src == nil {
		return nil, errors.New("beams: nil source")
	}
	opts := DefaultOpts
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = DefaultOpts.Name
	}
	if opts.BrokenLevel != BrokenHigh && opts.BrokenLevel != BrokenLow {
		return nil, fmt.Errorf("beams %s: broken level %v", opts.Name, opts.BrokenLevel)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"debounce", &opts.Debounce, DefaultOpts.Debounce},
		{"obstructed after", &opts.ObstructedAfter, DefaultOpts.ObstructedAfter},
		{"max transit", &opts.MaxTransit, DefaultOpts.MaxTransit},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("beams %s: negative %s %v", opts.Name, d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Counter{src: src, o: opts}, nil
}

// Run watches the beams and sends an edge.KindDoorCrossing event on out
// for each person crossing, and an edge.KindDeviceStatus event when a beam
// becomes obstructed (degraded) and when the beams are clear again (up),
// until ctx ends or the source fails. It returns nil when ctx ended, and
// otherwise the source's error: close the source, open a new one and call
// New again. Sends on out wait for room; Run must not be called
// concurrently.
func (c *Counter) Run(ctx context.Context, out chan<- edge.Event) error {
	m := newMachine(&c.o)
	for {
		timeout := time.Duration(-1)
		if at, ok := m.deadline(); ok {
			timeout = max(time.Until(at), 0) // 0: take a queued edge, else advance
		}
		e, err := c.src.Next(ctx, timeout)
		switch {
		case err == nil:
			m.edge(e)
		case errors.Is(err, gpiopair.ErrTimeout):
			m.advance(time.Now())
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("read %s: %w", c.o.Name, err)
		}
		for _, n := range m.take() {
			select {
			case out <- c.event(n):
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// event returns the event of a note.
func (c *Counter) event(n note) edge.Event {
	ev := edge.Event{Source: c.o.Name, Time: c.o.Now()}
	if n.dir != "" {
		ev.Kind = edge.KindDoorCrossing
		ev.Crossing = &edge.Crossing{Dir: n.dir, Count: 1}
	} else {
		ev.Kind = edge.KindDeviceStatus
		ev.Device = &edge.DeviceStatus{Device: c.o.Name, Kind: Kind, State: n.state, Detail: n.detail}
	}
	return ev
}
