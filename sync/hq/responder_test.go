package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// pollUntil polls cond until it holds or 10 seconds passed.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func runResponder(t *testing.T, o ResponderOptions) *Responder {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = fmt.Sprintf("responder-%d", time.Now().UnixNano())
	}
	if o.HeadEvery == 0 {
		o.HeadEvery = 20 * time.Millisecond
	}
	o.BackoffMin, o.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	r := NewResponder(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("responder not ready")
	}
	return r
}

// fakeStore is a paho client speaking the store's side of the protocol by
// hand.
type fakeStore struct {
	t             *testing.T
	c             mqtt.Client
	tenant, store string
	pages         chan wire.ChangePage
	heads         chan wire.Head
	n             atomic.Uint64
}

func newFakeStore(t *testing.T, url, tenant, store string) *fakeStore {
	t.Helper()
	f := &fakeStore{t: t, tenant: tenant, store: store, pages: make(chan wire.ChangePage, 100), heads: make(chan wire.Head, 100)}
	f.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("fake-%s-%s-%d", tenant, store, time.Now().UnixNano())).SetAutoReconnect(false))
	if tok := f.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { f.c.Disconnect(50) })
	sub := f.c.SubscribeMultiple(map[string]byte{wire.ChangesTopic(tenant, store): 1, wire.HeadTopic(tenant): 1}, func(_ mqtt.Client, m mqtt.Message) {
		if strings.HasSuffix(m.Topic(), "/head") {
			var h wire.Head
			if len(m.Payload()) > 0 && json.Unmarshal(m.Payload(), &h) == nil {
				f.heads <- h
			}
			return
		}
		var p wire.ChangePage
		if err := json.Unmarshal(m.Payload(), &p); err != nil {
			t.Errorf("page: %v", err)
			return
		}
		f.pages <- p
	})
	if !sub.WaitTimeout(10*time.Second) || sub.Error() != nil {
		t.Fatalf("subscribe: %v", sub.Error())
	}
	return f
}

// ask publishes a request and returns the answer.
func (f *fakeStore) ask(req wire.ChangeRequest) wire.ChangePage {
	f.t.Helper()
	req.RequestID = fmt.Sprintf("q%d", f.n.Add(1))
	b, _ := json.Marshal(req)
	if tok := f.c.Publish(wire.RequestTopic(f.tenant, f.store), 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		f.t.Fatalf("publish request: %v", tok.Error())
	}
	for {
		select {
		case p := <-f.pages:
			if p.RequestID == req.RequestID {
				return p
			}
		case <-time.After(10 * time.Second):
			f.t.Fatalf("no answer to %+v", req)
		}
	}
}

// waitHead waits for a retained head with the given version.
func (f *fakeStore) waitHead(version uint64) wire.Head {
	f.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case h := <-f.heads:
			if h.Version == version {
				return h
			}
		case <-timeout:
			f.t.Fatalf("no head %d", version)
		}
	}
}

// snapshot reads a whole snapshot from a first page.
func (f *fakeStore) snapshot(first wire.ChangePage, max int) (changes []wire.Change, pages int) {
	f.t.Helper()
	p := first
	for {
		if p.Snapshot == nil || p.Snapshot.ID != first.Snapshot.ID || p.Snapshot.Version != first.Snapshot.Version {
			f.t.Fatalf("page %+v does not continue snapshot %+v", p.Snapshot, first.Snapshot)
		}
		changes = append(changes, p.Changes...)
		pages++
		if p.Snapshot.Next == "" {
			return changes, pages
		}
		p = f.ask(wire.ChangeRequest{Since: 0, SnapshotID: p.Snapshot.ID, Snapshot: p.Snapshot.Next, Max: max})
	}
}

