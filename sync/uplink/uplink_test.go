package uplink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/uplink"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// gate is a broker hook that can hold uplink publishes before the broker
// sends their PUBACK.
type gate struct {
	mqtt.HookBase
	mu   sync.Mutex
	hold chan struct{}
	seen int
}

func (g *gate) ID() string           { return "gate" }
func (g *gate) Provides(b byte) bool { return b == mqtt.OnPublish }

func (g *gate) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if !strings.Contains(pk.TopicName, "/up/") {
		return pk, nil
	}
	g.mu.Lock()
	g.seen++
	h := g.hold
	g.mu.Unlock()
	if h != nil {
		<-h
	}
	return pk, nil
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}

func (g *gate) publishes() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen
}

// hq collects what reaches the broker's subscribers.
type hq struct {
	mu     sync.Mutex
	ids    map[string]int
	topics map[string]int
	states []wire.State
	bad    []string
	maxLen int
}

func newHQ() *hq { return &hq{ids: map[string]int{}, topics: map[string]int{}} }

func (h *hq) receive(topic string, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if strings.HasSuffix(topic, "/state") {
		if len(payload) == 0 {
			return // a retained message being cleared
		}
		var s wire.State
		if err := json.Unmarshal(payload, &s); err != nil {
			h.bad = append(h.bad, err.Error())
		}
		h.states = append(h.states, s)
		return
	}
	h.topics[topic]++
	h.maxLen = max(h.maxLen, len(payload))
	evs, err := wire.DecodeBatch(payload)
	if err != nil {
		h.bad = append(h.bad, err.Error())
		return
	}
	_, _, kind, _ := wire.ParseUplinkTopic(topic)
	for _, e := range evs {
		if k, _ := wire.KindOf(e.Type); k.Topic() != kind {
			h.bad = append(h.bad, fmt.Sprintf("event %s of type %s on topic %s", e.ID, e.Type, topic))
		}
		h.ids[e.ID]++
	}
}

func (h *hq) unique() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}

