package hq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func testOptions(t *testing.T, url, clientID string, sink Sink) Options {
	return Options{
		Broker:     url,
		ClientID:   clientID,
		Sink:       sink,
		BackoffMin: 10 * time.Millisecond,
		BackoffMax: 200 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// runIngest runs an Ingest until the returned stop is called (or the test
// ends) and waits for its first subscription.
func runIngest(t *testing.T, o Options) (*Ingest, func()) {
	t.Helper()
	in := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil after cancel", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-in.Ready():
	case err := <-done:
		t.Fatalf("Run returned before subscribing: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription within 10s")
	}
	return in, stop
}

// acked reports whether the broker holds no unacknowledged message for the
// client: every delivered message was acknowledged.
func acked(b *hqtest.Broker, clientID string) bool {
	cl, ok := b.Server.Clients.Get(clientID)
	return ok && cl.State.Inflight.Len() == 0
}

func topic(store string, k edge.Kind) string { return wire.UplinkTopic("acme", store, k) }

func TestIngestStoresAndAcks(t *testing.T) {
	b := hqtest.NewBroker(t)
	sink := openSink(t)
	in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))

	pub := hqtest.NewPublisher(t, b.URL)
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("abcd", 1, 3)...))
	pub.Publish(t, topic("s1", edge.KindRecognition), hqtest.Batch(t, "acme", "s1", hqtest.Recognition("abcd-4")))

	waitFor(t, "4 events inserted", func() bool { return in.Stats().Inserted == 4 })
	waitFor(t, "messages acknowledged", func() bool { return acked(b, "hq-1") })
	ids, err := sink.IDs("acme", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"abcd-1", "abcd-2", "abcd-3", "abcd-4"}; !slices.Equal(ids, want) {
		t.Errorf("IDs = %v, want %v", ids, want)
	}
	st := in.Stats()
	if !st.Connected || st.Connects != 1 || st.Messages != 2 || st.Events != 4 || st.Duplicates != 0 || st.Rejected != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if cov, _ := sink.Coverage("acme", "s1"); cov["abcd"] != (Coverage{Count: 4, MaxSeq: 4, Watermark: 4}) {
		t.Errorf("Coverage = %+v", cov)
	}
}

func TestIngestDuplicateBatch(t *testing.T) {
	b := hqtest.NewBroker(t)
	sink := openSink(t)
	in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
	pub := hqtest.NewPublisher(t, b.URL)
	batch := hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("abcd", 1, 3)...)
	pub.Publish(t, topic("s1", edge.KindFootfall), batch)
	pub.Publish(t, topic("s1", edge.KindFootfall), batch)

	waitFor(t, "both messages stored", func() bool { s := in.Stats(); return s.Inserted+s.Duplicates == 6 })
	if s := in.Stats(); s.Inserted != 3 || s.Duplicates != 3 {
		t.Errorf("inserted %d, duplicates %d; want 3, 3", s.Inserted, s.Duplicates)
	}
	st, _ := sink.Stats()
	if st.Events != 3 || st.Duplicates != 3 {
		t.Errorf("sink stats = %+v", st)
	}
}

