package scanner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

var errUnplugged = errors.New("unplugged")

// chanPort is a drivers.Port fed through a channel, for tests in a synctest
// bubble: a read returns the next chunk, or (0, nil) when the read timeout
// passes first, as go.bug.st/serial does; once the channel is closed, reads
// fail with errUnplugged.
type chanPort struct {
	in      chan string
	timeout time.Duration
	pending string
}

func newChanPort() *chanPort { return &chanPort{in: make(chan string)} }

func (p *chanPort) SetReadTimeout(t time.Duration) error { p.timeout = t; return nil }

func (p *chanPort) Read(b []byte) (int, error) {
	if p.pending == "" {
		timer := time.NewTimer(p.timeout)
		defer timer.Stop()
		select {
		case s, ok := <-p.in:
			if !ok {
				return 0, errUnplugged
			}
			p.pending = s
		case <-timer.C:
			return 0, nil
		}
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

// runSerial starts s.Run and returns its events and its result.
func runSerial(ctx context.Context, s *Serial) (chan edge.Event, chan error) {
	events, done := make(chan edge.Event, 16), make(chan error, 1)
	go func() { done <- s.Run(ctx, events) }()
	return events, done
}

func TestSerial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		port := newChanPort()
		meter := drivers.NewMeter()
		s, err := New(port, &Opts{Name: "lane-1-scanner", Classes: storeClasses, Meter: meter})
		if err != nil {
			t.Fatal(err)
		}
		if port.timeout != 200*time.Millisecond {
			t.Errorf("read timeout %v, want 200ms", port.timeout)
		}
		ctx, cancel := context.WithCancel(t.Context())
		events, done := runSerial(ctx, s)

		t0 := time.Now()
		port.in <- "\x00\x00\r"                          // noise
		port.in <- "4006381333932\r\n"                   // a misread
		port.in <- "]E0ABC\r"                            // not an EAN
		port.in <- "0410000001233\r\n]E04006381333931\r" // two scans in one read
		for _, want := range []edge.Scan{
			{Code: "0410000001233", Class: edge.ScanLoyalty},
			{Code: "4006381333931", Symbology: "]E0", Class: edge.ScanProduct},
		} {
			ev := <-events
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
			if ev.Kind != edge.KindScan || ev.Source != "lane-1-scanner" || !ev.Time.Equal(t0) || *ev.Scan != want {
				t.Errorf("event %s from %s at %v: %+v; want scan from lane-1-scanner at %v: %+v",
					ev.Kind, ev.Source, ev.Time, *ev.Scan, t0, want)
			}
		}
		st := meter.Stats()
		if st.Rejected[drivers.RejectFraming] != 1 || st.Rejected[drivers.RejectChecksum] != 1 || st.Rejected[drivers.RejectFormat] != 1 {
			t.Errorf("rejected %v, want 1 framing, 1 checksum, 1 format", st.Rejected)
		}
		if st.Accepted != 0 {
			t.Errorf("accepted %d: the daemon counts accepted events, not the driver", st.Accepted)
		}

		// A scan arriving in pieces is stamped with its last byte's time.
		port.in <- "]C1801812345"
		time.Sleep(50 * time.Millisecond) // the scanner's pace, in the bubble's clock
		port.in <- "6789012345675\r"
		ev := <-events
		if want := (edge.Scan{Code: "123456789012345675", Symbology: "]C1", Class: edge.ScanLoyalty}); *ev.Scan != want || !ev.Time.Equal(t0.Add(50*time.Millisecond)) {
			t.Errorf("scan %+v at %v, want %+v at %v", *ev.Scan, ev.Time, want, t0.Add(50*time.Millisecond))
		}

		// Cancelled while waiting for the port: nil within a read timeout.
		cancel()
		start := time.Now()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("Run returned %v after cancel", d)
		}
	})
}

func TestSerialIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		port := newChanPort()
		s, err := New(port, &Opts{Name: "s", Terminator: Idle, IdleGap: 80 * time.Millisecond, Classes: storeClasses})
		if err != nil {
			t.Fatal(err)
		}
		if port.timeout != 80*time.Millisecond {
			t.Errorf("read timeout %v, want the idle gap", port.timeout)
		}
		events, done := runSerial(t.Context(), s)

		t0 := time.Now()
		port.in <- "]E04006"
		time.Sleep(30 * time.Millisecond)
		port.in <- "381333931"
		ev := <-events
		if want := (edge.Scan{Code: "4006381333931", Symbology: "]E0", Class: edge.ScanProduct}); *ev.Scan != want {
			t.Errorf("scan %+v, want %+v", *ev.Scan, want)
		}
		// Stamped with the last byte, sent after the idle gap.
		if last := t0.Add(30 * time.Millisecond); !ev.Time.Equal(last) || time.Since(last) != 80*time.Millisecond {
			t.Errorf("scan at %v sent %v later; want at %v, sent 80ms later", ev.Time, time.Since(ev.Time), last)
		}

		port.in <- "0410000001233"
		if ev := <-events; ev.Scan.Class != edge.ScanLoyalty {
			t.Errorf("second scan %+v", *ev.Scan)
		}

		// The scanner is unplugged: Run fails with the port's error.
		close(port.in)
		err = <-done
		if !errors.Is(err, errUnplugged) || !strings.Contains(err.Error(), "read s") {
			t.Errorf("Run returned %v, want the port's error naming the device", err)
		}
	})
}

func TestSerialCancelWhileSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		port := newChanPort()
		s, err := New(port, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		out, done := make(chan edge.Event), make(chan error, 1) // nobody receives
		go func() { done <- s.Run(ctx, out) }()
		port.in <- "4006381333931\r"
		synctest.Wait() // Run is blocked sending
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	})
}

// failingPort is a drivers.Port whose SetReadTimeout fails.
type failingPort struct{ drivers.Port }

func (failingPort) SetReadTimeout(time.Duration) error { return errors.New("invalid timeout") }

func TestNew(t *testing.T) {
	for _, c := range []struct {
		name string
		p    drivers.Port
		o    *Opts
		err  string
	}{
		{"nil port", nil, nil, "nil port"},
		{"bad terminator", newChanPort(), &Opts{Name: "x", Terminator: "etx"}, `serial scanner x: terminator "etx"`},
		{"negative idle gap", newChanPort(), &Opts{Name: "x", IdleGap: -1}, "negative"},
		{"negative length", newChanPort(), &Opts{Name: "x", MaxLen: -1}, "negative"},
		{"failing port", failingPort{}, &Opts{Name: "x"}, "set read timeout of x: invalid timeout"},
	} {
		if _, err := New(c.p, c.o); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: New returned %v, want %q", c.name, err, c.err)
		}
	}
	for _, c := range []struct {
		o    Opts
		want time.Duration
	}{
		{Opts{}, 200 * time.Millisecond},
		{Opts{ReadTimeout: 50 * time.Millisecond}, 50 * time.Millisecond},
		{Opts{Terminator: Idle}, 80 * time.Millisecond},
		{Opts{Terminator: Idle, IdleGap: 300 * time.Millisecond}, 150 * time.Millisecond},
		{Opts{Terminator: Idle, IdleGap: 5 * time.Second}, 200 * time.Millisecond},
		{Opts{Terminator: Idle, IdleGap: 450 * time.Millisecond}, 150 * time.Millisecond},
	} {
		p := newChanPort()
		s, err := New(p, &c.o)
		if err != nil {
			t.Fatal(err)
		}
		if p.timeout != c.want {
			t.Errorf("%+v: read timeout %v, want %v", c.o, p.timeout, c.want)
		}
		if s.o.Name != "serial_scanner" || s.o.MaxLen != 1024 || s.o.Now == nil {
			t.Errorf("%+v: defaults not applied: %+v", c.o, s.o)
		}
	}
}
