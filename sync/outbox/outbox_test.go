package outbox_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

func openDB(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func open(t testing.TB) (*outbox.Outbox, *bolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "redcarpet.db")
	db := openDB(t, path)
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close(); db.Close() })
	return ob, db, path
}

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func footfall(door string, in int) edge.Event {
	return edge.Event{Kind: edge.KindFootfall, Source: "engine", Time: t0,
		Footfall: &edge.Footfall{Door: door, Start: t0, End: t0.Add(15 * time.Minute), In: in}}
}

func exposure(offer string) edge.Event {
	return edge.Event{Kind: edge.KindOfferShown, Source: "fresh-reader", Time: t0,
		Exposure: &edge.Exposure{OfferID: offer, MemberID: "M1", Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1}}
}

func readAll(t testing.TB, ob *outbox.Outbox) []outbox.Record {
	t.Helper()
	recs, _, err := ob.Read(outbox.Cursor{}, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestAppendAssignsStableIDsAndReadsInPriorityOrder(t *testing.T) {
	ob, _, _ := open(t)
	evs := []edge.Event{exposure("o1"), footfall("main", 3), exposure("o2"), footfall("side", 1)}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		epoch, seq, ok := outbox.ParseID(e.ID)
		if !ok || epoch != ob.Epoch() || seq != uint64(i+1) {
			t.Fatalf("event %d id %q: want %s-%d", i, e.ID, ob.Epoch(), i+1)
		}
	}
	recs := readAll(t, ob)
	// Footfall (priority 0) first, in append order; then exposures.
	want := []string{evs[1].ID, evs[3].ID, evs[0].ID, evs[2].ID}
	if len(recs) != len(want) {
		t.Fatalf("read %d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if r.Event.ID != want[i] {
			t.Errorf("record %d: id %s, want %s", i, r.Event.ID, want[i])
		}
	}
	if recs[0].Event.Footfall == nil || recs[0].Event.Footfall.In != 3 {
		t.Errorf("payload not round-tripped: %+v", recs[0].Event)
	}
}

func TestRefusesRawDeviceEvents(t *testing.T) {
	ob, _, path := open(t)
	uid := []byte{0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03}
	raw := []edge.Event{
		{Kind: edge.KindCardRead, Source: "r", Time: t0, Card: &edge.CardRead{UID: uid}},
		{Kind: edge.KindScan, Source: "s", Time: t0, Scan: &edge.Scan{Code: "0400000123459", Class: edge.ScanLoyalty}},
		{Kind: edge.KindDoorCrossing, Source: "d", Time: t0, Crossing: &edge.Crossing{Dir: edge.In, Count: 1}},
	}
	for _, e := range raw {
		err := ob.Append([]edge.Event{footfall("main", 1), e})
		if !errors.Is(err, outbox.ErrLocal) {
			t.Errorf("%s: err %v, want ErrLocal", e.Kind, err)
		}
	}
	if n := ob.Stats().Backlog; n != 0 {
		t.Errorf("backlog %d after refused appends: a refused call must write nothing", n)
	}
	ob.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, uid) || bytes.Contains(data, []byte("0400000123459")) {
		t.Error("raw identifier found in the database file")
	}
}

func TestRejectsInvalidEvents(t *testing.T) {
	ob, _, _ := open(t)
	bad := []edge.Event{
		{Kind: edge.KindFootfall, Source: "engine", Time: t0},                   // no payload
		{Kind: "bogus", Source: "x", Time: t0, Footfall: &edge.Footfall{}},      // unknown kind
		{Kind: edge.KindFootfall, Source: "engine", Footfall: &edge.Footfall{}}, // no time
		{Kind: edge.KindFootfall, Source: "engine", Time: t0, Footfall: &edge.Footfall{}, // two payloads
			Exposure: &edge.Exposure{}},
	}
	for i, e := range bad {
		if err := ob.Append([]edge.Event{e}); !errors.Is(err, edge.ErrBadEvent) {
			t.Errorf("case %d: err %v, want ErrBadEvent", i, err)
		}
	}
}

func TestDeleteAndReadCursor(t *testing.T) {
	ob, _, _ := open(t)
	var evs []edge.Event
	for range 10 {
		evs = append(evs, exposure("o"))
	}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	first, cur, err := ob.Read(outbox.Cursor{}, 4, 1<<20)
	if err != nil || len(first) != 4 {
		t.Fatalf("read: %d records, %v", len(first), err)
	}
	next, _, err := ob.Read(cur, 100, 1<<20)
	if err != nil || len(next) != 6 || next[0].Seq != first[3].Seq+1 {
		t.Fatalf("read after cursor: %d records from seq %d, %v", len(next), next[0].Seq, err)
	}
	keys := []outbox.Key{first[0].Key(), first[1].Key(), first[1].Key()} // a repeated key counts once
	if err := ob.Delete(keys); err != nil {
		t.Fatal(err)
	}
	if got := ob.Stats().Backlog; got != 8 {
		t.Errorf("backlog %d, want 8", got)
	}
	if recs := readAll(t, ob); recs[0].Seq != first[2].Seq {
		t.Errorf("oldest remaining seq %d, want %d", recs[0].Seq, first[2].Seq)
	}
}

