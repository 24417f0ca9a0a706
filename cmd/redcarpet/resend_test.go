package main

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
)

// dropper acknowledges every n-th uplink message and then drops it: a
// broker that lost a message after its PUBACK (a restart that forgot HQ's
// shared subscription, a full queue).
type dropper struct {
	mqtt.HookBase
	every         int64
	seen, dropped atomic.Int64
}

func (d *dropper) ID() string           { return "dropper" }
func (d *dropper) Provides(b byte) bool { return b == mqtt.OnPublish }

func (d *dropper) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if strings.Contains(pk.TopicName, "/up/") && d.seen.Add(1)%d.every == 0 {
		d.dropped.Add(1)
		return pk, packets.CodeSuccessIgnore // PUBACKed, delivered to nobody
	}
	return pk, nil
}

// TestLossyBrokerResend: the broker loses every fifth uplink message after
// acknowledging it. HQ sees the gaps (and, from the store's drained state,
// the lost tail), asks for them, and the store sends them again from the
// events it keeps after acknowledgement: in the end HQ holds every event
// the store produced, exactly once.
func TestLossyBrokerResend(t *testing.T) {
	drop := &dropper{every: 5}
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Hooks: []mqtt.Hook{drop}})
	if err != nil {
		t.Fatal(err)
	}
	defer brk.Close()
	sink := boltSink(t)
	startHQ(t, brk.URL(), "hq-lossy", sink)
	changes, err := sink.ChangeLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, err := storeConfig(dir, brk.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp := hq.NewResponder(hq.ResponderOptions{Broker: brk.URL(), ClientID: "hq-lossy-downlink", Tenants: []string{cfg.Store.Tenant},
		Log: changes, Gaps: sink, GapEvery: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	respRun := start(resp.Run)
	defer respRun.stop()
	<-resp.Ready()

	l := newSynthLoad(3)
	l.Rate = 200
	if err := seedStore(cfg, &l, 0); err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, daemonOpts{now: l.now, logger: slog.New(slog.DiscardHandler), listener: listen(t), drivers: []driver{l.driver(cfg)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	defer d.stop()
	eventually(t, 30*time.Second, "2000 events committed", func() bool { return d.db.outbox.Stats().LastSeq >= 2000 })
	if err := d.stopEngine(); err != nil {
		t.Fatal(err)
	}
	ob := d.db.outbox
	epoch := ob.Epoch()
	eventually(t, 60*time.Second, "HQ to hold every event despite the losses", func() bool {
		c := 0
		if cov, err := sink.Coverage(cfg.Store.Tenant, cfg.Store.ID); err == nil {
			c = int(cov[epoch].Count)
		}
		return ob.Stats().Backlog == 0 && uint64(c) == ob.Stats().LastSeq
	})
	v, err := checkHQ(sink, cfg.Store.Tenant, cfg.Store.ID, epoch, ob.Stats().LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.check(epoch); err != nil {
		t.Fatal(err)
	}
	st := ob.Stats()
	if drop.dropped.Load() == 0 || st.Resent == 0 || resp.Stats().Resends == 0 {
		t.Errorf("dropped %d messages, resent %d events on %d requests: the repair path did not run",
			drop.dropped.Load(), st.Resent, resp.Stats().Resends)
	}
	t.Logf("%d events; the broker dropped %d messages after acknowledging them; HQ asked %d times; %d events sent again; %d duplicates dropped at HQ",
		st.LastSeq, drop.dropped.Load(), resp.Stats().Resends, st.Resent, v.Duplicates)
}
