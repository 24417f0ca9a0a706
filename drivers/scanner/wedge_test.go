package scanner

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// line is one line a fake keyboard types.
type line struct {
	text string
	at   time.Time
}

// fakeKeyboard is a LineSource typing its lines, then returning err, or,
// when wait is set, waiting for the end of its context.
type fakeKeyboard struct {
	lines []line
	err   error
	wait  bool
}

func (k *fakeKeyboard) Run(ctx context.Context, fn func(text string, at time.Time)) error {
	for _, l := range k.lines {
		fn(l.text, l.at)
	}
	if k.wait {
		<-ctx.Done()
		return ctx.Err()
	}
	return k.err
}

func TestWedge(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	kbd := &fakeKeyboard{lines: []line{
		{"0410000001233", at(1)},
		{"", at(2)},              // a lone Enter
		{"4006381333932", at(3)}, // misread
		{"]E0ABC", at(4)},        // not an EAN
		{"]C18018123456789012345675", at(5)},
		{"S:0490000000016", at(6)}, // prefix to strip
		{"]C0LST-7F3A9C21", at(7)},
	}, err: errors.New("device gone")}
	meter := drivers.NewMeter()
	w := NewWedge(kbd, &WedgeOpts{Name: "lane-3-wedge", StripPrefix: "S:", Classes: storeClasses, Meter: meter})
	out := make(chan edge.Event, 16)
	err := w.Run(t.Context(), out)
	if !errors.Is(err, kbd.err) || !strings.Contains(err.Error(), "read lane-3-wedge") {
		t.Errorf("Run returned %v, want the source's error naming the device", err)
	}
	close(out)
	want := []struct {
		at   time.Time
		scan edge.Scan
	}{
		{at(1), edge.Scan{Code: "0410000001233", Class: edge.ScanLoyalty}},
		{at(5), edge.Scan{Code: "123456789012345675", Symbology: "]C1", Class: edge.ScanLoyalty}},
		{at(6), edge.Scan{Code: "0490000000016", Class: edge.ScanList}},
		{at(7), edge.Scan{Code: "LST-7F3A9C21", Symbology: "]C0", Class: edge.ScanUnknown}},
	}
	i := 0
	for ev := range out {
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("unexpected event %+v", *ev.Scan)
		}
		if ev.Kind != edge.KindScan || ev.Source != "lane-3-wedge" || !ev.Time.Equal(want[i].at) || *ev.Scan != want[i].scan {
			t.Errorf("event %d: %s from %s at %v: %+v; want %+v at %v", i, ev.Kind, ev.Source, ev.Time, *ev.Scan, want[i].scan, want[i].at)
		}
		i++
	}
	if i != len(want) {
		t.Errorf("%d events, want %d", i, len(want))
	}
	st := meter.Stats()
	if st.Rejected[drivers.RejectChecksum] != 1 || st.Rejected[drivers.RejectFormat] != 1 || len(st.Rejected) != 2 {
		t.Errorf("rejected %v, want 1 checksum, 1 format", st.Rejected)
	}
}

func TestWedgeEnds(t *testing.T) {
	// Cancelled: nil, whatever the source returns.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, kbd := range []*fakeKeyboard{{wait: true}, {err: context.Canceled}, {err: errors.New("closed")}} {
		if err := NewWedge(kbd, nil).Run(ctx, make(chan edge.Event)); err != nil {
			t.Errorf("Run after cancel returned %v, want nil", err)
		}
	}
	// A source that stops on its own is a failure.
	err := NewWedge(&fakeKeyboard{}, nil).Run(t.Context(), make(chan edge.Event))
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "read wedge_scanner") {
		t.Errorf("Run returned %v, want unexpected EOF naming the device", err)
	}
}

func TestWedgeCancelWhileSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		kbd := &fakeKeyboard{lines: []line{{"4006381333931", time.Now()}, {"4006381333931", time.Now()}}, wait: true}
		done := make(chan error, 1)
		go func() { done <- NewWedge(kbd, nil).Run(ctx, make(chan edge.Event)) }() // nobody receives
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	})
}

func TestWedgeStampsUnstampedLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := make(chan edge.Event, 1)
		_ = NewWedge(&fakeKeyboard{lines: []line{{text: "4006381333931"}}}, nil).Run(t.Context(), out)
		if ev := <-out; !ev.Time.Equal(time.Now()) {
			t.Errorf("event at %v, want now (%v)", ev.Time, time.Now())
		}
	})
}