func TestIngestShareGroup(t *testing.T) {
	const messages, perMessage = 40, 5
	publish := func(t *testing.T, url string) {
		pub := hqtest.NewPublisher(t, url)
		for i := range messages {
			from := i*perMessage + 1
			pub.Publish(t, topic("s1", edge.KindFootfall),
				hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("ep", from, from+perMessage-1)...))
		}
	}
	const total = messages * perMessage

	t.Run("separate sinks", func(t *testing.T) {
		// Each worker writes its own file, so the files show who got what:
		// the group splits the messages, and no message reaches both.
		b := hqtest.NewBroker(t)
		s1, s2 := openSink(t), openSink(t)
		in1, _ := runIngest(t, testOptions(t, b.URL, "hq-1", s1))
		in2, _ := runIngest(t, testOptions(t, b.URL, "hq-2", s2))
		publish(t, b.URL)
		waitFor(t, "every event stored", func() bool { return in1.Stats().Inserted+in2.Stats().Inserted >= total })
		ids1, _ := s1.IDs("acme", "s1")
		ids2, _ := s2.IDs("acme", "s1")
		seen := map[string]int{}
		for _, id := range slices.Concat(ids1, ids2) {
			seen[id]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s stored by %d workers", id, n)
			}
		}
		if len(seen) != total {
			t.Errorf("%d distinct events stored, want %d", len(seen), total)
		}
		t.Logf("split: worker 1 %d events, worker 2 %d events", len(ids1), len(ids2))
	})

	t.Run("one sink", func(t *testing.T) {
		b := hqtest.NewBroker(t)
		sink := openSink(t)
		in1, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
		in2, _ := runIngest(t, testOptions(t, b.URL, "hq-2", sink))
		publish(t, b.URL)
		waitFor(t, "every event stored", func() bool {
			st, _ := sink.Stats()
			return st.Events == total
		})
		waitFor(t, "all acknowledged", func() bool { return acked(b, "hq-1") && acked(b, "hq-2") })
		s1, s2 := in1.Stats(), in2.Stats()
		if s1.Inserted+s2.Inserted != total || s1.Duplicates+s2.Duplicates != 0 {
			t.Errorf("worker stats %+v and %+v; want %d inserted, no duplicates", s1, s2, total)
		}
		cov, _ := sink.Coverage("acme", "s1")
		if c := cov["ep"]; c != (Coverage{Count: total, MaxSeq: total, Watermark: total}) {
			t.Errorf("Coverage = %+v", c)
		}
	})
}

func TestIngestRejects(t *testing.T) {
	b := hqtest.NewBroker(t)
	sink := openSink(t)
	in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
	pub := hqtest.NewPublisher(t, b.URL)

	pub.Publish(t, topic("s1", edge.KindFootfall), []byte(`{"not":"a batch"`))
	// s1 publishes events that claim to be s2's on its own topic, and its
	// own events on s2's topic: neither may reach s2's (or s1's) data.
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s2", hqtest.Footfall("abcd-1")))
	pub.Publish(t, topic("s2", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-2")))
	pub.Publish(t, topic("s1", edge.KindRecognition), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-3")))
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-9")))

	waitFor(t, "the good message stored", func() bool { return in.Stats().Inserted == 1 })
	waitFor(t, "4 rejections", func() bool { return in.Stats().Rejected == 4 })
	waitFor(t, "everything acknowledged", func() bool { return acked(b, "hq-1") })
	for reason, want := range map[string]uint64{RejectPayload: 1, RejectSource: 2, RejectKind: 1} {
		if got := in.RejectedBy(reason); got != want {
			t.Errorf("rejected for %s: %d, want %d", reason, got, want)
		}
	}
	for _, store := range []string{"s1", "s2"} {
		ids, _ := sink.IDs("acme", store)
		if want := map[string][]string{"s1": {"abcd-9"}, "s2": nil}[store]; !slices.Equal(ids, want) {
			t.Errorf("%s holds %v, want %v", store, ids, want)
		}
	}
}

func TestIngestResumesSession(t *testing.T) {
	b := hqtest.NewBroker(t)
	sink := openSink(t)
	_, stop := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
	stop() // the worker goes away; its session stays with the broker

	pub := hqtest.NewPublisher(t, b.URL)
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("abcd", 1, 5)...))
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("abcd", 6, 7)...))
	if ids, _ := sink.IDs("acme", "s1"); len(ids) != 0 {
		t.Fatalf("stored %v while no worker ran", ids)
	}

	in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
	waitFor(t, "queued messages stored", func() bool { return in.Stats().Inserted == 7 })
	waitFor(t, "queued messages acknowledged", func() bool { return acked(b, "hq-1") })
}

