package hq

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

func openSink(t *testing.T) *BoltSink {
	t.Helper()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func encode(t testing.TB, tenant, store string, evs ...edge.Event) []wire.CloudEvent {
	t.Helper()
	ces, err := wire.Encode(tenant, store, evs)
	if err != nil {
		t.Fatal(err)
	}
	return ces
}

func footfalls(t testing.TB, tenant, store, epoch string, seqs ...uint64) []wire.CloudEvent {
	var evs []edge.Event
	for _, s := range seqs {
		evs = append(evs, hqtest.Footfall(fmt.Sprintf("%s-%d", epoch, s)))
	}
	return encode(t, tenant, store, evs...)
}

func mustStore(t *testing.T, s Sink, tenant, store string, evs []wire.CloudEvent) (int, int) {
	t.Helper()
	ins, dup, err := s.Store(context.Background(), tenant, store, evs)
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	return ins, dup
}

func TestBoltSinkDeduplicates(t *testing.T) {
	s := openSink(t)
	batch := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"), hqtest.Recognition("abcd-2"), hqtest.Footfall("abcd-3"))

	if ins, dup := mustStore(t, s, "acme", "s1", batch); ins != 3 || dup != 0 {
		t.Fatalf("first Store = %d inserted, %d duplicates; want 3, 0", ins, dup)
	}
	if ins, dup := mustStore(t, s, "acme", "s1", batch); ins != 0 || dup != 3 {
		t.Fatalf("second Store = %d inserted, %d duplicates; want 0, 3", ins, dup)
	}
	// The same id from another store is another event.
	other := encode(t, "acme", "s2", hqtest.Footfall("abcd-1"))
	if ins, dup := mustStore(t, s, "acme", "s2", other); ins != 1 || dup != 0 {
		t.Fatalf("other store Store = %d inserted, %d duplicates; want 1, 0", ins, dup)
	}
	// A batch repeating an id counts the repeat as a duplicate.
	rep := encode(t, "acme", "s1", hqtest.Footfall("abcd-4"), hqtest.Footfall("abcd-4"))
	if ins, dup := mustStore(t, s, "acme", "s1", rep); ins != 1 || dup != 1 {
		t.Fatalf("repeating batch = %d inserted, %d duplicates; want 1, 1", ins, dup)
	}

	ids, err := s.IDs("acme", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"abcd-1", "abcd-2", "abcd-3", "abcd-4"}; !slices.Equal(ids, want) {
		t.Errorf("IDs = %v, want %v", ids, want)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 5 || st.Duplicates != 4 || len(st.Stores) != 2 {
		t.Fatalf("Stats = %+v; want 5 events, 4 duplicates, 2 stores", st)
	}
	s1 := st.Stores[0]
	if s1.Tenant != "acme" || s1.Store != "s1" || s1.Events != 4 || s1.Duplicates != 4 ||
		s1.Kinds[string(edge.KindFootfall)] != 3 || s1.Kinds[string(edge.KindRecognition)] != 1 {
		t.Errorf("store s1 stats = %+v", s1)
	}

	got, ok, err := s.Event("acme", "s1", "abcd-2")
	if err != nil || !ok {
		t.Fatalf("Event = %v, %v", ok, err)
	}
	if got.ID != "abcd-2" || got.Type != wire.Type(edge.KindRecognition) || got.Source != wire.Source("acme", "s1") ||
		!strings.Contains(string(got.Data), `"member_id":"m-1"`) || !got.Time.Equal(hqtest.T0) {
		t.Errorf("Event = %+v", got)
	}
	if _, ok, err := s.Event("acme", "s1", "abcd-99"); ok || err != nil {
		t.Errorf("Event(missing) = %v, %v; want false, nil", ok, err)
	}
}

func TestBoltSinkCoverage(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]uint64
		want    Coverage
		missing []uint64
	}{
		{"in order", [][]uint64{{1, 2, 3}, {4, 5}}, Coverage{Count: 5, MaxSeq: 5, Watermark: 5}, nil},
		{"gap", [][]uint64{{1, 2}, {5}}, Coverage{Count: 3, MaxSeq: 5, Watermark: 2, Gaps: 2}, []uint64{3, 4}},
		{"gap filled", [][]uint64{{1, 2}, {5, 4}, {3}}, Coverage{Count: 5, MaxSeq: 5, Watermark: 5}, nil},
		{"no first", [][]uint64{{2, 3, 7}}, Coverage{Count: 3, MaxSeq: 7, Watermark: 0, Gaps: 4}, []uint64{1, 4, 5, 6}},
		{"priorities interleaved", [][]uint64{{2, 4, 6}, {1, 3}, {6, 5}}, Coverage{Count: 6, MaxSeq: 6, Watermark: 6}, nil},
		{"duplicates", [][]uint64{{1, 1, 3}, {3, 1}}, Coverage{Count: 2, MaxSeq: 3, Watermark: 1, Gaps: 1}, []uint64{2}},
		// A later seq before an earlier one in the same transaction.
		{"reversed in one batch", [][]uint64{{2, 1}, {4, 3}}, Coverage{Count: 4, MaxSeq: 4, Watermark: 4}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openSink(t)
			for _, b := range tc.batches {
				mustStore(t, s, "acme", "s1", footfalls(t, "acme", "s1", "ep1", b...))
			}
			cov, err := s.Coverage("acme", "s1")
			if err != nil {
				t.Fatal(err)
			}
			if len(cov) != 1 || cov["ep1"] != tc.want {
				t.Errorf("Coverage = %+v, want ep1: %+v", cov, tc.want)
			}
			if cov["ep1"].Complete() != (tc.want.Gaps == 0) {
				t.Errorf("Complete = %v", cov["ep1"].Complete())
			}
			miss, err := s.Missing("acme", "s1", "ep1", 100)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(miss, tc.missing) {
				t.Errorf("Missing = %v, want %v", miss, tc.missing)
			}
		})
	}
}

