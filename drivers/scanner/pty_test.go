package scanner

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/serialtest"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func write(t *testing.T, w *os.File, s string) {
	t.Helper()
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// next returns the next event, failing the test if none comes.
func next(t *testing.T, events <-chan edge.Event) edge.Event {
	t.Helper()
	select {
	case ev := <-events:
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	panic("unreachable")
}

func TestSerialOverPty(t *testing.T) {
	master, port := serialtest.Open(t)
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	meter := drivers.NewMeter()
	s, err := New(port, &Opts{
		Name:    "lane-2-scanner",
		Classes: Classes{LoyaltyPrefixes: []string{"041"}}, // coupons and AIs: the defaults
		Meter:   meter,
		Now:     func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events, done := runSerial(ctx, s)

	const gsrn = "123456789012345675"
	for _, c := range []struct {
		name, send string
		want       edge.Scan
	}{
		{"loyalty card, CR LF", "0410000001233\r\n",
			edge.Scan{Code: "0410000001233", Class: edge.ScanLoyalty}},
		{"product with AIM id, CR", "]E04006381333931\r",
			edge.Scan{Code: "4006381333931", Symbology: "]E0", Class: edge.ScanProduct}},
		{"GS1 DataMatrix", "]d2" + "0104012345678901" + "21ABC" + "\x1d" + "10LOT1" + "\r\n",
			edge.Scan{Code: "04012345678901", Symbology: "]d2", Class: edge.ScanProduct}},
		// Without its GS, the GSRN would swallow the SRIN and be rejected.
		{"GSRN with SRIN", "]C18018" + gsrn + "\x1d" + "801942" + "\n",
			edge.Scan{Code: gsrn, Symbology: "]C1", Class: edge.ScanLoyalty}},
		{"positive offer coupon", "]e0" + "8112" + "0614141123456789012" + "\r\n",
			edge.Scan{Code: "0614141123456789012", Symbology: "]e0", Class: edge.ScanCoupon}},
		{"noise and a misread are skipped", "\x00\x00\xff\r\n" + "4006381333932\r\n" + "]C0A\x01B\r\n" + "9811234567891\r\n",
			edge.Scan{Code: "9811234567891", Class: edge.ScanCoupon}},
	} {
		write(t, master, c.send)
		ev := next(t, events)
		if ev.Kind != edge.KindScan || ev.Source != "lane-2-scanner" || !ev.Time.Equal(t0) || *ev.Scan != c.want {
			t.Errorf("%s: event %s from %s at %v: %+v; want %+v", c.name, ev.Kind, ev.Source, ev.Time, *ev.Scan, c.want)
		}
	}
	// Framing: the run of NULs, and the scan garbled by 0x01. Format: 0xFF
	// starts a scan that CR LF ends and that is not UTF-8. Checksum: the
	// misread EAN-13.
	st := meter.Stats()
	want := map[string]uint64{drivers.RejectFraming: 2, drivers.RejectChecksum: 1, drivers.RejectFormat: 1}
	for reason, n := range want {
		if st.Rejected[reason] != n {
			t.Errorf("rejected %v, want %v", st.Rejected, want)
			break
		}
	}

	// The scanner is unplugged: Run fails with the port's error.
	master.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "read lane-2-scanner") {
			t.Errorf("Run returned %v, want the port's error naming the device", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the pseudo-terminal closed")
	}
	select {
	case ev := <-events:
		t.Errorf("unexpected event %+v", ev)
	default:
	}
}

func TestSerialIdleOverPty(t *testing.T) {
	master, port := serialtest.Open(t)
	s, err := New(port, &Opts{Name: "s", Terminator: Idle, IdleGap: 50 * time.Millisecond, Classes: Classes{LoyaltyPrefixes: []string{"041"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	events, done := runSerial(ctx, s)
	for _, c := range []struct {
		send string
		want edge.Scan
	}{
		{"]E04006381333931", edge.Scan{Code: "4006381333931", Symbology: "]E0", Class: edge.ScanProduct}},
		{"0410000001233", edge.Scan{Code: "0410000001233", Class: edge.ScanLoyalty}},
	} {
		write(t, master, c.send)
		if ev := next(t, events); *ev.Scan != c.want {
			t.Errorf("scan %+v, want %+v", *ev.Scan, c.want)
		}
	}
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
