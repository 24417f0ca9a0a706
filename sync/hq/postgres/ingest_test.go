package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
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

// gatedSink holds every StoreBatch until gate is closed and records the
// number of batches of each call.
type gatedSink struct {
	*Sink
	gate  chan struct{}
	mu    sync.Mutex
	sizes []int
}

func (g *gatedSink) StoreBatch(ctx context.Context, batches []hq.Batch) ([]hq.Result, error) {
	g.mu.Lock()
	g.sizes = append(g.sizes, len(batches))
	g.mu.Unlock()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Sink.StoreBatch(ctx, batches)
}

func (g *gatedSink) calls() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

// TestIngestIntoPostgres runs an Ingest worker on an embedded broker into
// PostgreSQL: the messages that wait while the worker stores are stored
// together in one transaction, a message whose data does not fit its kind
// is rejected alone, and everything is acknowledged.
func TestIngestIntoPostgres(t *testing.T) {
	db := openDB(t, Options{})
	b := hqtest.NewBroker(t)
	sink := &gatedSink{Sink: db.Sink, gate: make(chan struct{})}
	in := runIngest(t, hq.Options{Broker: b.URL, ClientID: "hq-pg", Sink: sink, Workers: 1})
	pub := hqtest.NewPublisher(t, b.URL)
	topic := func(store string) string { return wire.UplinkTopic("acme", store, edge.KindFootfall) }

	pub.Publish(t, topic("s1"), hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("ep", 1, 10)...))
	waitFor(t, "the worker holding the first message", func() bool { return len(sink.calls()) == 1 })
	const more = 20
	for i := range more {
		switch i {
		case 5: // data that does not decode into a footfall interval
			bad := raw("acme", "s2", "ep-99", "footfall.interval", `{"door":"d","in":"four"}`)
			payload, _ := wire.MarshalBatch([]wire.CloudEvent{bad})
			pub.Publish(t, topic("s2"), payload)
		case 6: // a redelivery of the first message
			pub.Publish(t, topic("s1"), hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("ep", 1, 10)...))
		default:
			store := fmt.Sprintf("s%d", 2+i%3)
			pub.Publish(t, topic(store), hqtest.Batch(t, "acme", store, hqtest.Footfalls("ep", 10*i+1, 10*i+10)...))
		}
	}
	waitFor(t, "the other messages queued", func() bool { return in.Stats().Queued == more })
	close(sink.gate)
	waitFor(t, "all stored", func() bool {
		s := in.Stats()
		return s.Inserted == 10+10*(more-2) && s.Duplicates == 10 && s.Rejected == 1
	})
	waitFor(t, "all acknowledged", func() bool {
		cl, ok := b.Server.Clients.Get("hq-pg")
		return ok && cl.State.Inflight.Len() == 0
	})
	if calls := sink.calls(); len(calls) != 2 || calls[1] != more {
		t.Errorf("StoreBatch calls of %v batches; want [1 %d]", calls, more)
	}
	if s := in.Stats(); s.SinkWrites != 2 || in.RejectedBy(hq.RejectSink) != 1 {
		t.Errorf("Stats = %+v, sink rejections %d", s, in.RejectedBy(hq.RejectSink))
	}
	st, err := db.Sink.Stats()
	if err != nil || st.Events != uint64(10+10*(more-2)) || st.Duplicates != 10 {
		t.Errorf("sink stats = %+v, %v", st, err)
	}
	if cov, _ := db.Sink.Coverage("acme", "s1"); cov["ep"] != (hq.Coverage{Count: 10, MaxSeq: 10, Watermark: 10}) {
		t.Errorf("s1 coverage = %+v", cov)
	}
}

// runIngest runs an Ingest worker until the test ends and waits for its
// subscription. Backoff and logger are set for tests.
func runIngest(t *testing.T, o hq.Options) *hq.Ingest {
	t.Helper()
	o.BackoffMin, o.BackoffMax = 10*time.Millisecond, 200*time.Millisecond
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	in := hq.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	select {
	case <-in.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription")
	}
	return in
}