// shareWaits runs two workers of one group, stops the second, publishes,
// and restarts it: what the broker routed to the stopped member's session
// (mochi and Mosquitto keep choosing it) must reach it after the restart.
func shareWaits(t *testing.T, url string, o1, o2 Options, tenant, topic string) {
	const n = 20
	s1, s2 := openSink(t), openSink(t)
	o1.Sink, o2.Sink = s1, s2
	in1, _ := runIngest(t, o1)
	_, stop2 := runIngest(t, o2)
	stop2()
	pub := hqtest.NewPublisher(t, url)
	for i := 1; i <= n; i++ {
		pub.Publish(t, topic, hqtest.Batch(t, tenant, "s1", hqtest.Footfall(fmt.Sprintf("abcd-%d", i))))
	}
	in2, _ := runIngest(t, o2)
	waitFor(t, "every event stored", func() bool { return in1.Stats().Inserted+in2.Stats().Inserted == n })
	t.Logf("live worker %d events, restarted worker %d events", in1.Stats().Inserted, in2.Stats().Inserted)
}

func TestIngestShareOfStoppedWorkerWaits(t *testing.T) {
	b := hqtest.NewBroker(t)
	shareWaits(t, b.URL, testOptions(t, b.URL, "hq-1", nil), testOptions(t, b.URL, "hq-2", nil), "acme", topic("s1", edge.KindFootfall))
}

func TestIngestReconnects(t *testing.T) {
	b := hqtest.NewBroker(t)
	sink := openSink(t)
	in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
	pub := hqtest.NewPublisher(t, b.URL)
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-1")))
	waitFor(t, "first event", func() bool { return in.Stats().Inserted == 1 })

	b.Kick(t, "hq-1")
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-2")))
	waitFor(t, "reconnect", func() bool { s := in.Stats(); return s.Connects >= 2 && s.Connected })
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-3")))
	waitFor(t, "events after the reconnect", func() bool { return in.Stats().Inserted == 3 })
}

// flakySink fails the first n Store calls, then stores in the BoltSink.
type flakySink struct {
	*BoltSink
	fail  atomic.Int32
	err   error
	calls atomic.Int32
}

func (f *flakySink) Store(ctx context.Context, tenant, store string, evs []wire.CloudEvent) (int, int, error) {
	f.calls.Add(1)
	if f.fail.Add(-1) >= 0 {
		return 0, 0, f.err
	}
	return f.BoltSink.Store(ctx, tenant, store, evs)
}

func TestIngestSinkErrors(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		b := hqtest.NewBroker(t)
		sink := &flakySink{BoltSink: openSink(t), err: errors.New("database unavailable")}
		sink.fail.Store(3)
		in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
		hqtest.NewPublisher(t, b.URL).Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-1")))
		waitFor(t, "stored after retries", func() bool { return in.Stats().Inserted == 1 })
		waitFor(t, "acknowledged", func() bool { return acked(b, "hq-1") })
		if s := in.Stats(); s.SinkErrors != 3 || s.Rejected != 0 {
			t.Errorf("Stats = %+v; want 3 sink errors, none rejected", s)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		b := hqtest.NewBroker(t)
		sink := &flakySink{BoltSink: openSink(t), err: fmt.Errorf("value too long: %w", ErrRejected)}
		sink.fail.Store(1)
		in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", sink))
		pub := hqtest.NewPublisher(t, b.URL)
		pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-1")))
		waitFor(t, "rejected", func() bool { return in.RejectedBy(RejectSink) == 1 })
		waitFor(t, "acknowledged", func() bool { return acked(b, "hq-1") })
		if n := sink.calls.Load(); n != 1 {
			t.Errorf("sink called %d times for a rejected batch, want 1", n)
		}
	})
}

// gateSink blocks every Store until the gate is closed.
type gateSink struct {
	*BoltSink
	gate chan struct{}
}

func (g *gateSink) Store(ctx context.Context, tenant, store string, evs []wire.CloudEvent) (int, int, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	return g.BoltSink.Store(ctx, tenant, store, evs)
}