func TestBoltSinkCoverageEpochsAndOddIDs(t *testing.T) {
	s := openSink(t)
	mustStore(t, s, "acme", "s1", footfalls(t, "acme", "s1", "ep1", 1, 2))
	mustStore(t, s, "acme", "s1", footfalls(t, "acme", "s1", "ep2", 1, 3))
	// Ids that are not canonical "<epoch>-<seq>" are stored and
	// deduplicated by the full id, but are no sequence numbers.
	odd := encode(t, "acme", "s1", hqtest.Footfall("ep1-03"), hqtest.Footfall("no-seq-here"), hqtest.Footfall("plain"), hqtest.Footfall("ep1-0"))
	if ins, _ := mustStore(t, s, "acme", "s1", odd); ins != 4 {
		t.Fatalf("odd ids inserted %d, want 4", ins)
	}
	if _, dup := mustStore(t, s, "acme", "s1", odd); dup != 4 {
		t.Fatalf("odd ids again: %d duplicates, want 4", dup)
	}
	cov, err := s.Coverage("acme", "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Coverage{
		"ep1": {Count: 2, MaxSeq: 2, Watermark: 2},
		"ep2": {Count: 2, MaxSeq: 3, Watermark: 1, Gaps: 1},
	}
	if len(cov) != len(want) || cov["ep1"] != want["ep1"] || cov["ep2"] != want["ep2"] {
		t.Errorf("Coverage = %+v, want %+v", cov, want)
	}
	st, _ := s.Stats()
	if st.Stores[0].Unsequenced != 4 || st.Events != 8 {
		t.Errorf("stats = %+v; want 8 events, 4 unsequenced", st)
	}
	if cov, err := s.Coverage("acme", "nope"); err != nil || len(cov) != 0 {
		t.Errorf("Coverage of unknown store = %v, %v", cov, err)
	}
}