func TestReadRespectsByteLimitButReturnsOne(t *testing.T) {
	ob, _, _ := open(t)
	if err := ob.Append([]edge.Event{exposure("a"), exposure("b"), exposure("c")}); err != nil {
		t.Fatal(err)
	}
	recs, _, err := ob.Read(outbox.Cursor{}, 100, 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("read with a 1-byte limit: %d records, %v; want exactly 1", len(recs), err)
	}
}

func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redcarpet.db")
	db := openDB(t, path)
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	evs := []edge.Event{footfall("main", 7), exposure("o1")}
	if err := ob.Commit(evs, []byte(`{"occupancy":7}`)); err != nil {
		t.Fatal(err)
	}
	epoch := ob.Epoch()
	ob.Close()
	db.Close()

	db = openDB(t, path)
	defer db.Close()
	ob, err = outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if ob.Epoch() != epoch {
		t.Errorf("epoch changed across restart: %s → %s", epoch, ob.Epoch())
	}
	recs := readAll(t, ob)
	if len(recs) != 2 || recs[0].Event.ID != evs[0].ID || recs[1].Event.ID != evs[1].ID {
		t.Fatalf("after restart read %+v, want ids %s %s", recs, evs[0].ID, evs[1].ID)
	}
	if st, _ := ob.State(); string(st) != `{"occupancy":7}` {
		t.Errorf("state %q not kept", st)
	}
	// Sequence numbers continue: no id is ever reused.
	more := []edge.Event{exposure("o2")}
	if err := ob.Append(more); err != nil {
		t.Fatal(err)
	}
	if _, seq, _ := outbox.ParseID(more[0].ID); seq != 3 {
		t.Errorf("seq after restart %d, want 3", seq)
	}
	if ob.Stats().Backlog != 3 {
		t.Errorf("backlog %d, want 3", ob.Stats().Backlog)
	}
}

func TestNewFileNewEpoch(t *testing.T) {
	a, _, _ := open(t)
	b, _, _ := open(t)
	if a.Epoch() == b.Epoch() || len(a.Epoch()) != 16 {
		t.Errorf("epochs %q and %q: want two different 64-bit hex values", a.Epoch(), b.Epoch())
	}
}

func TestGroupCommitConcurrentAppenders(t *testing.T) {
	ob, _, _ := open(t)
	const writers, each = 32, 50
	var wg sync.WaitGroup
	ids := make(chan string, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				e := []edge.Event{exposure("o")}
				if err := ob.Append(e); err != nil {
					t.Error(err)
					return
				}
				ids <- e[0].ID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %s assigned twice", id)
		}
		seen[id] = true
	}
	st := ob.Stats()
	if len(seen) != writers*each || st.Backlog != writers*each {
		t.Fatalf("%d ids, backlog %d, want %d", len(seen), st.Backlog, writers*each)
	}
	if st.Commits >= uint64(writers*each) {
		t.Errorf("%d commits for %d appends: concurrent appends were not grouped", st.Commits, writers*each)
	}
	t.Logf("%d appends in %d commits", writers*each, st.Commits)
}

func TestCloseCommitsQueuedAndRefusesLater(t *testing.T) {
	ob, _, _ := open(t)
	var wg sync.WaitGroup
	var ok, closed sync.Map
	for i := range 20 {
		wg.Go(func() {
			err := ob.Append([]edge.Event{exposure("o")})
			switch {
			case err == nil:
				ok.Store(i, true)
			case errors.Is(err, outbox.ErrClosed):
				closed.Store(i, true)
			default:
				t.Error(err)
			}
		})
	}
	ob.Close()
	wg.Wait()
	n := 0
	ok.Range(func(any, any) bool { n++; return true })
	if got := ob.Stats().Backlog; got != n {
		t.Errorf("backlog %d, but %d appends reported success", got, n)
	}
	if err := ob.Append([]edge.Event{exposure("late")}); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}
}

