package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
)

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestDaemonRestartDeliversOutbox: events produced while HQ is unreachable
// survive a daemon restart and reach HQ, exactly once, once it is back.
func TestDaemonRestartDeliversOutbox(t *testing.T) {
	dir := t.TempDir()
	l := listen(t)
	addr := l.Addr().String() // the broker's future address; nobody listens yet
	l.Close()
	cfg, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir, cfg.HQ.Broker = dir, "tcp://"+addr
	cfg.HQ.BackoffMin, cfg.HQ.BackoffMax = configs.D(20*time.Millisecond), configs.D(200*time.Millisecond)
	log := slog.New(slog.DiscardHandler)
	now := time.Now()
	members := sim.Members(40, 3, now)
	fresh, _ := cfg.Device("fresh-reader")
	taps := func(ctx context.Context, out chan<- edge.Event) error {
		for _, m := range members[:20] {
			select {
			case out <- edge.Event{Kind: edge.KindCardRead, Source: fresh.Name, Time: time.Now(), Card: &edge.CardRead{UID: m.Cards[0]}}:
			case <-ctx.Done():
				return nil
			}
		}
		<-ctx.Done()
		return nil
	}

	d, err := newDaemon(cfg, daemonOpts{logger: log, listener: listen(t), drivers: []driver{{devices: []configs.Device{fresh}, open: always(taps)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(d, members, sim.Offers(now, cfg.Store.Location())); err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "20 recognitions committed", func() bool {
		st := d.engine.Stats()
		return st.Recognised == 20 && st.Uncommitted == 0
	})
	first := d.db.outbox.Stats()
	if first.Backlog == 0 || d.uplink.Stats().Connected {
		t.Fatalf("backlog %d, connected %v: want a backlog with HQ unreachable", first.Backlog, d.uplink.Stats().Connected)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}

	// HQ comes back; the daemon restarts on the same data directory.
	brk, err := broker.Start(broker.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer brk.Close()
	sink, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ing := hq.New(hq.Options{Broker: brk.URL(), ClientID: "hq-test", Sink: sink, Logger: log})
	hqRun := start(ing.Run)
	defer hqRun.stop()
	<-ing.Ready()

	d, err = newDaemon(cfg, daemonOpts{logger: log, listener: listen(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	defer d.stop()
	if got := d.db.outbox.Stats().Epoch; got != first.Epoch {
		t.Fatalf("epoch changed across restart: %s → %s", first.Epoch, got)
	}
	eventually(t, 15*time.Second, "HQ to hold every event", func() bool {
		cov, err := sink.Coverage(cfg.Store.Tenant, cfg.Store.ID)
		ob := d.db.outbox.Stats()
		c := cov[first.Epoch]
		return err == nil && ob.Backlog == 0 && c.Count == ob.LastSeq && c.Complete()
	})
	st, _ := sink.Stats()
	if st.Events < first.LastSeq || st.Stores[0].Kinds[string(edge.KindRecognition)] != 20 {
		t.Errorf("HQ holds %d events (%v), want at least the %d produced before the restart with 20 recognitions",
			st.Events, st.Stores[0].Kinds, first.LastSeq)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	data, _ := configs.Samples.ReadFile("store.example.toml")
	if err := os.WriteFile(good, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"check-config", good}, &out, &out); err != nil {
		t.Fatalf("check-config on the example: %v", err)
	}
	if !strings.Contains(out.String(), "ok (store acme/lyon-part-dieu, 8 devices") {
		t.Errorf("output %q", out.String())
	}

	bad := filepath.Join(dir, "bad.toml")
	text := strings.NewReplacer(`timezone = "Europe/Paris"`, `timezone = "Europe/Lyon"`,
		`lane = "2"`, `lane = "9"`, `interval = "15m"`, `interval = "7m"`).Replace(string(data))
	if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"check-config", bad}, &out, &out)
	if err == nil {
		t.Fatal("check-config accepted a bad file")
	}
	for _, field := range []string{"store.timezone", "devices[4].lane", "footfall.interval", "3 problems"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
}
