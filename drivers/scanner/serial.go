package scanner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Opts configures a Serial scanner. Zero fields take the value in
// DefaultOpts.
type Opts struct {
	// Name is the device's configured name: the Source of its events and
	// the subject of its errors. Default "serial_scanner".
	Name string
	// Terminator ends each scan. Default Line (CR, LF or CR LF).
	Terminator Terminator
	// IdleGap is the silence that ends a scan with Terminator Idle.
	// Default 80 ms: longer than the gaps within one scan (about 1 ms a
	// byte at 9600 bps), shorter than a cashier's next scan.
	IdleGap time.Duration
	// StripPrefix and StripSuffix are removed from every scan where
	// present (see Decoder.Decode): a preamble or postamble the scanner is
	// configured to send, such as STX and ETX. Control characters in them
	// are data, not framing noise. Default none.
	StripPrefix, StripSuffix string
	// Classes classify scans. A nil list takes DefaultClasses' list, an
	// empty one stays empty (as in the configuration).
	Classes Classes
	// MaxLen is the longest scan in bytes. Longer input without a
	// terminator is discarded (drivers.RejectFraming). Default 1024.
	MaxLen int
	// ReadTimeout bounds each read from the port, so Run notices the end of
	// its context within about this long. Default 200 ms. With Terminator
	// Idle the read timeout is IdleGap divided evenly into reads of at
	// most ReadTimeout.
	ReadTimeout time.Duration
	// Meter counts rejected input by reason (drivers.RejectFraming,
	// RejectChecksum, RejectFormat). Nil counts nothing.
	Meter *drivers.Meter
	// Now is the clock stamping events. Default time.Now.
	Now func() time.Time
}

// DefaultOpts is the configuration used for nil options and zero fields.
var DefaultOpts = Opts{
	Name:        "serial_scanner",
	Terminator:  Line,
	IdleGap:     80 * time.Millisecond,
	Classes:     DefaultClasses,
	MaxLen:      1024,
	ReadTimeout: 200 * time.Millisecond,
	Now:         time.Now,
}

// Serial reads scans from a barcode scanner on a serial line (RS-232, or
// USB in CDC-ACM "serial emulation" mode).
type Serial struct {
	port    drivers.Port
	o       Opts
	dec     *Decoder
	timeout time.Duration // the port's read timeout
}

// New returns a Serial of an opened port and sets the port's read timeout
// (see Opts.ReadTimeout). The caller keeps ownership of the port: close it
// after Run returned.
func New(p drivers.Port, o *Opts) (*Serial, error) {
	if p == nil {
		return nil, errors.New("serial scanner: nil port")
	}
	opts := DefaultOpts
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = DefaultOpts.Name
	}
	if opts.Terminator == "" {
		opts.Terminator = DefaultOpts.Terminator
	}
	if opts.IdleGap == 0 {
		opts.IdleGap = DefaultOpts.IdleGap
	}
	if opts.MaxLen == 0 {
		opts.MaxLen = DefaultOpts.MaxLen
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultOpts.ReadTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := opts.Terminator.valid(); err != nil {
		return nil, fmt.Errorf("serial scanner %s: %w", opts.Name, err)
	}
	if opts.IdleGap < 0 || opts.MaxLen < 0 || opts.ReadTimeout < 0 {
		return nil, fmt.Errorf("serial scanner %s: negative idle gap, length or read timeout", opts.Name)
	}
	timeout := opts.ReadTimeout
	if opts.Terminator == Idle {
		// The idle gap in equal reads, each at most ReadTimeout long.
		reads := (opts.IdleGap + opts.ReadTimeout - 1) / opts.ReadTimeout
		timeout = opts.IdleGap / time.Duration(reads)
	}
	if err := p.SetReadTimeout(timeout); err != nil {
		return nil, fmt.Errorf("set read timeout of %s: %w", opts.Name, err)
	}
	dec := NewDecoder(opts.Classes.orDefaults(), opts.StripPrefix, opts.StripSuffix)
	return &Serial{port: p, o: opts, dec: dec, timeout: timeout}, nil
}

// Run reads the port and sends an edge.KindScan event on out for each scan,
// stamped with the time its last byte arrived, until ctx ends or the port
// fails. Rejected scans are counted on Opts.Meter by reason. It returns nil
// when ctx ended, within about the read timeout, and otherwise the read
// error wrapped (a go.bug.st/serial PortError, or EIO, when the scanner was
// unplugged or the port closed): reopen the port and call New again. Sends
// on out wait for room; Run must not be called concurrently.
func (s *Serial) Run(ctx context.Context, out chan<- edge.Event) error {
	var (
		buf    = make([]byte, 256)
		scans  []string
		at     time.Time // when the last byte arrived
		reject = s.o.Meter.Reject
	)
	f := newFramer(s.o.Terminator, s.o.IdleGap, s.o.MaxLen, s.o.StripPrefix+s.o.StripSuffix,
		func(b []byte) { scans = append(scans, string(b)) }, reject)
	for ctx.Err() == nil {
		n, err := s.port.Read(buf)
		switch {
		case n > 0:
			at = s.o.Now()
			f.feed(buf[:n])
		case err == nil:
			f.silence(s.timeout)
		}
		for _, text := range scans {
			scan, derr := s.dec.Decode(text)
			if derr != nil {
				reject(Reason(derr))
				continue
			}
			ev := edge.Event{Kind: edge.KindScan, Source: s.o.Name, Time: at, Scan: &scan}
			select {
			case out <- ev:
			case <-ctx.Done():
				return nil
			}
		}
		scans = scans[:0]
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", s.o.Name, err)
		}
	}
	return nil
}
