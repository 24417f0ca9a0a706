package postgres

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

func encode(tb testing.TB, tenant, store string, evs ...edge.Event) []wire.CloudEvent {
	tb.Helper()
	ces, err := wire.Encode(tenant, store, evs)
	if err != nil {
		tb.Fatal(err)
	}
	return ces
}

func footfalls(tb testing.TB, tenant, store, epoch string, seqs ...uint64) []wire.CloudEvent {
	var evs []edge.Event
	for _, s := range seqs {
		evs = append(evs, hqtest.Footfall(fmt.Sprintf("%s-%d", epoch, s)))
	}
	return encode(tb, tenant, store, evs...)
}

// raw is a CloudEvent of any kind with the given data.
func raw(tenant, store, id, kind, data string) wire.CloudEvent {
	return wire.CloudEvent{SpecVersion: wire.SpecVersion, ID: id, Source: wire.Source(tenant, store),
		Type: wire.TypePrefix + kind + ".v1", Time: hqtest.T0, DataContentType: "application/json", Data: json.RawMessage(data)}
}

func mustStore(t *testing.T, s hq.Sink, tenant, store string, evs []wire.CloudEvent) (int, int) {
	t.Helper()
	ins, dup, err := s.Store(context.Background(), tenant, store, evs)
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	return ins, dup
}