func TestIngestFullQueueLosesNothing(t *testing.T) {
	b := hqtest.NewBroker(t)
	sink := &gateSink{BoltSink: openSink(t), gate: make(chan struct{})}
	o := testOptions(t, b.URL, "hq-1", sink)
	o.Workers, o.Queue = 1, 2
	in, _ := runIngest(t, o)
	pub := hqtest.NewPublisher(t, b.URL)
	const n = 10
	for i := 1; i <= n; i++ {
		pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfall(fmt.Sprintf("abcd-%d", i))))
	}
	// One message is with the worker, two are queued, the rest wait.
	waitFor(t, "handlers waiting for queue space", func() bool { return in.Stats().QueueWaits == n-3 })
	if ids, _ := sink.IDs("acme", "s1"); len(ids) != 0 {
		t.Fatalf("stored %d events through a closed gate", len(ids))
	}
	close(sink.gate)
	waitFor(t, "all stored", func() bool { return in.Stats().Inserted == n })
	waitFor(t, "all acknowledged", func() bool { return acked(b, "hq-1") })
}

func TestIngestRetriesAndStops(t *testing.T) {
	tests := []struct {
		name     string
		attempts int  // connection attempts to see before cancelling
		hold     bool // accept and never answer (a black hole) instead of closing
	}{
		{"broker refuses", 3, false},
		{"black hole", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 100)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						close(accepted)
						return
					}
					if !tc.hold {
						c.Close()
					}
					accepted <- c
				}
			}()
			o := testOptions(t, "tcp://"+ln.Addr().String(), "hq-1", openSink(t))
			o.ConnectTimeout = time.Minute // cancellation, not the timeout, must end the black hole
			in := New(o)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- in.Run(ctx) }()
			for range tc.attempts {
				select {
				case c := <-accepted:
					defer c.Close()
				case <-time.After(10 * time.Second):
					t.Fatal("no connection attempt")
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			if s := in.Stats(); s.Connects != 0 || s.Connected {
				t.Errorf("Stats = %+v", s)
			}
		})
	}
}

func TestIngestOptions(t *testing.T) {
	err := New(Options{Tenant: "Bad Tenant"}).Run(context.Background())
	if err == nil {
		t.Fatal("Run with empty options succeeded")
	}
	for _, want := range []string{"broker", "client id", "sink", "tenant"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	in := New(Options{Tenant: "acme", ShareGroup: "g"})
	if want := "$share/g/redcarpet/v1/acme/+/up/+"; in.Filter() != want {
		t.Errorf("Filter = %q, want %q", in.Filter(), want)
	}
	if f := New(Options{}).Filter(); f != "$share/redcarpet-hq/redcarpet/v1/+/+/up/+" {
		t.Errorf("default Filter = %q", f)
	}
}

func TestIngestMetrics(t *testing.T) {
	b := hqtest.NewBroker(t)
	in, _ := runIngest(t, testOptions(t, b.URL, "hq-1", openSink(t)))
	pub := hqtest.NewPublisher(t, b.URL)
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("abcd", 1, 2)...))
	pub.Publish(t, topic("s1", edge.KindFootfall), []byte("junk"))
	waitFor(t, "processed", func() bool { s := in.Stats(); return s.Inserted == 2 && s.Rejected == 1 })

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(in)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.Counter != nil:
				got[name] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got[name] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"redcarpet_hq_connected":                               1,
		"redcarpet_hq_connects_total":                          1,
		"redcarpet_hq_messages_total":                          2,
		"redcarpet_hq_events_received_total":                   2,
		"redcarpet_hq_events_inserted_total":                   2,
		"redcarpet_hq_events_duplicate_total":                  0,
		"redcarpet_hq_messages_rejected_total{reason=payload}": 1,
		"redcarpet_hq_messages_rejected_total{reason=source}":  0,
		"redcarpet_hq_sink_errors_total":                       0,
		"redcarpet_hq_queue_capacity_messages":                 64,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
}
