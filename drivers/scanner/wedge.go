package scanner

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// LineSource is a keyboard that types lines: a USB HID scanner in keyboard
// (wedge) mode, read through evdev by package drivers/hid. Run calls line
// with the text of each line typed (without its Enter) and the time its
// Enter was pressed, from one goroutine, until ctx ends (it then returns nil
// or ctx's error) or the device fails (it returns the error).
type LineSource interface {
	Run(ctx context.Context, line func(text string, at time.Time)) error
}

// WedgeOpts configures a Wedge. Zero fields take the value in
// DefaultWedgeOpts.
type WedgeOpts struct {
	// Name is the device's configured name: the Source of its events and
	// the subject of its errors. Default "wedge_scanner".
	Name string
	// StripPrefix and StripSuffix are removed from every line where
	// present (see Decoder.Decode). Default none.
	StripPrefix, StripSuffix string
	// Classes classify scans. A nil list takes DefaultClasses' list, an
	// empty one stays empty (as in the configuration).
	Classes Classes
	// Meter counts rejected lines by reason (drivers.RejectChecksum,
	// RejectFormat). Nil counts nothing.
	Meter *drivers.Meter
}

// DefaultWedgeOpts is the configuration used for nil options and zero
// fields.
var DefaultWedgeOpts = WedgeOpts{Name: "wedge_scanner", Classes: DefaultClasses}

// Wedge reads scans from a keyboard-wedge scanner: every line its
// LineSource types is one scan, decoded as a serial scanner's (Decoder).
type Wedge struct {
	src LineSource
	o   WedgeOpts
	dec *Decoder
}

// NewWedge returns a Wedge reading the lines of src.
func NewWedge(src LineSource, o *WedgeOpts) *Wedge {
	opts := DefaultWedgeOpts
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = DefaultWedgeOpts.Name
	}
	return &Wedge{src: src, o: opts, dec: NewDecoder(opts.Classes.orDefaults(), opts.StripPrefix, opts.StripSuffix)}
}

// Run runs the line source and sends an edge.KindScan event on out for each
// line that decodes, stamped with the line's time (the current time if the
// source gave none). An empty line (a lone Enter) is no scan; rejected lines
// are counted on WedgeOpts.Meter. Run returns nil when ctx ended, and
// otherwise the source's error wrapped, or io.ErrUnexpectedEOF wrapped when
// the source stopped without one. Sends on out wait for room.
func (w *Wedge) Run(ctx context.Context, out chan<- edge.Event) error {
	err := w.src.Run(ctx, func(text string, at time.Time) {
		if text == "" || ctx.Err() != nil {
			return
		}
		scan, err := w.dec.Decode(text)
		if err != nil {
			w.o.Meter.Reject(Reason(err))
			return
		}
		if at.IsZero() {
			at = time.Now()
		}
		select {
		case out <- edge.Event{Kind: edge.KindScan, Source: w.o.Name, Time: at, Scan: &scan}:
		case <-ctx.Done():
		}
	})
	switch {
	case ctx.Err() != nil:
		return nil
	case err == nil:
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %s: %w", w.o.Name, err)
}
