package em4100

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/serialtest"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// clock is a settable clock for Opts.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ns.Store(t.UnixNano()); return c }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func write(t *testing.T, w *os.File, s ...[]byte) {
	t.Helper()
	if _, err := w.Write(bytes.Join(s, nil)); err != nil {
		t.Fatal(err)
	}
}

// running starts r.Run and returns its events and its result.
func running(ctx context.Context, r *Reader) (<-chan edge.Event, <-chan error) {
	events, done := make(chan edge.Event, 16), make(chan error, 1)
	go func() { done <- r.Run(ctx, events) }()
	return events, done
}

// next returns the next event, failing the test if none comes.
func next(t *testing.T, events <-chan edge.Event) edge.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	panic("unreachable")
}

func TestReaderOverPty(t *testing.T) {
	master, port := serialtest.Open(t)
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	clk := newClock(t0)
	meter := drivers.NewMeter()
	r, err := New(port, &Opts{Name: "entrance-rfid", Meter: meter, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events, done := running(ctx, r)

	a := Frame{Version: 0x01, ID: 472288}.Encode()
	b := Frame{Version: 0x62, ID: 0xE3086CED}.Encode()
	c := Frame{Version: 0x00, ID: 4718260}.Encode()
	expect := func(want []byte, at time.Time) {
		t.Helper()
		ev := next(t, events)
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		if ev.Kind != edge.KindCardRead || ev.Source != "entrance-rfid" || !ev.Time.Equal(at) {
			t.Errorf("event %s from %q at %s, want card.read from entrance-rfid at %s", ev.Kind, ev.Source, ev.Time, at)
		}
		if !bytes.Equal(ev.Card.UID, want) {
			t.Errorf("UID % X, want % X", ev.Card.UID, want)
		}
	}

	// A tag resting on the reader: its frame repeats; one event. The next
	// tag's event shows that all the repeats were read.
	write(t, master, a, a, a, a, b)
	expect([]byte{0x00, 0x07, 0x34, 0xE0}, t0)
	expect([]byte{0xE3, 0x08, 0x6C, 0xED}, t0)

	// Presented again after 2 s out of the field: a new presentation.
	clk.Advance(2 * time.Second)
	write(t, master, a)
	expect([]byte{0x00, 0x07, 0x34, 0xE0}, t0.Add(2*time.Second))

	// Noise, a frame with a bad checksum and an ID-12 frame with CR LF;
	// the resting tag a is still not reported again.
	bad := bytes.Clone(c)
	bad[12] ^= 1
	id12 := append(bytes.Clone(c[:13]), '\r', '\n', etx)
	write(t, master, []byte("\x00\xff\x7f"), a, bad, []byte("\x02123"), id12)
	expect([]byte{0x00, 0x47, 0xFE, 0xB4}, t0.Add(2*time.Second))
	st := meter.Stats()
	if st.Rejected[drivers.RejectChecksum] != 1 || st.Rejected[drivers.RejectFraming] != 2 {
		t.Errorf("rejected %v, want 1 checksum and 2 framing (noise, cut short)", st.Rejected)
	}

	// The reader is unplugged: Run fails with the port's error.
	master.Close()
	select {
	case err := <-done:
		var pe *serial.PortError
		if !errors.As(err, &pe) || pe.Code() != serial.PortClosed || !strings.Contains(err.Error(), "entrance-rfid") {
			t.Errorf("Run returned %v, want the serial PortClosed error naming the device", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the pseudo-terminal closed")
	}
	select {
	case ev := <-events:
		t.Errorf("unexpected event %v", ev)
	default:
	}
}

func TestReaderCancel(t *testing.T) {
	master, port := serialtest.Open(t)
	r, err := New(port, &Opts{Name: "lane-1-rfid", ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	events, done := running(ctx, r)
	write(t, master, Frame{ID: 1}.Encode())
	next(t, events) // Run is reading: cancel it while it waits for the port
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestReaderCancelWhileSending(t *testing.T) {
	master, port := serialtest.Open(t)
	r, err := New(port, &Opts{Name: "lane-1-rfid", Debounce: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	events, done := make(chan edge.Event), make(chan error, 1) // nobody receives
	go func() { done <- r.Run(ctx, events) }()
	write(t, master, Frame{ID: 1}.Encode())
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}

// timeoutPort is a drivers.Port whose SetReadTimeout fails.
type timeoutPort struct{ drivers.Port }

func (timeoutPort) SetReadTimeout(time.Duration) error { return errors.New("invalid timeout") }

func TestNew(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil port) succeeded")
	}
	if _, err := New(timeoutPort{}, &Opts{Name: "x"}); err == nil || !strings.Contains(err.Error(), "set read timeout of x") {
		t.Errorf("New with a failing port: %v", err)
	}
	_, port := serialtest.Open(t)
	r, err := New(port, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.o.Name != "em4100" || r.o.Debounce != 1500*time.Millisecond || r.o.ReadTimeout != 200*time.Millisecond || r.o.Now == nil {
		t.Errorf("defaults: %+v", r.o)
	}
	r, err = New(port, &Opts{Debounce: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r.debounce.Window != 0 {
		t.Errorf("negative debounce: window %s, want 0 (every frame)", r.debounce.Window)
	}
}