func TestResponderAnswers(t *testing.T) {
	b := hqtest.NewBroker(t)
	l := openChangeLog(t, &ChangeLogOpts{Retention: 20})
	var cs []wire.Change
	for i := range 12 {
		cs = append(cs, memberUpsert(fmt.Sprintf("M-%02d", i), "04A22B1C"))
	}
	mustAppendLog(t, l, "acme", append(cs, offerUpsert("O-1"), offerUpsert("O-2"))...)
	r := runResponder(t, ResponderOptions{Broker: b.URL, Tenants: []string{"acme", "beta"}, Log: l})
	s := newFakeStore(t, b.URL, "acme", "s1")
	h := s.waitHead(14)
	if h.Oldest != 1 {
		t.Errorf("head %+v", h)
	}

	p := s.ask(wire.ChangeRequest{Since: 3, Max: 5})
	if p.Snapshot != nil || p.Head != 14 || !equalVersions(p.Changes, 4, 8) {
		t.Fatalf("Since 3 = %+v", p)
	}
	if p := s.ask(wire.ChangeRequest{Since: 14}); p.Snapshot != nil || len(p.Changes) != 0 || p.Head != 14 {
		t.Errorf("Since head = %+v", p)
	}
	// A new store (cursor 0) gets a snapshot, in pages of Max.
	first := s.ask(wire.ChangeRequest{Since: 0, Max: 5})
	if first.Snapshot == nil || first.Snapshot.Version != 14 {
		t.Fatalf("Since 0 = %+v", first)
	}
	all, pages := s.snapshot(first, 5)
	if len(all) != 14 || pages != 3 {
		t.Errorf("snapshot of %d changes in %d pages; want 14 in 3", len(all), pages)
	}

	// A change is announced as a new retained head.
	mustAppendLog(t, l, "acme", memberErase("M-03", "GDPR-1"))
	s.waitHead(15)

	// A cursor older than the retention gets a snapshot without the
	// erased member.
	for i := range 10 {
		mustAppendLog(t, l, "acme", memberUpsert(fmt.Sprintf("M-%02d", (i+4)%12))) // all but M-03
	}
	p = s.ask(wire.ChangeRequest{Since: 2, Max: 100})
	if p.Snapshot == nil || p.Snapshot.Version != 25 || p.Snapshot.Next != "" || len(p.Changes) != 13 {
		t.Fatalf("old cursor: snapshot %+v with %d changes; want version 25, 13 changes", p.Snapshot, len(p.Changes))
	}
	for _, c := range p.Changes {
		if c.Member != nil && c.Member.Member.ID == "M-03" {
			t.Error("erased member in the snapshot")
		}
	}
	// A cursor ahead of HQ (HQ's data was replaced) gets a snapshot too.
	if p := s.ask(wire.ChangeRequest{Since: 99}); p.Snapshot == nil {
		t.Errorf("cursor ahead: %+v", p)
	}
	// A snapshot id HQ did not write starts a new snapshot.
	if p := s.ask(wire.ChangeRequest{Since: 25, SnapshotID: "junk", Snapshot: "m:M-05"}); p.Snapshot == nil || p.Snapshot.ID == "junk" || len(p.Changes) == 0 || p.Changes[0].Member.Member.ID != "M-00" {
		t.Errorf("unknown snapshot: %+v", p.Snapshot)
	}
	pollUntil(t, "the last page counted", func() bool { return r.Stats().Pages == 8 })
	st := r.Stats()
	if !st.Connected || st.Pages != 8 || st.SnapshotPages != 6 || st.Bad != 0 || st.HeadPublishes < 3 {
		t.Errorf("stats %+v", st)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		series[mf.GetName()] += len(mf.GetMetric())
	}
	want := map[string]int{
		"redcarpet_hq_downlink_connected":              1,
		"redcarpet_hq_downlink_connects_total":         1,
		"redcarpet_hq_downlink_errors_total":           1,
		"redcarpet_hq_downlink_head_publishes_total":   1,
		"redcarpet_hq_downlink_changes_sent_total":     1,
		"redcarpet_hq_downlink_pages_total":            1,
		"redcarpet_hq_downlink_snapshot_pages_total":   1,
		"redcarpet_hq_downlink_queue_requests":         1,
		"redcarpet_hq_downlink_requests_total":         1,
		"redcarpet_hq_downlink_requests_bad_total":     2, // by reason
		"redcarpet_hq_downlink_requests_dropped_total": 1,
		"redcarpet_hq_downlink_resend_requests_total":  1,
	}
	if !maps.Equal(series, want) {
		t.Errorf("metric series %v, want %v", series, want)
	}
}

func equalVersions(cs []wire.Change, from, to uint64) bool {
	if len(cs) != int(to-from+1) {
		return false
	}
	for i, c := range cs {
		if c.Version != from+uint64(i) {
			return false
		}
	}
	return true
}

func TestResponderBoundsPageBytes(t *testing.T) {
	b := hqtest.NewBroker(t)
	l := openChangeLog(t, nil)
	var cs []wire.Change
	for i := range 100 {
		c := memberUpsert(fmt.Sprintf("M-%03d", i))
		c.Member.Member.Segment = strings.Repeat("s", 60)
		cs = append(cs, c)
	}
	mustAppendLog(t, l, "acme", cs...)
	runResponder(t, ResponderOptions{Broker: b.URL, Tenants: []string{"acme"}, Log: l, PageBytes: 4 << 10})
	s := newFakeStore(t, b.URL, "acme", "s1")
	p := s.ask(wire.ChangeRequest{Since: 1, Max: 1000})
	raw, _ := json.Marshal(p)
	if len(p.Changes) == 0 || len(p.Changes) >= 99 || len(raw) > 4<<10 || p.Changes[0].Version != 2 {
		t.Errorf("page of %d changes, %d bytes", len(p.Changes), len(raw))
	}
	first := s.ask(wire.ChangeRequest{Since: 0, Max: 1000})
	all, pages := s.snapshot(first, 1000)
	if len(all) != 100 || pages < 3 {
		t.Errorf("snapshot of %d members in %d pages", len(all), pages)
	}
}

