package hq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
)

// batchSink is a BatchSink over a BoltSink (not atomic across batches,
// which these tests do not need). Calls wait for gate; the first failTop
// calls fail as a whole; the batch of store reject is rejected; the batch
// of store flaky fails transiently once.
type batchSink struct {
	*BoltSink
	gate    chan struct{}
	failTop atomic.Int32
	reject  string
	flaky   string

	mu     sync.Mutex
	calls  [][]string // the stores of each call's batches
	flaked bool
}

func (s *batchSink) StoreBatch(ctx context.Context, batches []Batch) ([]Result, error) {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var stores []string
	for _, b := range batches {
		stores = append(stores, b.Store)
	}
	slices.Sort(stores) // paho hands messages over concurrently: their order is not kept
	s.calls = append(s.calls, stores)
	if s.failTop.Add(-1) >= 0 {
		return nil, errors.New("database unavailable")
	}
	res := make([]Result, len(batches))
	for i, b := range batches {
		switch {
		case b.Store == s.reject:
			res[i].Err = fmt.Errorf("data does not fit: %w", ErrRejected)
		case b.Store == s.flaky && !s.flaked:
			s.flaked = true
			res[i].Err = errors.New("serialization failure")
		default:
			ins, dup, err := s.BoltSink.Store(ctx, b.Tenant, b.Store, b.Events)
			res[i] = Result{Inserted: ins, Duplicates: dup, Err: err}
		}
	}
	return res, nil
}

func (s *batchSink) callStores() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func TestIngestBatches(t *testing.T) {
	b := hqtest.NewBroker(t)
	gate := make(chan struct{})
	sink := &batchSink{BoltSink: openSink(t), gate: gate, reject: "s3", flaky: "s2"}
	sink.failTop.Store(1)
	o := testOptions(t, b.URL, "hq-1", sink)
	o.Workers = 1
	in, _ := runIngest(t, o)
	pub := hqtest.NewPublisher(t, b.URL)
	pub.Publish(t, topic("s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", hqtest.Footfalls("ep", 1, 3)...))
	// The worker holds the first message at the gate; the rest queue up.
	waitFor(t, "the first message taken", func() bool { return in.Stats().Messages == 1 && in.Stats().Queued == 0 })
	for _, store := range []string{"s2", "s3", "s4"} {
		pub.Publish(t, topic(store, edge.KindFootfall), hqtest.Batch(t, "acme", store, hqtest.Footfalls("ep", 1, 2)...))
	}
	pub.Publish(t, topic("s5", edge.KindFootfall), []byte("junk"))
	waitFor(t, "4 messages queued", func() bool { return in.Stats().Queued == 4 })
	close(gate)
	waitFor(t, "all done", func() bool { s := in.Stats(); return s.Inserted == 7 && s.Rejected == 2 })
	waitFor(t, "all acknowledged", func() bool { return acked(b, "hq-1") })

	want := [][]string{{"s1"}, {"s1"}, {"s2", "s3", "s4"}, {"s2"}}
	if got := sink.callStores(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("StoreBatch calls %v, want %v", got, want)
	}
	s := in.Stats()
	if s.SinkErrors != 2 || s.SinkWrites != 3 || in.RejectedBy(RejectSink) != 1 || in.RejectedBy(RejectPayload) != 1 {
		t.Errorf("Stats = %+v; sink rejections %d, payload rejections %d", s, in.RejectedBy(RejectSink), in.RejectedBy(RejectPayload))
	}
	if ids, _ := sink.IDs("acme", "s3"); len(ids) != 0 {
		t.Errorf("rejected batch stored: %v", ids)
	}
}

// TestIngestBatchLimits: a call takes at most BatchMessages messages, and
// BatchMessages 1 turns batching off.
func TestIngestBatchLimits(t *testing.T) {
	for _, batch := range []int{1, 2} {
		t.Run(fmt.Sprintf("BatchMessages %d", batch), func(t *testing.T) {
			b := hqtest.NewBroker(t)
			gate := make(chan struct{})
			sink := &batchSink{BoltSink: openSink(t), gate: gate}
			o := testOptions(t, b.URL, "hq-1", sink)
			o.Workers, o.BatchMessages = 1, batch
			in, _ := runIngest(t, o)
			pub := hqtest.NewPublisher(t, b.URL)
			msg := func(i int) []byte { return hqtest.Batch(t, "acme", "s1", hqtest.Footfall(fmt.Sprintf("ep-%d", i))) }
			if batch == 1 {
				for i := range 5 {
					pub.Publish(t, topic("s1", edge.KindFootfall), msg(i+1))
				}
				waitFor(t, "all stored", func() bool { return in.Stats().Inserted == 5 })
				if n := len(sink.callStores()); n != 0 || in.Stats().SinkWrites != 5 {
					t.Errorf("%d StoreBatch calls, %d writes; want Store per message", n, in.Stats().SinkWrites)
				}
				return
			}
			pub.Publish(t, topic("s1", edge.KindFootfall), msg(1))
			waitFor(t, "the first message taken", func() bool { return in.Stats().Messages == 1 && in.Stats().Queued == 0 })
			for i := 2; i <= 5; i++ {
				pub.Publish(t, topic("s1", edge.KindFootfall), msg(i))
			}
			waitFor(t, "4 messages queued", func() bool { return in.Stats().Queued == 4 })
			close(gate)
			waitFor(t, "all stored", func() bool { return in.Stats().Inserted == 5 })
			var sizes []int
			for _, c := range sink.callStores() {
				sizes = append(sizes, len(c))
			}
			if !slices.Equal(sizes, []int{1, 2, 2}) {
				t.Errorf("StoreBatch calls of %v messages, want [1 2 2]", sizes)
			}
		})
	}
}