func TestNotify(t *testing.T) {
	ob, _, _ := open(t)
	select {
	case <-ob.Notify():
		t.Fatal("notified before any append")
	default:
	}
	for range 3 {
		if err := ob.Append([]edge.Event{exposure("o")}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-ob.Notify():
	default:
		t.Fatal("no notification after appends")
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		id    string
		epoch string
		seq   uint64
		ok    bool
	}{
		{"9f86d081884c7d65-42", "9f86d081884c7d65", 42, true},
		{"abc-0", "", 0, false},
		{"abc", "", 0, false},
		{"-5", "", 0, false},
		{"abc-x", "", 0, false},
	} {
		e, s, ok := outbox.ParseID(tc.id)
		if ok != tc.ok || (ok && (e != tc.epoch || s != tc.seq)) {
			t.Errorf("ParseID(%q) = %q, %d, %v", tc.id, e, s, ok)
		}
	}
}

// BenchmarkAppendConcurrent measures durable appends with group commit:
// 64 producers each appending one event at a time and waiting for fsync.
func BenchmarkAppendConcurrent(b *testing.B) {
	ob, _, _ := open(b)
	b.SetParallelism(32) // × GOMAXPROCS producers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := ob.Append([]edge.Event{exposure("o")}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(ob.Stats().Commits), "events/commit")
}

// BenchmarkAppendBatch measures the engine's pattern: one caller committing
// 64 events per call.
func BenchmarkAppendBatch(b *testing.B) {
	ob, _, _ := open(b)
	batch := make([]edge.Event, 64)
	for b.Loop() {
		for i := range batch {
			batch[i] = exposure("o")
		}
		if err := ob.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

func TestQuotaDropsLowPriorityOldestFirst(t *testing.T) {
	ob, _, _ := open(t)
	if err := ob.Append([]edge.Event{footfall("main", 1)}); err != nil {
		t.Fatal(err)
	}
	p0 := ob.Stats().Bytes
	var first []edge.Event
	for range 10 {
		first = append(first, exposure("old"))
	}
	if err := ob.Append(first); err != nil {
		t.Fatal(err)
	}
	perEvent := (ob.Stats().Bytes - p0) / 10
	recog := edge.Event{Kind: edge.KindRecognition, Source: "fresh-reader", Time: t0,
		Recognition: &edge.Recognition{MemberID: "M1", Via: edge.ViaCard, Zone: "fresh"}}
	if err := ob.Append([]edge.Event{recog}); err != nil {
		t.Fatal(err)
	}
	// Room for the footfall, the recognition and about five exposures.
	ob.SetQuota(ob.Stats().Bytes - 5*perEvent)
	fresh := []edge.Event{exposure("new"), exposure("new")}
	if err := ob.Append(fresh); err != nil {
		t.Fatal(err)
	}
	st := ob.Stats()
	if st.Bytes > st.Quota {
		t.Errorf("bytes %d above the quota %d", st.Bytes, st.Quota)
	}
	if st.Dropped[0] != 0 || st.Dropped[1] != 0 || st.Dropped[2] < 5 {
		t.Errorf("dropped %v: want only exposures, at least 5", st.Dropped)
	}
	recs := readAll(t, ob)
	var kinds []edge.Kind
	for _, r := range recs {
		kinds = append(kinds, r.Event.Kind)
	}
	if recs[0].Event.Kind != edge.KindFootfall || recs[1].Event.Kind != edge.KindRecognition {
		t.Fatalf("footfall and recognition must survive the quota: %v", kinds)
	}
	// The newest exposures are kept; the oldest went first.
	last := recs[len(recs)-1].Event
	if last.ID != fresh[1].ID || last.Exposure.OfferID != "new" {
		t.Errorf("newest exposure %s dropped: %v", fresh[1].ID, kinds)
	}
	if got := st.Backlog; got != len(recs) {
		t.Errorf("backlog %d, records %d", got, len(recs))
	}

	// Priority 0 is never dropped, even beyond the quota.
	ob.SetQuota(1)
	if err := ob.Append([]edge.Event{footfall("side", 2)}); err != nil {
		t.Fatal(err)
	}
	recs = readAll(t, ob)
	if recs[0].Event.Kind != edge.KindFootfall || recs[1].Event.Kind != edge.KindFootfall || len(recs) != 2 {
		t.Errorf("with a 1-byte quota, want the two footfall records only, got %d records", len(recs))
	}
}

func TestBytesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redcarpet.db")
	db := openDB(t, path)
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Append([]edge.Event{exposure("a"), footfall("main", 3)}); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, ob)
	if err := ob.Delete([]outbox.Key{recs[0].Key()}); err != nil {
		t.Fatal(err)
	}
	want := ob.Stats().Bytes
	ob.Close()
	db.Close()
	db = openDB(t, path)
	defer db.Close()
	ob, err = outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if got := ob.Stats().Bytes; got != want || want == 0 {
		t.Errorf("bytes after restart %d, before %d", got, want)
	}
}