func TestSinkDeduplicates(t *testing.T) {
	s := openDB(t, Options{}).Sink
	batch := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"), hqtest.Recognition("abcd-2"), hqtest.Footfall("abcd-3"))
	if ins, dup := mustStore(t, s, "acme", "s1", batch); ins != 3 || dup != 0 {
		t.Fatalf("first Store = %d inserted, %d duplicates; want 3, 0", ins, dup)
	}
	if ins, dup := mustStore(t, s, "acme", "s1", batch); ins != 0 || dup != 3 {
		t.Fatalf("second Store = %d inserted, %d duplicates; want 0, 3", ins, dup)
	}
	other := encode(t, "acme", "s2", hqtest.Footfall("abcd-1"))
	if ins, dup := mustStore(t, s, "acme", "s2", other); ins != 1 || dup != 0 {
		t.Fatalf("other store Store = %d inserted, %d duplicates; want 1, 0", ins, dup)
	}
	rep := encode(t, "acme", "s1", hqtest.Footfall("abcd-4"), hqtest.Footfall("abcd-4"))
	if ins, dup := mustStore(t, s, "acme", "s1", rep); ins != 1 || dup != 1 {
		t.Fatalf("repeating batch = %d inserted, %d duplicates; want 1, 1", ins, dup)
	}
	// An id already held is a duplicate whatever its kind, sequenced or not.
	cross := encode(t, "acme", "s1", hqtest.Recognition("abcd-1"), hqtest.Footfall("plain"))
	if ins, dup := mustStore(t, s, "acme", "s1", cross); ins != 1 || dup != 1 {
		t.Fatalf("same id, other kind = %d inserted, %d duplicates; want 1, 1", ins, dup)
	}
	cross = encode(t, "acme", "s1", hqtest.Recognition("plain"))
	if ins, dup := mustStore(t, s, "acme", "s1", cross); ins != 0 || dup != 1 {
		t.Fatalf("same unsequenced id, other kind = %d inserted, %d duplicates; want 0, 1", ins, dup)
	}

	ids, err := s.IDs("acme", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"abcd-1", "abcd-2", "abcd-3", "abcd-4", "plain"}; !slices.Equal(ids, want) {
		t.Errorf("IDs = %v, want %v", ids, want)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 6 || st.Duplicates != 6 || len(st.Stores) != 2 {
		t.Fatalf("Stats = %+v; want 6 events, 6 duplicates, 2 stores", st)
	}
	s1 := st.Stores[0]
	if s1.Tenant != "acme" || s1.Store != "s1" || s1.Events != 5 || s1.Duplicates != 6 || s1.Unsequenced != 1 ||
		s1.Kinds[string(edge.KindFootfall)] != 4 || s1.Kinds[string(edge.KindRecognition)] != 1 {
		t.Errorf("store s1 stats = %+v", s1)
	}

	got, ok, err := s.Event("acme", "s1", "abcd-2")
	if err != nil || !ok {
		t.Fatalf("Event = %v, %v", ok, err)
	}
	if got.ID != "abcd-2" || got.Type != wire.Type(edge.KindRecognition) || got.Source != wire.Source("acme", "s1") ||
		!strings.Contains(string(got.Data), `"member_id":"m-1"`) || !got.Time.Equal(hqtest.T0) {
		t.Errorf("Event = %+v (data %s)", got, got.Data)
	}
	if _, ok, err := s.Event("acme", "s1", "abcd-99"); ok || err != nil {
		t.Errorf("Event(missing) = %v, %v; want false, nil", ok, err)
	}
}

func TestSinkCoverage(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]uint64
		want    hq.Coverage
		missing []uint64
	}{
		{"in order", [][]uint64{{1, 2, 3}, {4, 5}}, hq.Coverage{Count: 5, MaxSeq: 5, Watermark: 5}, nil},
		{"gap", [][]uint64{{1, 2}, {5}}, hq.Coverage{Count: 3, MaxSeq: 5, Watermark: 2, Gaps: 2}, []uint64{3, 4}},
		{"gap filled", [][]uint64{{1, 2}, {5, 4}, {3}}, hq.Coverage{Count: 5, MaxSeq: 5, Watermark: 5}, nil},
		{"no first", [][]uint64{{2, 3, 7}}, hq.Coverage{Count: 3, MaxSeq: 7, Watermark: 0, Gaps: 4}, []uint64{1, 4, 5, 6}},
		{"priorities interleaved", [][]uint64{{2, 4, 6}, {1, 3}, {6, 5}}, hq.Coverage{Count: 6, MaxSeq: 6, Watermark: 6}, nil},
		{"duplicates", [][]uint64{{1, 1, 3}, {3, 1}}, hq.Coverage{Count: 2, MaxSeq: 3, Watermark: 1, Gaps: 1}, []uint64{2}},
		{"bridge", [][]uint64{{1, 2, 6, 7, 10}, {3, 4, 5, 8}}, hq.Coverage{Count: 9, MaxSeq: 10, Watermark: 8, Gaps: 1}, []uint64{9}},
		{"one batch, islands", [][]uint64{{9, 1, 5, 2, 6}}, hq.Coverage{Count: 5, MaxSeq: 9, Watermark: 2, Gaps: 4}, []uint64{3, 4, 7, 8}},
	}
	db := openDB(t, Options{})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := fmt.Sprintf("s%d", i)
			for _, b := range tc.batches {
				mustStore(t, db.Sink, "acme", store, footfalls(t, "acme", store, "ep1", b...))
			}
			cov, err := db.Sink.Coverage("acme", store)
			if err != nil {
				t.Fatal(err)
			}
			if len(cov) != 1 || cov["ep1"] != tc.want {
				t.Errorf("Coverage = %+v, want ep1: %+v", cov, tc.want)
			}
			miss, err := db.Sink.Missing("acme", store, "ep1", 100)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(miss, tc.missing) {
				t.Errorf("Missing = %v, want %v", miss, tc.missing)
			}
			if len(tc.missing) > 1 {
				if miss, _ := db.Sink.Missing("acme", store, "ep1", 1); !slices.Equal(miss, tc.missing[:1]) {
					t.Errorf("Missing(limit 1) = %v", miss)
				}
			}
			var gaps int64
			err = db.pool.QueryRow(context.Background(), `SELECT coalesce(sum(missing), 0) FROM sequence_gaps
				WHERE tenant = 'acme' AND store = $1`, store).Scan(&gaps)
			if err != nil || uint64(gaps) != tc.want.Gaps {
				t.Errorf("sequence_gaps: %d missing, %v; want %d", gaps, err, tc.want.Gaps)
			}
		})
	}
}