// subscribe attaches h to b in-process.
func (h *hq) subscribe(t *testing.T, b *broker.Broker) {
	t.Helper()
	err := b.Server().Subscribe(wire.Root+"/#", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		h.receive(pk.TopicName, pk.Payload)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func startBroker(t *testing.T, addr string, hooks ...mqtt.Hook) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Options{Addr: addr, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freeAddr reserves a port for a broker started later.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func openOutbox(t *testing.T, path string) (*outbox.Outbox, func()) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	return ob, func() { ob.Close(); db.Close() }
}

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// fill appends n events of several kinds.
func fill(t *testing.T, ob *outbox.Outbox, n int) {
	t.Helper()
	var evs []edge.Event
	for i := range n {
		switch i % 3 {
		case 0:
			evs = append(evs, edge.Event{Kind: edge.KindOfferShown, Source: "fresh-reader", Time: t0,
				Exposure: &edge.Exposure{OfferID: "o1", MemberID: fmt.Sprint("M", i), Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1}})
		case 1:
			evs = append(evs, edge.Event{Kind: edge.KindRecognition, Source: "fresh-reader", Time: t0,
				Recognition: &edge.Recognition{MemberID: fmt.Sprint("M", i), Via: edge.ViaCard, Zone: "fresh"}})
		default:
			evs = append(evs, edge.Event{Kind: edge.KindFootfall, Source: "engine", Time: t0,
				Footfall: &edge.Footfall{Door: "main", Start: t0, End: t0.Add(15 * time.Minute), In: i}})
		}
		if len(evs) == 500 {
			if err := ob.Append(evs); err != nil {
				t.Fatal(err)
			}
			evs = nil
		}
	}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
}

func options(url string) uplink.Options {
	return uplink.Options{
		Broker: url, ClientID: "store-test", Tenant: "acme", Store: "s1", Version: "test",
		BatchMaxEvents: 100, BatchMaxAge: 20 * time.Millisecond, InFlight: 4,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		AckTimeout: 5 * time.Second, ConnectTimeout: 2 * time.Second,
	}
}

func run(t *testing.T, ob *outbox.Outbox, o uplink.Options) (*uplink.Uplink, func()) {
	t.Helper()
	u := uplink.New(ob, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	return u, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeliversBatchesAndDeletesAfterAck(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	const n = 1000
	fill(t, ob, n)
	u, stop := run(t, ob, options(b.URL()))
	eventually(t, 10*time.Second, "backlog to drain", func() bool { return ob.Stats().Backlog == 0 })
	eventually(t, 5*time.Second, "HQ to receive everything", func() bool { return h.unique() == n })
	stop()
	// mochi delivers to subscribers just after the PUBACK: wait for the
	// offline state published on the way out.
	eventually(t, 5*time.Second, "the offline state", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.states) > 1 && !h.states[len(h.states)-1].Online
	})

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Fatalf("bad payloads: %v", h.bad)
	}
	for id, c := range h.ids {
		if c != 1 {
			t.Errorf("event %s received %d times without any reconnect", id, c)
		}
	}
	for _, kind := range []string{"exposure", "recognition", "footfall"} {
		if h.topics["redcarpet/v1/acme/s1/up/"+kind] == 0 {
			t.Errorf("nothing on the %s topic", kind)
		}
	}
	st := u.Stats()
	if st.EventsAcked != n || st.Messages >= n || st.Messages < n/100 {
		t.Errorf("stats %+v: want %d acked in batched messages", st, n)
	}
	if len(h.states) == 0 || !h.states[0].Online || h.states[len(h.states)-1].Online {
		t.Errorf("states %+v: want online first and offline after a clean stop", h.states)
	}
}

func TestBatchesRespectByteLimit(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	fill(t, ob, 300)
	o := options(b.URL())
	o.BatchMaxBytes = 2048
	_, stop := run(t, ob, o)
	defer stop()
	eventually(t, 10*time.Second, "delivery", func() bool { return h.unique() == 300 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.maxLen > 2048 {
		t.Errorf("a message of %d bytes exceeds the 2048-byte limit", h.maxLen)
	}
}

// TestNoDeleteWithoutPuback kills the broker while it holds the PUBACKs:
// nothing may be deleted, and everything arrives after the broker returns.
func TestNoDeleteWithoutPuback(t *testing.T) {
	g := &gate{hold: make(chan struct{})}
	addr := freeAddr(t)
	b := startBroker(t, addr, g)
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	const n = 300
	fill(t, ob, n)
	u, stop := run(t, ob, options("tcp://"+addr))
	defer stop()
	eventually(t, 5*time.Second, "a publish to reach the broker", func() bool { return g.publishes() > 0 })
	// The broker dies before acknowledging: Close drops the connections at
	// once, then waits for the client goroutine the gate holds.
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	eventually(t, 5*time.Second, "the uplink to notice", func() bool { return !u.Stats().Connected })
	if got := ob.Stats().Backlog; got != n {
		t.Fatalf("backlog %d after the broker died before any PUBACK, want %d: events deleted without acknowledgement", got, n)
	}
	if u.Stats().EventsAcked != 0 {
		t.Fatalf("%d events counted acked", u.Stats().EventsAcked)
	}
	g.close()
	<-closed

	b = startBroker(t, addr)
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	eventually(t, 10*time.Second, "delivery after the broker returned", func() bool { return h.unique() == n && ob.Stats().Backlog == 0 })
	if u.Stats().Connects < 2 {
		t.Errorf("connects %d, want a new connection", u.Stats().Connects)
	}
}

// TestAckTimeoutReconnects: a broker that stops acknowledging (but keeps the
// TCP connection) is abandoned after AckTimeout for a new connection.
func TestAckTimeoutReconnects(t *testing.T) {
	g := &gate{hold: make(chan struct{})}
	b := startBroker(t, "127.0.0.1:0", g)
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	fill(t, ob, 50)
	o := options(b.URL())
	o.AckTimeout = 300 * time.Millisecond
	u, stop := run(t, ob, o)
	defer stop()
	eventually(t, 5*time.Second, "a second connection", func() bool { return u.Stats().Connects >= 2 })
	if got := ob.Stats().Backlog; got != 50 {
		t.Fatalf("backlog %d while no PUBACK came, want 50", got)
	}
	g.close()
	eventually(t, 10*time.Second, "delivery", func() bool { return ob.Stats().Backlog == 0 && h.unique() == 50 })
}

func TestWaitsForBrokerThenDelivers(t *testing.T) {
	addr := freeAddr(t)
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	fill(t, ob, 120)
	u, stop := run(t, ob, options("tcp://"+addr))
	defer stop()
	eventually(t, 5*time.Second, "failed connection attempts", func() bool { return u.Stats().ConnectFailures >= 2 })
	b := startBroker(t, addr)
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	eventually(t, 10*time.Second, "delivery", func() bool { return h.unique() == 120 && ob.Stats().Backlog == 0 })
}

func TestRestartDeliversKeptOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	ob, done := openOutbox(t, path)
	fill(t, ob, 90)
	_, stop := run(t, ob, options("tcp://"+freeAddr(t))) // nobody listens
	time.Sleep(50 * time.Millisecond)
	stop()
	done()

	b := startBroker(t, "127.0.0.1:0")
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	ob, done = openOutbox(t, path)
	defer done()
	if ob.Stats().Backlog != 90 {
		t.Fatalf("backlog %d after restart, want 90", ob.Stats().Backlog)
	}
	_, stop = run(t, ob, options(b.URL()))
	defer stop()
	eventually(t, 10*time.Second, "delivery after restart", func() bool { return h.unique() == 90 && ob.Stats().Backlog == 0 })
}

func TestLiveEventsFlow(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	_, stop := run(t, ob, options(b.URL()))
	defer stop()
	for i := 1; i <= 20; i++ {
		fill(t, ob, 1)
		eventually(t, 5*time.Second, "a live event", func() bool { return h.unique() == i })
	}
}

// TestMosquitto runs the uplink against the machine's Mosquitto. CI sets
// REDCARPET_TEST_MOSQUITTO; when it is set the broker must be there.
func TestMosquitto(t *testing.T) {
	addr := os.Getenv("REDCARPET_TEST_MOSQUITTO")
	if addr == "" {
		t.Skip("REDCARPET_TEST_MOSQUITTO not set (CI sets it to Mosquitto's host:port)")
	}
	tenant := fmt.Sprintf("t%d", time.Now().UnixNano())
	h := newHQ()
	got := make(chan struct{}, 1)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(tenant + "-hq").
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			h.receive(m.Topic(), m.Payload())
			select {
			case got <- struct{}{}:
			default:
			}
		}))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to Mosquitto at %s: %v", addr, tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe(wire.Root+"/"+tenant+"/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	const n = 600
	fill(t, ob, n)
	o := options("tcp://" + addr)
	o.Tenant, o.ClientID = tenant, tenant+"-store"
	_, stop := run(t, ob, o)
	eventually(t, 15*time.Second, "delivery through Mosquitto", func() bool { return h.unique() == n && ob.Stats().Backlog == 0 })
	stop()
	// Clear the retained state so the shared broker stays clean.
	sub.Publish(wire.StateTopic(tenant, "s1"), 1, true, []byte{}).WaitTimeout(time.Second)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Errorf("bad payloads: %v", h.bad)
	}
}

// TestBusyLoopIsNotAnAckTimeout: when deleting acknowledged events waits
// longer than AckTimeout (another writer holds bbolt's lock), the PUBACKs
// that arrived meanwhile are not mistaken for a dead connection.
func TestBusyLoopIsNotAnAckTimeout(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	fill(t, ob, 2000)
	o := options(b.URL())
	o.AckTimeout = 300 * time.Millisecond
	o.BatchMaxEvents = 50
	u, stop := run(t, ob, o)
	defer stop()
	eventually(t, 5*time.Second, "the first acknowledgements", func() bool { return u.Stats().EventsAcked > 0 })
	// Hold the writer: the uplink's next delete waits a second, while the
	// broker keeps acknowledging its window.
	db.Update(func(*bolt.Tx) error { time.Sleep(time.Second); return nil })
	eventually(t, 10*time.Second, "delivery", func() bool { return ob.Stats().Backlog == 0 && h.unique() == 2000 })
	if n := u.Stats().Connects; n != 1 {
		t.Errorf("%d connections: a busy loop was taken for an ack timeout", n)
	}
}
