package wiegand

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Opts configures a Reader. Zero fields take the value in DefaultOpts.
type Opts struct {
	// Name is the device's configured name: the Source of its events and
	// the subject of its errors. Default "wiegand".
	Name string
	// FrameGap is the silence that ends a frame. Default 25 ms.
	FrameGap time.Duration
	// Debounce is how long a card must stay unseen before it is reported
	// again: some readers repeat a card's frame while it stays in the
	// field. Default 1.5 s; a negative value reports every frame.
	Debounce time.Duration
	// Meter counts rejected frames by reason (drivers.RejectBits,
	// drivers.RejectParity, drivers.RejectFraming). Nil counts nothing.
	Meter *drivers.Meter
	// Now is the clock stamping events and driving the debouncer. Default
	// time.Now. Frame timing does not use it: it runs on the monotonic
	// clock the source stamps edges with.
	Now func() time.Time
}

// DefaultOpts is the configuration used for nil options and zero fields.
var DefaultOpts = Opts{
	Name:     "wiegand",
	FrameGap: DefaultFrameGap,
	Debounce: 1500 * time.Millisecond,
	Now:      time.Now,
}

// Reader turns the pulses of a Wiegand reader into card reads.
type Reader struct {
	src      gpiopair.Source
	o        Opts
	debounce *rfid.Debouncer
}

// New returns a Reader of src, whose line 0 is D0 and line 1 is D1 (see
// the package documentation for how to open it). The caller keeps
// ownership of src: close it after Run returned.
func New(src gpiopair.Source, o *Opts) (*Reader, error) {
	if src == nil {
		return nil, errors.New("wiegand: nil source")
	}
	opts := DefaultOpts
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = DefaultOpts.Name
	}
	if opts.FrameGap < 0 {
		return nil, fmt.Errorf("wiegand %s: negative frame gap %v", opts.Name, opts.FrameGap)
	}
	if opts.FrameGap == 0 {
		opts.FrameGap = DefaultOpts.FrameGap
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultOpts.Debounce
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Reader{src: src, o: opts, debounce: rfid.NewDebouncer(max(opts.Debounce, 0))}, nil
}

// Run decodes the lines and sends an edge.KindCardRead event on out for
// each presentation of a card, until ctx ends or the source fails. It
// counts rejected frames on Opts.Meter. It returns nil when ctx ended, and
// otherwise the source's error: close the source, open a new one and call
// New again. Sends on out wait for room; Run must not be called
// concurrently.
func (r *Reader) Run(ctx context.Context, out chan<- edge.Event) error {
	d := Decoder{FrameGap: r.o.FrameGap}
	for {
		timeout := time.Duration(-1)
		if end, ok := d.Deadline(); ok {
			timeout = max(time.Until(end), 0) // 0: take a queued edge, else end the frame
		}
		e, err := r.src.Next(ctx, timeout)
		var (
			f     Frame
			ended bool
		)
		switch {
		case err == nil:
			f, ended = d.Edge(e)
		case errors.Is(err, gpiopair.ErrTimeout):
			f, ended = d.End()
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("read %s: %w", r.o.Name, err)
		}
		if !ended {
			continue
		}
		if !r.frame(ctx, f, out) {
			return nil
		}
	}
}

// frame checks a frame and sends its card read unless it repeats the last
// one. It returns false when ctx ended.
func (r *Reader) frame(ctx context.Context, f Frame, out chan<- edge.Event) bool {
	uid, err := f.Card()
	switch {
	case errors.Is(err, ErrOverlap):
		r.o.Meter.Reject(drivers.RejectFraming)
		return true
	case errors.Is(err, ErrParity):
		r.o.Meter.Reject(drivers.RejectParity)
		return true
	case err != nil:
		r.o.Meter.Reject(drivers.RejectBits)
		return true
	}
	now := r.o.Now()
	if !r.debounce.Seen(uid, now) {
		return true
	}
	ev := edge.Event{Kind: edge.KindCardRead, Source: r.o.Name, Time: now, Card: &edge.CardRead{UID: uid}}
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