func TestSinkCoverageEpochsAndOddIDs(t *testing.T) {
	s := openDB(t, Options{}).Sink
	mustStore(t, s, "acme", "s1", footfalls(t, "acme", "s1", "ep1", 1, 2))
	mustStore(t, s, "acme", "s1", footfalls(t, "acme", "s1", "ep2", 1, 3))
	odd := encode(t, "acme", "s1", hqtest.Footfall("ep1-03"), hqtest.Footfall("no-seq-here"), hqtest.Footfall("plain"),
		hqtest.Footfall("ep1-0"), hqtest.Footfall(fmt.Sprintf("ep1-%d", uint64(maxSeq)+1)))
	if ins, _ := mustStore(t, s, "acme", "s1", odd); ins != 5 {
		t.Fatalf("odd ids inserted %d, want 5", ins)
	}
	if _, dup := mustStore(t, s, "acme", "s1", odd); dup != 5 {
		t.Fatalf("odd ids again: %d duplicates, want 5", dup)
	}
	cov, err := s.Coverage("acme", "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]hq.Coverage{
		"ep1": {Count: 2, MaxSeq: 2, Watermark: 2},
		"ep2": {Count: 2, MaxSeq: 3, Watermark: 1, Gaps: 1},
	}
	if len(cov) != len(want) || cov["ep1"] != want["ep1"] || cov["ep2"] != want["ep2"] {
		t.Errorf("Coverage = %+v, want %+v", cov, want)
	}
	st, _ := s.Stats()
	if st.Stores[0].Unsequenced != 5 || st.Events != 9 {
		t.Errorf("stats = %+v; want 9 events, 5 unsequenced", st)
	}
	if cov, err := s.Coverage("acme", "nope"); err != nil || len(cov) != 0 {
		t.Errorf("Coverage of unknown store = %v, %v", cov, err)
	}
	if miss, err := s.Missing("acme", "s1", "nope", 10); err != nil || len(miss) != 0 {
		t.Errorf("Missing of unknown epoch = %v, %v", miss, err)
	}
}