func TestResponderBadRequests(t *testing.T) {
	b := hqtest.NewBroker(t)
	l := openChangeLog(t, nil)
	mustAppendLog(t, l, "acme", memberUpsert("M-1"))
	r := runResponder(t, ResponderOptions{Broker: b.URL, Tenants: []string{"acme"}, Log: l})
	pub := hqtest.NewPublisher(t, b.URL)
	for _, payload := range []string{"", "[]", "{", `{"since":-1}`, `{"max":-5}`, `{"request_id":"` + strings.Repeat("x", 200) + `"}`} {
		pub.Publish(t, wire.RequestTopic("acme", "s1"), []byte(payload))
	}
	pollUntil(t, "bad requests counted", func() bool { return r.Stats().Bad == 6 })
	// The responder still answers.
	s := newFakeStore(t, b.URL, "acme", "s1")
	if p := s.ask(wire.ChangeRequest{Since: 1}); p.Head != 1 {
		t.Errorf("answer after bad requests: %+v", p)
	}
	if err := NewResponder(ResponderOptions{Broker: b.URL, ClientID: "x", Log: l}).Run(context.Background()); err == nil {
		t.Error("Run without tenants: no error")
	}
}

func TestResponderReconnects(t *testing.T) {
	b := hqtest.NewBroker(t)
	l := openChangeLog(t, nil)
	mustAppendLog(t, l, "acme", memberUpsert("M-1"))
	r := runResponder(t, ResponderOptions{Broker: b.URL, ClientID: "responder-1", Tenants: []string{"acme"}, Log: l})
	b.Kick(t, "responder-1")
	pollUntil(t, "a second connection", func() bool { return r.Stats().Connects >= 2 && r.Stats().Connected })
	s := newFakeStore(t, b.URL, "acme", "s1")
	if p := s.ask(wire.ChangeRequest{Since: 0}); p.Snapshot == nil || len(p.Changes) != 1 {
		t.Errorf("answer after reconnect: %+v", p)
	}
}

func TestDecodeRequest(t *testing.T) {
	tenants := map[string]bool{"acme": true}
	ok := wire.RequestTopic("acme", "s1")
	cases := []struct {
		topic, payload, reason string
	}{
		{ok, `{"request_id":"a","since":3,"max":10}`, ""},
		{ok, `{"request_id":"a","since":3,"snapshot_id":"3.ab","snapshot":"m:M-1","future":1}`, ""},
		{wire.RequestTopic("beta", "s1"), `{}`, BadTopic},
		{"redcarpet/v1/acme/s1/req/other", `{}`, BadTopic},
		{"redcarpet/v1/acme/S 1/req/changes", `{}`, BadTopic},
		{ok, ``, BadPayload},
		{ok, `null`, BadPayload},
		{ok, `{"since":"3"}`, BadPayload},
		{ok, `{"max":-1}`, BadPayload},
		{ok, `{"snapshot":"` + strings.Repeat("c", 1025) + `"}`, BadPayload},
		{ok, `{"request_id":"` + strings.Repeat("c", MaxRequestBytes) + `"}`, BadPayload},
	}
	for _, c := range cases {
		tenant, store, req, err := decodeRequest(tenants, c.topic, []byte(c.payload))
		var br *badRequest
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%s %s: %v", c.topic, c.payload, err)
		case c.reason == "" && (tenant != "acme" || store != "s1" || req.Since != 3):
			t.Errorf("%s: %s %s %+v", c.payload, tenant, store, req)
		case c.reason != "" && (err == nil || !asBad(err, &br) || br.reason != c.reason):
			t.Errorf("%s %.40s: err %v, want reason %s", c.topic, c.payload, err, c.reason)
		}
	}
}

func asBad(err error, br **badRequest) bool {
	b, ok := err.(*badRequest)
	*br = b
	return ok
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(wire.RequestTopic("acme", "s1"), []byte(`{"request_id":"a","since":3,"max":10}`))
	f.Add(wire.RequestTopic("acme", "s1"), []byte(`{"snapshot_id":"3.ab","snapshot":"m:M-1"}`))
	f.Add("redcarpet/v1/acme/+/req/changes", []byte(`{}`))
	f.Add("x", []byte(`[`))
	tenants := map[string]bool{"acme": true}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		tenant, store, req, err := decodeRequest(tenants, topic, payload)
		if err != nil {
			return
		}
		if !tenants[tenant] || !validID(store) || req.Max < 0 || len(req.Snapshot) > 1024 {
			t.Errorf("accepted %q %q: %s %s %+v", topic, payload, tenant, store, req)
		}
	})
}
