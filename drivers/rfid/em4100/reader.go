package em4100

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Opts configures a Reader. Zero fields take the value in DefaultOpts.
type Opts struct {
	// Name is the device's configured name: the Source of its events and
	// the subject of its errors. Default "em4100".
	Name string
	// Debounce is how long a tag must stay out of the field before it is
	// reported again; the reader repeats its frame about every 250 ms while
	// the tag rests on it. Default 1.5 s; a negative value reports every
	// frame.
	Debounce time.Duration
	// ReadTimeout bounds each read from the port, so Run notices the end of
	// its context within about this long. Default (also for negative
	// values) 200 ms.
	ReadTimeout time.Duration
	// Meter counts rejected input by reason (drivers.RejectFraming,
	// drivers.RejectChecksum). Nil counts nothing.
	Meter *drivers.Meter
	// Now is the clock stamping events and driving the debouncer. Default
	// time.Now.
	Now func() time.Time
}

// DefaultOpts is the configuration used for nil options and zero fields.
var DefaultOpts = Opts{
	Name:        "em4100",
	Debounce:    1500 * time.Millisecond,
	ReadTimeout: 200 * time.Millisecond,
	Now:         time.Now,
}

// Reader turns the frames of a serial EM4100 reader into card reads.
type Reader struct {
	port     drivers.Port
	o        Opts
	debounce *rfid.Debouncer
}

// New returns a Reader of an opened port (9600 8N1) and sets the port's read
// timeout to o.ReadTimeout. The caller keeps ownership of the port: close it
// after Run returned.
func New(p drivers.Port, o *Opts) (*Reader, error) {
	if p == nil {
		return nil, errors.New("em4100: nil port")
	}
	opts := DefaultOpts
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = DefaultOpts.Name
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultOpts.Debounce
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultOpts.ReadTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := p.SetReadTimeout(opts.ReadTimeout); err != nil {
		return nil, fmt.Errorf("set read timeout of %s: %w", opts.Name, err)
	}
	return &Reader{port: p, o: opts, debounce: rfid.NewDebouncer(max(opts.Debounce, 0))}, nil
}

// Run reads the port and sends an edge.KindCardRead event on out for each
// presentation of a tag, until ctx ends or the port fails. It returns nil
// when ctx ended, within about Opts.ReadTimeout, and otherwise the read
// error (a go.bug.st/serial PortError with code PortClosed when the reader
// was unplugged or the port closed): reopen the port and call New again.
// Sends on out wait for room; Run must not be called concurrently.
func (r *Reader) Run(ctx context.Context, out chan<- edge.Event) error {
	var (
		p      Parser
		buf    = make([]byte, 256)
		frames []Frame
	)
	collect := func(f Frame) { frames = append(frames, f) }
	for ctx.Err() == nil {
		n, err := r.port.Read(buf)
		if n > 0 {
			now := r.o.Now()
			frames = frames[:0]
			p.Feed(buf[:n], collect, r.o.Meter.Reject)
			for _, f := range frames {
				uid := f.UID()
				if !r.debounce.Seen(uid, now) {
					continue
				}
				ev := edge.Event{Kind: edge.KindCardRead, Source: r.o.Name, Time: now, Card: &edge.CardRead{UID: uid}}
				select {
				case out <- ev:
				case <-ctx.Done():
					return nil
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", r.o.Name, err)
		}
	}
	return nil
}
