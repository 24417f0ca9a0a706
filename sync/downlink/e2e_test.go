package downlink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/pgtest"
	"github.com/redcarpet-retail/redcarpet/sync/uplink"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// These tests run HQ (its database holding the change log and the event
// sink, a Responder and an Ingest) and a store (its bbolt file with the
// member store and the outbox, a Downlink sharing the uplink's one MQTT
// connection through its OnConnect/OnDisconnect hooks) against a real
// broker over TCP: the embedded mochi broker with HQ in one bbolt file (the
// demo's), and the machine's Mosquitto when REDCARPET_TEST_MOSQUITTO names
// it, with HQ in PostgreSQL when REDCARPET_TEST_POSTGRES names a database
// (production's; see postgresOrBolt).

// mochi starts an embedded broker and returns its URL.
func mochi(t *testing.T) string {
	t.Helper()
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.URL()
}

// mosquitto returns the URL of the Mosquitto broker named by
// REDCARPET_TEST_MOSQUITTO (host:port). Unset, the test is skipped; set,
// the broker must answer.
func mosquitto(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("REDCARPET_TEST_MOSQUITTO")
	if addr == "" {
		t.Skip("REDCARPET_TEST_MOSQUITTO is not set (host:port of a Mosquitto 2 broker, e.g. 127.0.0.1:1883)")
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("REDCARPET_TEST_MOSQUITTO=%s: broker unreachable: %v", addr, err)
	}
	c.Close()
	return "tcp://" + addr
}

// randomTenant keeps a test's topics, retained messages and sessions apart
// from anything else on a shared broker.
func randomTenant() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

// cleanBroker removes what a test leaves on a persistent broker: retained
// messages of the tenant and the Ingest's persistent session.
func cleanBroker(t *testing.T, url, tenant string, sessions ...string) {
	t.Cleanup(func() {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("clean-" + tenant).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Errorf("clean broker: %v", tok.Error())
			return
		}
		for _, topic := range []string{wire.HeadTopic(tenant), wire.StateTopic(tenant, "s1")} {
			c.Publish(topic, 1, true, []byte{}).WaitTimeout(5 * time.Second)
		}
		c.Disconnect(100)
		for _, id := range sessions {
			s := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).SetAutoReconnect(false))
			if tok := s.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
				s.Disconnect(100)
			}
		}
	})
}

// hqSink is HQ's event sink as these tests use it: the Ingest stores into
// it and received reads it back.
type hqSink interface {
	hq.Sink
	postgres.Queries
}

// hqDB opens HQ's database for a test: its event sink and its change log,
// which keeps retention changes per tenant. What it opens is closed when
// the test ends.
type hqDB func(t *testing.T, retention int) (hqSink, hq.ChangeLog)