func TestSinkRejects(t *testing.T) {
	db := openDB(t, Options{})
	good := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"))
	with := func(f func(e *wire.CloudEvent)) []wire.CloudEvent {
		evs := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"))
		f(&evs[0])
		return evs
	}
	data := func(kind, d string) []wire.CloudEvent {
		return []wire.CloudEvent{raw("acme", "s1", "abcd-1", kind, d)}
	}
	tests := []struct {
		name          string
		tenant, store string
		evs           []wire.CloudEvent
	}{
		{"tenant with slash", "ac/me", "s1", good},
		{"empty store", "acme", "", good},
		{"source of another store", "acme", "s2", good},
		{"empty id", "acme", "s1", with(func(e *wire.CloudEvent) { e.ID = "" })},
		{"long id", "acme", "s1", with(func(e *wire.CloudEvent) { e.ID = strings.Repeat("x", hq.MaxIDBytes+1) })},
		{"id with NUL", "acme", "s1", with(func(e *wire.CloudEvent) { e.ID = "a\x00b" })},
		{"bad type", "acme", "s1", with(func(e *wire.CloudEvent) { e.Type = wire.TypePrefix + "Foot/fall.v1" })},
		{"raw device kind", "acme", "s1", data("card.read", `{}`)},
		{"footfall count is a string", "acme", "s1", data("footfall.interval", `{"door":"d","in":"4"}`)},
		{"footfall count too large", "acme", "s1", data("footfall.interval", `{"door":"d","in":3000000000}`)},
		{"footfall count not an integer", "acme", "s1", data("footfall.interval", `{"door":"d","in":1.5}`)},
		{"footfall start not a time", "acme", "s1", data("footfall.interval", `{"start":"yesterday"}`)},
		{"recognition is an array", "acme", "s1", data("member.recognised", `[1,2]`)},
		{"recognition is a string", "acme", "s1", data("member.recognised", `"m-1"`)},
		{"NUL in a string", "acme", "s1", data("member.recognised", `{"member_id":"m\u0000"}`)},
		{"NUL in an unknown kind", "acme", "s1", data("future.kind", `{"x":["\u0000"]}`)},
		{"lone surrogate", "acme", "s1", data("device.status", `{"device":"\ud800"}`)},
		{"invalid UTF-8", "acme", "s1", data("device.status", "{\"device\":\"\xff\"}")},
		{"number beyond numeric", "acme", "s1", data("future.kind", `{"x":1e200000}`)},
		{"discount beyond bounds", "acme", "s1", data(KindRedeemed, `{"offer_id":"o","discount":1e300}`)},
		{"items neither count nor list", "acme", "s1", data(KindBasketClosed, `{"basket_id":"b","items":"three"}`)},
		{"deep data", "acme", "s1", data("future.kind", strings.Repeat("[", maxJSONDepth+1)+strings.Repeat("]", maxJSONDepth+1))},
		{"invalid JSON", "acme", "s1", data("future.kind", `{"x":`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := db.Sink.Store(context.Background(), tc.tenant, tc.store, tc.evs)
			if !errors.Is(err, hq.ErrRejected) {
				t.Fatalf("Store = %v, want ErrRejected", err)
			}
		})
	}
	if st, _ := db.Sink.Stats(); st.Events != 0 {
		t.Errorf("rejected batches stored %d events", st.Events)
	}

	// One bad batch does not keep the others of a StoreBatch from being
	// stored.
	res, err := db.Sink.StoreBatch(context.Background(), []hq.Batch{
		{Tenant: "acme", Store: "s1", Events: footfalls(t, "acme", "s1", "ep", 1, 2)},
		{Tenant: "acme", Store: "s1", Events: data("footfall.interval", `{"in":"x"}`)},
		{Tenant: "acme", Store: "s2", Events: footfalls(t, "acme", "s2", "ep", 1)},
		{Tenant: "acme", Store: "s1", Events: footfalls(t, "acme", "s1", "ep", 2, 3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []hq.Result{{Inserted: 2}, {}, {Inserted: 1}, {Inserted: 1, Duplicates: 1}}
	for i, r := range res {
		if r.Inserted != want[i].Inserted || r.Duplicates != want[i].Duplicates || (r.Err != nil) != (i == 1) {
			t.Errorf("result %d = %+v, want %+v", i, r, want[i])
		}
	}
	if !errors.Is(res[1].Err, hq.ErrRejected) {
		t.Errorf("result 1: %v, want ErrRejected", res[1].Err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := db.Sink.Store(ctx, "acme", "s1", good); !errors.Is(err, context.Canceled) {
		t.Errorf("Store(cancelled) = %v", err)
	}
}

// TestSinkTypedColumns stores one event of every kind and reads the typed
// columns back.
func TestSinkTypedColumns(t *testing.T) {
	db := openDB(t, Options{})
	ts := hqtest.T0.Format(time.RFC3339Nano)
	evs := []wire.CloudEvent{
		raw("acme", "s1", "e-1", "footfall.interval", `{"door":"main","start":"2026-03-02T08:45:00Z","end":"`+ts+`","in":4,"out":3,"occupancy":-2,"extra":true}`),
		raw("acme", "s1", "e-2", "member.recognised", `{"member_id":"m-1","via":"card","zone":"entrance","new_visit":true}`),
		raw("acme", "s1", "e-3", "offer.shown", `{"offer_id":"o-1","member_id":"m-1","channel":"signage","screen":"z1","rank":2}`),
		raw("acme", "s1", "e-4", KindRedeemed, `{"offer_id":"o-1","member_id":"m-1","lane":"l2","basket_id":"b-9","discount":1.50}`),
		raw("acme", "s1", "e-5", KindBasketClosed, `{"basket_id":"b-9","lane":"l2","total":"23.40","items":[{"sku":"a"},{"sku":"b"}],"currency":"EUR"}`),
		raw("acme", "s1", "e-6", KindBasketClosed, `{"basket_id":"b-10","lane":"l2","member_id":null,"total":-0.5e1,"items":7,"currency":"EUR"}`),
		raw("acme", "s1", "e-7", "device.status", `{"device":"reader-1","kind":"mfrc522","state":"down","detail":"no answer"}`),
		raw("acme", "s1", "e-8", "member.erased", `{"member_id":"m-2","request_id":"r-1","events_removed":3}`),
		raw("acme", "s1", "e-9", "future.kind", `[1,"two",{"three":3}]`),
	}
	if ins, _ := mustStore(t, db.Sink, "acme", "s1", evs); ins != len(evs) {
		t.Fatalf("inserted %d of %d", ins, len(evs))
	}
	queries := []struct{ sql, want string }{
		{`SELECT door, interval_start, interval_end, people_in, people_out, occupancy, data->'extra' FROM footfall_intervals`,
			"main 2026-03-02T08:45:00Z 2026-03-02T09:00:00Z 4 3 -2 true"},
		{`SELECT member_id, via, zone, lane, door, new_visit FROM recognitions`, "m-1 card entrance   true"},
		{`SELECT event_id FROM visits`, "e-2"},
		{`SELECT offer_id, member_id, channel, screen, rank FROM exposures`, "o-1 m-1 signage z1 2"},
		{`SELECT offer_id, member_id, lane, basket_id, discount FROM redemptions`, "o-1 m-1 l2 b-9 1.50"},
		{`SELECT basket_id, coalesce(member_id, '<null>'), total, items, currency FROM baskets ORDER BY event_id`,
			"b-9 <null> 23.40 2 EUR|b-10 <null> -5 7 EUR"},
		{`SELECT device, device_kind, state, detail FROM device_status`, "reader-1 mfrc522 down no answer"},
		{`SELECT member_id, request_id, events_removed FROM erasures_applied`, "m-2 r-1 3"},
		{`SELECT kind, data->>1, time FROM other_events`, "future.kind two 2026-03-02T09:00:00Z"},
	}
	for _, q := range queries {
		got := queryText(t, db, q.sql)
		if got != q.want {
			t.Errorf("%s\n got %q\nwant %q", q.sql, got, q.want)
		}
	}
	for _, e := range evs {
		got, ok, err := db.Sink.Event("acme", "s1", e.ID)
		if err != nil || !ok {
			t.Fatalf("Event(%s) = %v, %v", e.ID, ok, err)
		}
		var a, b any
		json.Unmarshal(got.Data, &a)
		json.Unmarshal(e.Data, &b)
		if got.Type != e.Type || !got.Time.Equal(e.Time) || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("Event(%s) = %s %s %s, want %s %s %s", e.ID, got.Type, got.Time, got.Data, e.Type, e.Time, e.Data)
		}
	}
}

// queryText runs a query and renders its rows as text: values separated by
// spaces, rows by "|".
func queryText(t *testing.T, db *DB, sql string) string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var f []string
		for _, v := range vals {
			switch v := v.(type) {
			case time.Time:
				f = append(f, v.UTC().Format(time.RFC3339))
			case driver.Valuer:
				x, _ := v.Value()
				f = append(f, fmt.Sprint(x))
			default:
				f = append(f, fmt.Sprint(v))
			}
		}
		out = append(out, strings.Join(f, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return strings.Join(out, "|")
}

func TestSinkConcurrentExactlyOnce(t *testing.T) {
	s := openDB(t, Options{MaxConns: 8}).Sink
	const writers, n = 6, 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ins, dup int
	for w := range writers {
		wg.Go(func() {
			// Every writer stores every event of two stores and two epochs,
			// in batches that cross stores in a writer-specific order: the
			// lock order must keep them from deadlocking.
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 1; i <= n; i += 5 {
				var batches []hq.Batch
				for _, store := range []string{"s1", "s2"} {
					for _, ep := range []string{"ep1", "ep2"} {
						seqs := []uint64{uint64(i), uint64(i + 1), uint64(i + 2), uint64(i + 3), uint64(i + 4)}
						batches = append(batches, hq.Batch{Tenant: "acme", Store: store, Events: footfalls(t, "acme", store, ep, seqs...)})
					}
				}
				r.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
				res, err := s.StoreBatch(context.Background(), batches)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, x := range res {
					ins, dup = ins+x.Inserted, dup+x.Duplicates
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ins != 4*n || dup != (writers-1)*4*n {
		t.Errorf("inserted %d, duplicates %d; want %d, %d", ins, dup, 4*n, (writers-1)*4*n)
	}
	for _, store := range []string{"s1", "s2"} {
		cov, _ := s.Coverage("acme", store)
		for _, ep := range []string{"ep1", "ep2"} {
			if c := cov[ep]; c != (hq.Coverage{Count: n, MaxSeq: n, Watermark: n}) {
				t.Errorf("Coverage %s %s = %+v", store, ep, c)
			}
		}
	}
}

// TestSinkMatchesBolt feeds the same random traffic (reordered, repeated
// and odd ids, several stores and epochs, batches grouped at random) to the
// embedded sink and to PostgreSQL, and compares every answer but
// BoltSink's watermark, which is checked against its definition instead:
// BoltSink.cover misses held seqs put in the same transaction (bbolt's Get
// returns nil for a key just put with a nil value), so its watermark stops
// short when seq k+1 precedes k in one batch.
func TestSinkMatchesBolt(t *testing.T) {
	pg := openDB(t, Options{}).Sink
	bolt, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	r := rand.New(rand.NewPCG(7, 7))
	stores := []string{"s1", "s2", "s3"}
	epochs := []string{"aa", "bb"}
	event := func(store string) edge.Event {
		var id string
		switch x := r.IntN(40); {
		case x == 0:
			id = fmt.Sprintf("odd-%d", r.IntN(5))
		case x == 1:
			id = fmt.Sprintf("%s-0%d", epochs[r.IntN(2)], r.IntN(9)+1)
		default:
			id = fmt.Sprintf("%s-%d", epochs[r.IntN(2)], r.IntN(300)+1)
		}
		if r.IntN(2) == 0 {
			return hqtest.Recognition(id)
		}
		return hqtest.Footfall(id)
	}
	for range 40 {
		var batches []hq.Batch
		for range r.IntN(4) + 1 {
			store := stores[r.IntN(len(stores))]
			var evs []edge.Event
			for range r.IntN(30) + 1 {
				evs = append(evs, event(store))
			}
			batches = append(batches, hq.Batch{Tenant: "acme", Store: store, Events: encode(t, "acme", store, evs...)})
		}
		res, err := pg.StoreBatch(context.Background(), batches)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range batches {
			ins, dup, err := bolt.Store(context.Background(), b.Tenant, b.Store, b.Events)
			if err != nil {
				t.Fatal(err)
			}
			if res[i].Err != nil || res[i].Inserted != ins || res[i].Duplicates != dup {
				t.Fatalf("batch %d: postgres %+v, bolt %d inserted, %d duplicates", i, res[i], ins, dup)
			}
		}
	}
	var qs [2]Queries = [2]Queries{pg, bolt}
	var answers [2]string
	for i, q := range qs {
		st, err := q.Stats()
		if err != nil {
			t.Fatal(err)
		}
		out := fmt.Sprintf("%+v\n", st)
		for _, store := range stores {
			cov, err := q.Coverage("acme", store)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := q.IDs("acme", store)
			if err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprintf("%s: %v\n", store, ids)
			for _, ep := range slices.Sorted(maps.Keys(cov)) {
				c := cov[ep]
				miss, err := q.Missing("acme", store, ep, 1000)
				if err != nil {
					t.Fatal(err)
				}
				out += fmt.Sprintf("%s: count %d, max %d, gaps %d, missing %v\n", ep, c.Count, c.MaxSeq, c.Gaps, miss)
				wm := c.MaxSeq
				if len(miss) > 0 {
					wm = miss[0] - 1
				}
				if q == Queries(pg) && c.Watermark != wm {
					t.Errorf("%s %s: watermark %d, want %d", store, ep, c.Watermark, wm)
				}
			}
		}
		answers[i] = out
	}
	if answers[0] != answers[1] {
		t.Errorf("postgres:\n%s\nbolt:\n%s", answers[0], answers[1])
	}
}

func TestIsDataError(t *testing.T) {
	db := openDB(t, Options{})
	var x string
	err := db.pool.QueryRow(context.Background(), `SELECT $1::jsonb::text`, `"\u0000"`).Scan(&x)
	if !isDataError(err) {
		t.Errorf("isDataError(%v) = false", err)
	}
	err = db.pool.QueryRow(context.Background(), `SELECT nope FROM nowhere`).Scan(&x)
	if err == nil || isDataError(err) {
		t.Errorf("isDataError(%v) = true", err)
	}
	if isDataError(context.Canceled) || isDataError(pgx.ErrNoRows) {
		t.Error("isDataError of a non-PostgreSQL error")
	}
}
