package uplink_test

// Drain benchmarks: how fast a backlog leaves the outbox through the uplink
// (BenchmarkDrain), against the raw limit of the same MQTT messages
// published by a plain paho loop with the same in-flight window and no
// outbox (BenchmarkRawPublish), and the uplink's own per-message steps
// (BenchmarkDrainStages). Drain and RawPublish run against the embedded
// broker and, when REDCARPET_TEST_MOSQUITTO is set, the machine's
// Mosquitto; each broker has one QoS 1 subscriber that counts what it
// receives, as HQ would. The rates are what the broker acknowledged:
// Mosquitto drops what overflows a slow subscriber's queue
// (max_queued_messages, 1000 by default) after acknowledging it, which the
// received/op metric shows.
//
//	go test -run '^$' -bench 'Drain|RawPublish' -benchtime 1x ./sync/uplink/
//
// REDCARPET_BENCH_EVENTS sets the backlog (default 200 000 events).

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/uplink"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// benchOptions are the production defaults (200 events and at most
// 128 KiB per message, 16 messages in flight, 20 s ack timeout) except the
// linger, cut from 500 ms so that the last partial batch does not add half
// a second to the measurement.
func benchOptions(url, tenant string) uplink.Options {
	return uplink.Options{Broker: url, ClientID: tenant + "-store", Tenant: tenant, Store: "s1", Version: "bench",
		BatchMaxEvents: configs.DefaultBatchMaxEvents, BatchMaxBytes: configs.DefaultBatchMaxBytes,
		InFlight: configs.DefaultInFlight, AckTimeout: 20 * time.Second, BatchMaxAge: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

func benchEvents(b *testing.B) int {
	if s := os.Getenv("REDCARPET_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("REDCARPET_BENCH_EVENTS=%q", s)
		}
		return n
	}
	return 200_000
}

// benchBroker is where a benchmark publishes, with a counting subscriber.
type benchBroker struct {
	url, tenant string
	received    *atomic.Int64 // events the subscriber got
}

// benchBrokers runs f against the embedded broker and, when
// REDCARPET_TEST_MOSQUITTO is set, the machine's Mosquitto (on topics of a
// tenant of its own).
func benchBrokers(b *testing.B, f func(b *testing.B, bb benchBroker)) {
	b.Run("mochi", func(b *testing.B) {
		brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		defer brk.Close()
		f(b, benchSubscribe(b, brk.URL(), "bench"))
	})
	b.Run("mosquitto", func(b *testing.B) {
		addr := os.Getenv("REDCARPET_TEST_MOSQUITTO")
		if addr == "" {
			b.Skip("REDCARPET_TEST_MOSQUITTO not set")
		}
		f(b, benchSubscribe(b, "tcp://"+addr, fmt.Sprintf("bench%d", time.Now().UnixNano())))
	})
}

// benchSubscribe attaches a QoS 1 subscriber that counts the events of
// tenant's uplink messages.
func benchSubscribe(b *testing.B, url, tenant string) benchBroker {
	b.Helper()
	bb := benchBroker{url: url, tenant: tenant, received: new(atomic.Int64)}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(tenant + "-hq").
		SetAutoReconnect(false).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscriber connect %s: %v", url, tok.Error())
	}
	b.Cleanup(func() {
		// Clear the retained state the uplink leaves on a shared broker.
		c.Publish(wire.StateTopic(tenant, "s1"), 1, true, []byte{}).WaitTimeout(time.Second)
		c.Disconnect(100)
	})
	tok := c.Subscribe(wire.Root+"/"+tenant+"/+/up/+", 1, func(_ paho.Client, m paho.Message) {
		bb.received.Add(int64(countEvents(m.Payload())))
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	return bb
}

// settle waits (untimed, at most 10 s) for the subscriber to receive want
// events: brokers acknowledge before they deliver.
func (bb benchBroker) settle(want int64) {
	deadline := time.Now().Add(10 * time.Second)
	for bb.received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// countEvents counts a batch's CloudEvents cheaply: one "specversion" each.
func countEvents(p []byte) int { return strings.Count(string(p), `"specversion"`) }

// benchOutbox opens a fresh outbox holding n events of four kinds (half
// exposures, 30 % recognitions, footfall intervals, device states).
func benchOutbox(b *testing.B, n int) (*outbox.Outbox, func()) {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "db"), 0o600, outbox.DBOptions())
	if err != nil {
		b.Fatal(err)
	}
	ob, err := outbox.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	evs := make([]edge.Event, 0, 1000)
	for i := range n {
		var e edge.Event
		member := fmt.Sprint("M", 100000+i%5000)
		switch i % 10 {
		case 0, 1, 2, 3, 4:
			e = edge.Event{Kind: edge.KindOfferShown, Source: "fresh-reader", Time: at,
				Exposure: &edge.Exposure{OfferID: "bakery-croissant", MemberID: member, Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1}}
		case 5, 6, 7:
			e = edge.Event{Kind: edge.KindRecognition, Source: "fresh-reader", Time: at,
				Recognition: &edge.Recognition{MemberID: member, Via: edge.ViaCard, Zone: "fresh"}}
		case 8:
			e = edge.Event{Kind: edge.KindFootfall, Source: "engine", Time: at,
				Footfall: &edge.Footfall{Door: "main", Start: at, End: at.Add(15 * time.Minute), In: i % 40, Out: i % 37, Occupancy: i % 90}}
		default:
			e = edge.Event{Kind: edge.KindDeviceStatus, Source: "lane-2-reader", Time: at,
				Device: &edge.DeviceStatus{Device: "lane-2-reader", Kind: "mfrc522", State: edge.DeviceUp}}
		}
		evs = append(evs, e)
		if len(evs) == cap(evs) || i == n-1 {
			if err := ob.Append(evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	return ob, func() { ob.Close(); db.Close() }
}

// drain runs an uplink on ob until the outbox is empty and returns how
// long that took.
func drain(b *testing.B, ob *outbox.Outbox, o uplink.Options) (time.Duration, uplink.Stats) {
	b.Helper()
	u := uplink.New(ob, o)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	began := time.Now()
	go func() { ran <- u.Run(ctx) }()
	deadline := began.Add(5 * time.Minute)
	for ob.Stats().Backlog > 0 {
		if time.Now().After(deadline) {
			b.Fatalf("backlog %d after 5 minutes; uplink %+v", ob.Stats().Backlog, u.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(began)
	cancel()
	<-ran
	st := u.Stats()
	if st.Connects > 1 {
		b.Logf("%d connections during the drain (%d failed); %d events sent for %d", st.Connects, st.ConnectFailures, st.EventsSent, st.EventsAcked)
	}
	return elapsed, st
}

// BenchmarkDrain: a backlog of REDCARPET_BENCH_EVENTS events leaves the
// outbox through Uplink.Run (read, encode, publish at QoS 1, delete after
// PUBACK); the clock runs from Run's start to an empty outbox.
func BenchmarkDrain(b *testing.B) {
	benchBrokers(b, func(b *testing.B, bb benchBroker) {
		n := benchEvents(b)
		var (
			elapsed                time.Duration
			msgs, connects, resent uint64
		)
		bb.received.Store(0)
		for b.Loop() {
			b.StopTimer()
			ob, done := benchOutbox(b, n)
			b.StartTimer()
			d, st := drain(b, ob, benchOptions(bb.url, bb.tenant))
			b.StopTimer()
			done()
			b.StartTimer()
			elapsed += d
			msgs, connects, resent = msgs+st.Messages, connects+st.Connects, resent+st.EventsSent-st.EventsAcked
		}
		total := float64(n) * float64(b.N)
		bb.settle(int64(total))
		b.ReportMetric(total/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(bb.received.Load())/float64(b.N), "received/op")
		b.ReportMetric(float64(connects)/float64(b.N), "connects/op")
		b.ReportMetric(float64(resent)/float64(b.N), "resent/op")
	})
}

// capture is a broker hook that keeps a copy of every uplink PUBLISH.
type capture struct {
	mqtt.HookBase
	mu   sync.Mutex
	msgs []benchMsg
}

type benchMsg struct {
	topic   string
	payload []byte
	events  int
}

func (c *capture) ID() string           { return "capture" }
func (c *capture) Provides(b byte) bool { return b == mqtt.OnPublish }

func (c *capture) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if strings.Contains(pk.TopicName, "/up/") {
		p := append([]byte(nil), pk.Payload...)
		c.mu.Lock()
		c.msgs = append(c.msgs, benchMsg{topic: pk.TopicName, payload: p, events: countEvents(p)})
		c.mu.Unlock()
	}
	return pk, nil
}

// captureMessages drains n events of benchOutbox through the uplink into a
// private embedded broker and returns the messages it published, in order:
// the raw benchmark publishes exactly these.
func captureMessages(b *testing.B, n int, tenant string) []benchMsg {
	b.Helper()
	c := &capture{}
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Hooks: []mqtt.Hook{c}})
	if err != nil {
		b.Fatal(err)
	}
	defer brk.Close()
	ob, done := benchOutbox(b, n)
	defer done()
	drain(b, ob, benchOptions(brk.URL(), tenant))
	c.mu.Lock()
	defer c.mu.Unlock()
	events := 0
	for _, m := range c.msgs {
		events += m.events
	}
	if events != n {
		b.Fatalf("captured %d events in %d messages, want %d (a reconnect resent some)", events, len(c.msgs), n)
	}
	return c.msgs
}

// BenchmarkRawPublish is the raw limit: the very messages the uplink
// published for the same backlog, published at QoS 1 by one paho client
// connected with the uplink's options (clean session, no auto-reconnect,
// unordered), with the same number in flight; no outbox reads or deletes,
// no encoding.
func BenchmarkRawPublish(b *testing.B) {
	benchBrokers(b, func(b *testing.B, bb benchBroker) {
		msgs := captureMessages(b, benchEvents(b), bb.tenant)
		events, size := 0, 0
		for _, m := range msgs {
			events += m.events
			size += len(m.payload)
		}
		o := benchOptions(bb.url, bb.tenant)
		bb.received.Store(0)
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			c := paho.NewClient(paho.NewClientOptions().AddBroker(o.Broker).SetClientID(o.ClientID).
				SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(false).
				SetKeepAlive(30 * time.Second).SetPingTimeout(10 * time.Second).
				SetConnectTimeout(10 * time.Second).SetWriteTimeout(o.AckTimeout))
			if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatalf("connect: %v", tok.Error())
			}
			wait := func(tok paho.Token) {
				if !tok.WaitTimeout(o.AckTimeout) || tok.Error() != nil {
					b.Fatalf("publish: %v", tok.Error())
				}
			}
			window := make([]paho.Token, 0, o.InFlight)
			b.StartTimer()
			began := time.Now()
			for _, m := range msgs {
				if len(window) == o.InFlight {
					wait(window[0])
					window = window[1:]
				}
				window = append(window, c.Publish(m.topic, 1, false, m.payload))
			}
			for _, tok := range window {
				wait(tok)
			}
			elapsed += time.Since(began)
			b.StopTimer()
			c.Disconnect(250)
			b.StartTimer()
		}
		total := float64(events) * float64(b.N)
		bb.settle(int64(total))
		b.ReportMetric(total/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(len(msgs))*float64(b.N)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(size)/float64(len(msgs)), "B/msg")
		b.ReportMetric(float64(bb.received.Load())/float64(b.N), "received/op")
	})
}

// BenchmarkDrainStages times the uplink's own steps, which its session
// loop runs one after the other:
//
//   - read+encode: one outbox Read of a batch (bbolt read and JSON decode
//     of each record) and the CloudEvents encoding the uplink does per
//     event (wire.Encode, then json.Marshal of the CloudEvent), reported
//     per event;
//   - delete: the delete the loop waits for after a PUBACK, one fsync'd
//     bbolt transaction per settle, of one message's events (a batch split
//     by kind, as messages are).
func BenchmarkDrainStages(b *testing.B) {
	o := benchOptions("tcp://127.0.0.1:1", "bench")
	b.Run("read+encode", func(b *testing.B) {
		ob, done := benchOutbox(b, 20_000)
		defer done()
		var cur outbox.Cursor
		events := 0
		for b.Loop() {
			recs, next, err := ob.Read(cur, o.BatchMaxEvents, o.BatchMaxBytes)
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				cur = outbox.Cursor{}
				continue
			}
			cur = next
			for _, r := range recs {
				ces, err := wire.Encode(o.Tenant, o.Store, []edge.Event{r.Event})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(ces[0]); err != nil {
					b.Fatal(err)
				}
			}
			events += len(recs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("delete", func(b *testing.B) {
		var (
			batches [][]outbox.Key
			ob      *outbox.Outbox
			done    func()
		)
		refill := func() {
			if done != nil {
				done()
			}
			ob, done = benchOutbox(b, 50_000)
			batches = batches[:0]
			var cur outbox.Cursor
			for {
				recs, next, err := ob.Read(cur, o.BatchMaxEvents, o.BatchMaxBytes)
				if err != nil {
					b.Fatal(err)
				}
				if len(recs) == 0 {
					break
				}
				cur = next
				byKind := map[edge.Kind][]outbox.Key{}
				for _, r := range recs {
					byKind[r.Event.Kind] = append(byKind[r.Event.Kind], r.Key())
				}
				for _, keys := range byKind {
					batches = append(batches, keys)
				}
			}
		}
		refill()
		events, i := 0, 0
		for b.Loop() {
			if i == len(batches) {
				b.StopTimer()
				refill()
				i = 0
				b.StartTimer()
			}
			if err := ob.Delete(batches[i]); err != nil {
				b.Fatal(err)
			}
			events += len(batches[i])
			i++
		}
		done()
		b.ReportMetric(float64(events)/float64(b.N), "events/commit")
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})
}