// boltHQ is the demo's HQ database: one bbolt file holding both.
func boltHQ(t *testing.T, retention int) (hqSink, hq.ChangeLog) {
	t.Helper()
	sink, err := hq.OpenBolt(t.TempDir() + "/hq.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	log, err := sink.ChangeLog(&hq.ChangeLogOpts{Retention: retention})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("HQ database: bbolt")
	return sink, log
}

// postgresOrBolt is the HQ database of the tests run against Mosquitto:
// production's, PostgreSQL on a schema of the test's own, when
// REDCARPET_TEST_POSTGRES is set (CI sets it; a database that does not
// answer fails the test); bbolt when it is not.
func postgresOrBolt(t *testing.T, retention int) (hqSink, hq.ChangeLog) {
	t.Helper()
	if os.Getenv(pgtest.Env) == "" {
		t.Log(pgtest.Env + " is not set")
		return boltHQ(t, retention)
	}
	db, err := postgres.Open(context.Background(), pgtest.Schema(t), postgres.Options{Retain: retention})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	t.Logf("HQ database: PostgreSQL (%s)", pgtest.Env)
	return db.Sink, db.ChangeLog
}

// hqSide is HQ: its database (the sink and the change log), a Responder
// and an Ingest.
type hqSide struct {
	tenant string
	sink   hqSink
	log    hq.ChangeLog
	resp   *hq.Responder
	ingest *hq.Ingest
}

func startHQ(t *testing.T, url, tenant string, retention int, open hqDB) *hqSide {
	t.Helper()
	sink, log := open(t, retention)
	h := &hqSide{tenant: tenant, sink: sink, log: log}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	group := "g" + tenant
	h.resp = hq.NewResponder(hq.ResponderOptions{Broker: url, ClientID: "resp-" + tenant, ShareGroup: group,
		Tenants: []string{tenant}, Log: log, HeadEvery: 50 * time.Millisecond,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	h.ingest = hq.New(hq.Options{Broker: url, ClientID: "ingest-" + tenant, ShareGroup: group, Tenant: tenant, Sink: sink,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	cleanBroker(t, url, tenant, "ingest-"+tenant)
	wg.Go(func() {
		if err := h.resp.Run(ctx); err != nil {
			t.Errorf("responder: %v", err)
		}
	})
	wg.Go(func() {
		if err := h.ingest.Run(ctx); err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	for _, ready := range []<-chan struct{}{h.resp.Ready(), h.ingest.Ready()} {
		select {
		case <-ready:
		case <-time.After(20 * time.Second):
			t.Fatal("HQ not ready")
		}
	}
	return h
}

func (h *hqSide) append(t testing.TB, cs ...wire.Change) uint64 {
	t.Helper()
	var head uint64
	for len(cs) > 0 { // in import-sized batches
		n := min(len(cs), hq.ImportBatch)
		var err error
		if head, err = h.log.Append(context.Background(), h.tenant, cs[:n]); err != nil {
			t.Fatal(err)
		}
		cs = cs[n:]
	}
	return head
}

func (h *hqSide) head(t testing.TB) wire.Head {
	t.Helper()
	hd, err := h.log.Head(context.Background(), h.tenant)
	if err != nil {
		t.Fatal(err)
	}
	return hd
}

// received returns the events HQ's sink holds from store s1, decoded.
func (h *hqSide) received(t testing.TB) []receivedEvent {
	t.Helper()
	ids, err := h.sink.IDs(h.tenant, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var out []receivedEvent
	for _, id := range ids {
		ce, ok, err := h.sink.Event(h.tenant, "s1", id)
		if err != nil || !ok {
			t.Fatalf("event %s: %v", id, err)
		}
		kind, _ := wire.KindOf(ce.Type)
		var data struct {
			MemberID  string `json:"member_id"`
			RequestID string `json:"request_id"`
			Events    int    `json:"events_removed"`
		}
		_ = json.Unmarshal(ce.Data, &data)
		out = append(out, receivedEvent{kind: kind, member: data.MemberID, request: data.RequestID, events: data.Events})
	}
	return out
}

type receivedEvent struct {
	kind            edge.Kind
	member, request string
	events          int
}

// storeSide is a store gateway: its database, a Downlink running for the
// whole test, and an uplink that the test starts and stops.
type storeSide struct {
	*gateway
	url, tenant string
	d           *Downlink
	stopUplink  func()
}

func startStore(t *testing.T, url, tenant string, o Options) *storeSide {
	t.Helper()
	return startStoreOn(t, newGateway(t), url, tenant, o)
}

func startStoreOn(t *testing.T, g *gateway, url, tenant string, o Options) *storeSide {
	t.Helper()
	o.Tenant, o.Store = tenant, "s1"
	if o.RetryAfter == 0 {
		o.RetryAfter = 2 * time.Second
	}
	s := &storeSide{gateway: g, url: url, tenant: tenant, d: g.downlink(t, o)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.d.Run(ctx) }()
	t.Cleanup(func() {
		if s.stopUplink != nil {
			s.stopUplink()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("downlink: %v", err)
		}
	})
	return s
}

// connect starts the store's uplink, which attaches the downlink to its
// connection.
func (s *storeSide) connect(t *testing.T) {
	t.Helper()
	up := uplink.New(s.ob, uplink.Options{
		Broker: s.url, ClientID: "store-" + s.tenant + "-s1", Tenant: s.tenant, Store: "s1",
		BatchMaxAge: 20 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		OnConnect: s.d.Attach, OnDisconnect: s.d.Detach,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	s.stopUplink = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("uplink: %v", err)
		}
		s.stopUplink = nil
	}
}

// disconnect stops the uplink: the store is offline.
func (s *storeSide) disconnect(t *testing.T) {
	t.Helper()
	s.stopUplink()
	if s.d.Stats().Attached {
		t.Error("downlink still attached after the uplink stopped")
	}
}

// converge waits until the store applied HQ's head, then compares every
// member and offer.
func converge(t *testing.T, h *hqSide, s *storeSide) {
	t.Helper()
	eventually(t, "the store to apply HQ's head", func() bool {
		return s.d.Version() == h.head(t).Version && !s.d.Stats().Snapshot
	})
	compare(t, h, s.st)
}

// compare checks that the store holds exactly HQ's current members (data,
// cards and barcodes) and offers.
func compare(t *testing.T, h *hqSide, st *store.Store) {
	t.Helper()
	want := map[string]string{}
	var members []*wire.MemberChange
	var offers []string
	cursor := ""
	for {
		cs, next, _, err := h.log.Snapshot(context.Background(), h.tenant, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			switch c.Kind {
			case wire.ChangeMemberUpsert:
				b, _ := json.Marshal(c.Member.Member)
				want[c.Member.Member.ID] = string(b)
				members = append(members, c.Member)
			case wire.ChangeOfferUpsert:
				b, _ := json.Marshal(c.Offer)
				offers = append(offers, string(b))
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	got := memberJSON(t, st)
	if !mapsEqual(got, want) {
		var missing, extra, differ []string
		for id, v := range want {
			if g, ok := got[id]; !ok {
				missing = append(missing, id)
			} else if g != v {
				differ = append(differ, id)
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				extra = append(extra, id)
			}
		}
		t.Fatalf("store members differ from HQ: %d missing %.200v, %d extra %.200v, %d differ %.200v",
			len(missing), missing, len(extra), extra, len(differ), differ)
	}
	for _, m := range members {
		for _, c := range m.Cards {
			uid, _ := hex.DecodeString(c)
			if got, err := st.MemberByCard(uid); err != nil || got.ID != m.Member.ID {
				t.Fatalf("card of %s resolves to %q, %v", m.Member.ID, got.ID, err)
			}
		}
		if got, _, err := st.MemberByBarcode(m.Loyalty); err != nil || got.ID != m.Member.ID {
			t.Fatalf("barcode of %s resolves to %q, %v", m.Member.ID, got.ID, err)
		}
	}
	stored, err := st.Offers()
	if err != nil {
		t.Fatal(err)
	}
	var gotOffers []string
	for _, o := range stored {
		b, _ := json.Marshal(o)
		gotOffers = append(gotOffers, string(b))
	}
	if !slices.Equal(gotOffers, offers) {
		t.Fatalf("store offers %v\nHQ offers %v", gotOffers, offers)
	}
	if c, _ := st.Count(); c.Members != len(want) || c.Cards != len(members) || c.Barcodes != len(members) {
		t.Fatalf("store counts %+v for %d members (stale index entries?)", c, len(want))
	}
}

func upserts(from, to, rev int) []wire.Change {
	var cs []wire.Change
	for i := from; i < to; i++ {
		cs = append(cs, upsert(0, i, rev))
	}
	return cs
}

func offerChange(id string, pct float64) wire.Change {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return wire.Change{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{ID: id, Title: "Offer " + id,
		Channels: []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout}, ValidFrom: t0, ValidTo: t0.AddDate(0, 1, 0), DiscountPct: pct}}
}

func id(i int) string { return fmt.Sprintf("M-%07d", i) }

func TestEndToEndMochi(t *testing.T) { testEndToEnd(t, mochi(t), "acme", boltHQ) }
func TestEndToEndMosquitto(t *testing.T) {
	testEndToEnd(t, mosquitto(t), randomTenant(), postgresOrBolt)
}

// testEndToEnd: a new store's first sync (a snapshot), live changes, and
// the offline test: while the store is away HQ appends more changes than
// Mosquitto would queue for it (max_queued_messages 1000), among them the
// erasure of a member whose recognitions wait in the store's outbox. On
// reconnect the store converges; the member no longer resolves; their
// events never reach HQ, and HQ receives the member.erased acknowledgement.
func testEndToEnd(t *testing.T, url, tenant string, open hqDB) {
	h := startHQ(t, url, tenant, hq.DefaultRetention, open)
	h.append(t, append(upserts(0, 300, 1), offerChange("O-1", 10), offerChange("O-2", 20), offerChange("O-3", 30), offerChange("O-4", 40))...)

	s := startStore(t, url, tenant, Options{})
	s.connect(t)
	converge(t, h, s)
	if st := s.d.Stats(); st.Snapshots != 1 || st.SnapshotsDone != 1 {
		t.Errorf("first sync: %+v; want one snapshot", st)
	}

	// Live changes arrive through the head.
	h.append(t, append(upserts(300, 310, 1), append(upserts(0, 10, 2),
		wire.Change{Kind: wire.ChangeOfferDelete, OfferID: "O-4"}, offerChange("O-5", 50), offerChange("O-1", 15))...)...)
	converge(t, h, s)

	// Offline.
	s.disconnect(t)
	const victim, kept, reborn = 10, 11, 12
	queued := []edge.Event{recognitionOf(id(victim)), recognitionOf(id(kept)), recognitionOf(id(victim)), recognitionOf(id(kept)), recognitionOf(id(victim))}
	if err := s.ob.Append(queued); err != nil {
		t.Fatal(err)
	}
	var offline []wire.Change
	offline = append(offline, upserts(0, 600, 3)...)
	offline = append(offline, wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id(victim), RequestID: "GDPR-42"}})
	offline = append(offline, wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id(reborn), RequestID: "GDPR-43"}})
	offline = append(offline, upserts(1000, 1600, 3)...)
	offline = append(offline, upsert(0, reborn, 4)) // registered again after the erasure: present
	offline = append(offline, wire.Change{Kind: wire.ChangeOfferDelete, OfferID: "O-2"}, offerChange("O-6", 60))
	h.append(t, offline...)
	if n := len(offline); n <= 1000 {
		t.Fatalf("only %d offline changes", n)
	}

	s.connect(t)
	converge(t, h, s)
	if _, err := s.st.MemberByCard(card(victim)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("erased member resolves by card: %v", err)
	}
	if _, _, err := s.st.MemberByBarcode(fmt.Sprintf("LOY%07d", victim)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("erased member resolves by barcode: %v", err)
	}
	if m, err := s.st.Member(id(reborn)); err != nil || m.Segment != "rev-4" {
		t.Errorf("member registered again after erasure: %+v, %v", m, err)
	}
	// The outbox drains to HQ: the kept member's events and the
	// acknowledgement, never the erased member's events.
	eventually(t, "the acknowledgements at HQ", func() bool {
		n := 0
		for _, e := range h.received(t) {
			if e.kind == edge.KindErased {
				n++
			}
		}
		return n == 2 && s.ob.Stats().Backlog == 0
	})
	var keptSeen int
	for _, e := range h.received(t) {
		switch {
		case e.kind == edge.KindErased && e.member == id(victim):
			if e.request != "GDPR-42" || e.events != 3 {
				t.Errorf("acknowledgement %+v; want request GDPR-42, 3 events removed", e)
			}
		case e.kind == edge.KindErased:
			if e.member != id(reborn) || e.request != "GDPR-43" || e.events != 0 {
				t.Errorf("acknowledgement %+v", e)
			}
		case e.member == id(victim):
			t.Errorf("HQ received a %s event of the erased member", e.kind)
		case e.member == id(kept):
			keptSeen++
		}
	}
	if keptSeen != 2 {
		t.Errorf("HQ received %d events of the kept member, want 2", keptSeen)
	}
	st := s.d.Stats()
	if st.Snapshots != 1 || st.Pages < 4 || st.Purged != 3 || st.Acks != 2 {
		t.Errorf("after the outage: %+v; want no new snapshot, ≥4 pages, 3 purged, 2 acks", st)
	}
	t.Logf("downlink %+v", st)
	t.Logf("responder %+v", h.resp.Stats())
}

func TestSnapshotAfterRetentionMochi(t *testing.T) {
	testSnapshotAfterRetention(t, mochi(t), "acme", boltHQ)
}

func TestSnapshotAfterRetentionMosquitto(t *testing.T) {
	testSnapshotAfterRetention(t, mosquitto(t), randomTenant(), postgresOrBolt)
}

// testSnapshotAfterRetention: the store's cursor falls behind HQ's
// retention while it is offline, so it gets a snapshot, and the sweep
// deletes what HQ no longer has (an erasure it never saw as a change),
// with the queued events naming them.
func testSnapshotAfterRetention(t *testing.T, url, tenant string, open hqDB) {
	h := startHQ(t, url, tenant, 200, open)
	h.append(t, append(upserts(0, 300, 1), offerChange("O-1", 10), offerChange("O-2", 20), offerChange("O-3", 30))...)
	s := startStore(t, url, tenant, Options{PageSize: 64})
	s.connect(t)
	converge(t, h, s)
	before := s.d.Version()

	s.disconnect(t)
	const victim, kept = 20, 21
	if err := s.ob.Append([]edge.Event{recognitionOf(id(victim)), recognitionOf(id(kept))}); err != nil {
		t.Fatal(err)
	}
	var offline []wire.Change
	offline = append(offline, upserts(100, 300, 2)...)
	offline = append(offline,
		wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id(victim), RequestID: "GDPR-1"}},
		wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id(30), RequestID: "GDPR-2"}},
		wire.Change{Kind: wire.ChangeOfferDelete, OfferID: "O-2"})
	offline = append(offline, upserts(300, 450, 2)...)
	h.append(t, offline...)
	if hd := h.head(t); hd.Oldest <= before+1 {
		t.Fatalf("head %+v: the store's cursor %d is still retained", hd, before)
	}

	s.connect(t)
	converge(t, h, s)
	st := s.d.Stats()
	if st.Snapshots != 2 || st.SnapshotsDone != 2 || st.Swept != 2 {
		t.Errorf("stats %+v; want a second snapshot sweeping 2 members", st)
	}
	if _, err := s.st.MemberByCard(card(victim)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("swept member resolves: %v", err)
	}
	eventually(t, "the outbox to drain", func() bool { return s.ob.Stats().Backlog == 0 && len(h.received(t)) >= 1 })
	for _, e := range h.received(t) {
		if e.member == id(victim) {
			t.Errorf("HQ received a %s event of the swept member", e.kind)
		}
	}
	if got := h.received(t); len(got) != 1 || got[0].member != id(kept) {
		t.Errorf("HQ received %+v; want the kept member's recognition only", got)
	}
}

// TestSnapshotResumesAfterRestart: a store stopped in the middle of a
// snapshot continues it from where it was after a restart, and the sweep
// still removes what HQ does not hold.
func TestSnapshotResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	url := mochi(t)
	h := startHQ(t, url, "acme", hq.DefaultRetention, boltHQ)
	h.append(t, upserts(0, 400, 1)...)
	path := t.TempDir() + "/redcarpet.db"
	g := openGateway(t, path)
	// A stale member the snapshot must sweep.
	if err := g.st.PutMembers([]edge.MemberRecord{record(memberChange(9999, 1))}); err != nil {
		t.Fatal(err)
	}
	// The first three pages of a snapshot, as HQ's Responder numbers it,
	// then the process stops.
	d := g.downlink(t, Options{Tenant: "acme", Store: "s1"})
	cursor := ""
	for range 3 {
		cs, next, v, err := h.log.Snapshot(ctx, "acme", cursor, 50)
		if err != nil {
			t.Fatal(err)
		}
		p := &wire.ChangePage{Head: v, Snapshot: &wire.SnapshotPage{ID: fmt.Sprintf("%d.test", v), Version: v, Next: next}, Changes: cs}
		if err := d.applySnapshotPage(ctx, p); err != nil {
			t.Fatal(err)
		}
		cursor = next
	}
	g.close()

	s := startStoreOn(t, openGateway(t, path), url, "acme", Options{PageSize: 50})
	if s.d.snap == nil || s.d.snap.Pages != 3 || s.d.snap.Next != cursor || s.d.Version() != 0 {
		t.Fatalf("after restart: progress %+v, version %d", s.d.snap, s.d.Version())
	}
	s.connect(t)
	converge(t, h, s)
	if st := s.d.Stats(); st.Snapshots != 0 || st.SnapshotsDone != 1 || st.Swept != 1 {
		t.Errorf("resumed snapshot: %+v; want it continued, not restarted, and 1 member swept", st)
	}
	if _, err := s.st.Member(id(9999)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stale member after the snapshot: %v", err)
	}
}

// TestRetriesAndIgnoresStalePages: a request HQ does not answer is asked
// again; duplicate, stale, gapped and malformed pages change nothing.
func TestRetriesAndIgnoresStalePages(t *testing.T) {
	url := mochi(t)
	s := startStore(t, url, "acme", Options{RetryAfter: 200 * time.Millisecond, SyncWait: 100 * time.Millisecond})
	s.connect(t)
	eventually(t, "a request to go unanswered", func() bool { return s.d.Stats().Retries >= 2 })

	h := startHQ(t, url, "acme", hq.DefaultRetention, boltHQ) // HQ comes up late
	h.append(t, upserts(0, 50, 1)...)
	converge(t, h, s)
	h.append(t, upserts(50, 60, 1)...)
	converge(t, h, s)

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("intruder").SetAutoReconnect(false))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(50)
	publish := func(p any) {
		t.Helper()
		var b []byte
		switch p := p.(type) {
		case []byte:
			b = p
		default:
			b, _ = json.Marshal(p)
		}
		if tok := pub.Publish(wire.ChangesTopic("acme", "s1"), 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	v := s.d.Version()
	before := s.d.Stats()
	publish(wire.ChangePage{RequestID: "old", Head: v, Changes: []wire.Change{upsert(1, 0, 9), upsert(2, 1, 9)}})                       // stale
	publish(wire.ChangePage{RequestID: "gap", Head: v + 9, Changes: []wire.Change{erase(v+5, 3, "evil")}})                              // a gap
	publish(wire.ChangePage{RequestID: "snap", Head: v, Snapshot: &wire.SnapshotPage{ID: "1.x", Version: 1}, Changes: []wire.Change{}}) // unasked snapshot
	publish([]byte(`{"changes":[{"version":5},{"version":4}]}`))
	publish([]byte("junk"))
	eventually(t, "the pages counted", func() bool {
		st := s.d.Stats()
		return st.Stale-before.Stale == 3 && st.Bad-before.Bad == 2
	})
	if st := s.d.Stats(); s.d.Version() != v || st.Erasures != 0 || st.Snapshots != before.Snapshots {
		t.Errorf("stale pages applied: version %d→%d, %+v", v, s.d.Version(), st)
	}
	compare(t, h, s.st)
}