func TestBoltSinkRejects(t *testing.T) {
	s := openSink(t)
	good := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"))
	long := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"))
	long[0].ID = strings.Repeat("x", MaxIDBytes+1)
	badType := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"))
	badType[0].Type = wire.TypePrefix + "Foot/fall.v1"
	tests := []struct {
		name          string
		tenant, store string
		evs           []wire.CloudEvent
	}{
		{"tenant with slash", "ac/me", "s1", good},
		{"empty store", "acme", "", good},
		{"source of another store", "acme", "s2", good},
		{"long id", "acme", "s1", long},
		{"bad type", "acme", "s1", badType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Store(context.Background(), tc.tenant, tc.store, tc.evs)
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Store = %v, want ErrRejected", err)
			}
		})
	}
	if st, _ := s.Stats(); st.Events != 0 {
		t.Errorf("rejected batches stored %d events", st.Events)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Store(ctx, "acme", "s1", good); !errors.Is(err, context.Canceled) {
		t.Errorf("Store(cancelled) = %v", err)
	}
}

func TestBoltSinkConcurrentExactlyOnce(t *testing.T) {
	s := openSink(t)
	const writers, n = 4, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ins, dup int
	for range writers {
		wg.Go(func() {
			for i := 1; i <= n; i += 5 {
				evs := footfalls(t, "acme", "s1", "ep", uint64(i), uint64(i+1), uint64(i+2), uint64(i+3), uint64(i+4))
				a, b, err := s.Store(context.Background(), "acme", "s1", evs)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ins, dup = ins+a, dup+b
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ins != n || dup != (writers-1)*n {
		t.Errorf("inserted %d, duplicates %d; want %d, %d", ins, dup, n, (writers-1)*n)
	}
	cov, _ := s.Coverage("acme", "s1")
	if c := cov["ep"]; c != (Coverage{Count: n, MaxSeq: n, Watermark: n}) {
		t.Errorf("Coverage = %+v", c)
	}
}

func TestBoltSinkReopenAndLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hq.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	mustStore(t, s, "acme", "s1", footfalls(t, "acme", "s1", "ep", 1, 2, 3))

	if _, err := OpenBoltReadOnly(path); !errors.Is(err, ErrLocked) {
		t.Errorf("OpenBoltReadOnly while open for writing = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := OpenBoltReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Stats()
	if err != nil || st.Events != 3 {
		t.Errorf("Stats after reopen = %+v, %v", st, err)
	}
	if _, _, err := r.Store(context.Background(), "acme", "s1", footfalls(t, "acme", "s1", "ep", 4)); err == nil {
		t.Error("Store on a read-only sink succeeded")
	}
	r.Close()

	s, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, dup := mustStore(t, s, "acme", "s1", footfalls(t, "acme", "s1", "ep", 3, 4)); dup != 1 {
		t.Errorf("after reopen: %d duplicates, want 1", dup)
	}
}

func TestOpenBoltRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("outbox.meta"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenBolt(path); !errors.Is(err, ErrNotSink) {
		t.Errorf("OpenBolt(store db) = %v, want ErrNotSink", err)
	}
	if _, err := OpenBoltReadOnly(filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Error("OpenBoltReadOnly(missing file) succeeded")
	}
}

// BenchmarkBoltSinkStore stores batches of 100 new events, one transaction
// (one fsync) per batch, as Ingest does per MQTT message.
func BenchmarkBoltSinkStore(b *testing.B) {
	s, err := OpenBolt(filepath.Join(b.TempDir(), "hq.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const per = 100
	seq := uint64(0)
	for b.Loop() {
		seqs := make([]uint64, per)
		for i := range seqs {
			seq++
			seqs[i] = seq
		}
		evs := footfalls(b, "acme", "s1", "ep", seqs...)
		if _, _, err := s.Store(context.Background(), "acme", "s1", evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
}
