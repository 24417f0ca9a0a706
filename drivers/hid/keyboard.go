package hid

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
)

// LineSource delivers lines of text typed by a device. Run calls line, on
// Run's goroutine, for each line until ctx ends (then it returns nil) or the
// device fails (then it returns the error). Keyboard implements it.
type LineSource interface {
	Run(ctx context.Context, line func(text string, at time.Time)) error
}

// KeyboardOpts configures a Keyboard. Zero fields take the value in
// DefaultKeyboardOpts.
type KeyboardOpts struct {
	// RecordSize is the size of the reader's input_event records: 24 on
	// 64-bit systems, 16 on 32-bit ones. Default RecordSize, this
	// process's; set it only to decode a capture from another machine.
	RecordSize int
	// MaxLine is the longest line kept; longer ones are discarded and
	// counted drivers.RejectFraming. Default 512.
	MaxLine int
	// Meter counts discarded lines and kernel drops by reason. Nil counts
	// nothing.
	Meter *drivers.Meter
	// Now stamps each line with the time the read that completed it
	// returned. Default time.Now.
	Now func() time.Time
}

// DefaultKeyboardOpts is the configuration used for nil options and zero
// fields.
var DefaultKeyboardOpts = KeyboardOpts{RecordSize: RecordSize, MaxLine: DefaultMaxLine, Now: time.Now}

// Keyboard reads input_event records from a keyboard-wedge device and
// delivers the lines it types. It is the LineSource of wedge scanners and
// wedge RFID readers.
type Keyboard struct {
	r io.Reader
	o KeyboardOpts
}

// NewKeyboard returns a Keyboard reading r: usually a *Device, or any reader
// of records (a capture, a pipe in tests). The caller keeps ownership of r.
func NewKeyboard(r io.Reader, o *KeyboardOpts) *Keyboard {
	opts := DefaultKeyboardOpts
	if o != nil {
		opts = *o
	}
	if opts.RecordSize == 0 {
		opts.RecordSize = DefaultKeyboardOpts.RecordSize
	}
	if opts.MaxLine == 0 {
		opts.MaxLine = DefaultKeyboardOpts.MaxLine
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Keyboard{r: r, o: opts}
}

// deadliner is a reader whose blocked Read a deadline can end: *Device,
// *os.File.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// Run reads records and calls line with each line typed, stamped with
// KeyboardOpts.Now when the read that completed it returned, until ctx ends
// or the read fails.
//
// It returns nil once ctx has ended. To end a Read blocked at that moment,
// Run sets a read deadline in the past if the reader has a SetReadDeadline
// method (*Device and *os.File do; the next Run clears it); with any other
// reader, the caller must close the reader. Otherwise Run returns the read
// error, wrapped: ENODEV when the device was unplugged, io.EOF at the end of
// a capture. It fails at once when the options are invalid (a record size
// other than 16 or 24).
//
// line runs on Run's goroutine and must return promptly: while it blocks,
// events queue in the kernel, whose buffer for each reader is small; when it
// overflows, the kernel drops events and the line they belong to is lost
// (counted drivers.RejectDropped). Run must not be called concurrently.
func (k *Keyboard) Run(ctx context.Context, line func(text string, at time.Time)) error {
	dec, err := NewDecoder(k.o.RecordSize, k.o.MaxLine)
	if err != nil {
		return err
	}
	if d, ok := k.r.(deadliner); ok {
		// Clear a deadline an earlier Run set when it was cancelled.
		if err := d.SetReadDeadline(time.Time{}); err == nil {
			woken := make(chan struct{})
			stop := context.AfterFunc(ctx, func() {
				_ = d.SetReadDeadline(time.Unix(1, 0))
				close(woken)
			})
			defer func() {
				if !stop() {
					<-woken // set the deadline before returning, not into a later Run
				}
			}()
		}
	}
	var (
		buf   = make([]byte, 64*k.o.RecordSize) // a whole number of records: evdev needs that
		at    time.Time
		emit  = func(text string) { line(text, at) }
		empty int
	)
	for ctx.Err() == nil {
		n, err := k.r.Read(buf)
		if n > 0 {
			empty = 0
			at = k.o.Now()
			dec.Feed(buf[:n], emit, k.o.Meter.Reject)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read key events: %w", err)
		}
		if n == 0 {
			if empty++; empty == 100 {
				return fmt.Errorf("read key events: %w", io.ErrNoProgress)
			}
		}
	}
	return nil
}
