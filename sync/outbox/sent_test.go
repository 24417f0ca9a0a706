package outbox_test

import (
	"path/filepath"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// ack deletes every queued record, as the uplink does on PUBACKs.
func ack(t *testing.T, ob *outbox.Outbox) []outbox.Record {
	t.Helper()
	recs := readAll(t, ob)
	keys := make([]outbox.Key, len(recs))
	for i, r := range recs {
		keys[i] = r.Key()
	}
	if err := ob.Delete(keys); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestResendQueuesKeptRecordsAgain(t *testing.T) {
	ob, _, _ := open(t)
	evs := []edge.Event{exposure("o1"), footfall("main", 1), exposure("o2"), exposure("o3")}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	ack(t, ob)
	st := ob.Stats()
	if st.Backlog != 0 || st.SentN != 4 || st.SentBytes == 0 {
		t.Fatalf("after acknowledging: %+v", st)
	}
	rew := ob.Rewinds()
	if n, err := ob.Resend("another-epoch", []outbox.Range{{1, 4}}); err != nil || n != 0 {
		t.Errorf("resend of another epoch: %d %v", n, err)
	}
	// HQ misses seq 1..2 and 4.
	n, err := ob.Resend(ob.Epoch(), []outbox.Range{{1, 2}, {4, 9}})
	if err != nil || n != 3 {
		t.Fatalf("resend: %d records, %v; want 3", n, err)
	}
	if ob.Rewinds() == rew {
		t.Error("Rewinds did not change: the uplink would not read the records again")
	}
	recs := readAll(t, ob)
	got := map[string]bool{}
	for _, r := range recs {
		got[r.Event.ID] = true
	}
	for _, i := range []int{0, 1, 3} {
		if !got[evs[i].ID] {
			t.Errorf("event %s not queued again under its id (got %v)", evs[i].ID, got)
		}
	}
	if got[evs[2].ID] || len(recs) != 3 {
		t.Errorf("queued %v: seq 3 was not asked for", got)
	}
	if st := ob.Stats(); st.SentN != 1 || st.Resent != 3 || st.Backlog != 3 || st.Appended != 4 {
		t.Errorf("stats after resend %+v", st)
	}
	// Resending what is queued (or long gone) queues nothing twice.
	if n, _ := ob.Resend(ob.Epoch(), []outbox.Range{{1, 4}}); n != 1 {
		t.Errorf("second resend queued %d, want only seq 3", n)
	}
}

func TestSentRecordsArePruned(t *testing.T) {
	ob, _, _ := open(t)
	if err := ob.Append([]edge.Event{exposure("a"), exposure("b")}); err != nil {
		t.Fatal(err)
	}
	ack(t, ob)
	ob.SetSentKeep(0)
	if err := ob.Append([]edge.Event{exposure("c")}); err != nil { // the next commit prunes
		t.Fatal(err)
	}
	if st := ob.Stats(); st.SentN != 0 || st.SentBytes != 0 {
		t.Errorf("kept %d records (%d bytes) with no keep time", st.SentN, st.SentBytes)
	}

	// The byte bound: a quarter of the quota.
	ob2, _, _ := open(t)
	var evs []edge.Event
	for range 200 {
		evs = append(evs, exposure("x"))
	}
	if err := ob2.Append(evs); err != nil {
		t.Fatal(err)
	}
	ob2.SetQuota(4 * (ob2.Stats().Bytes / 4))
	ack(t, ob2)
	if err := ob2.Append([]edge.Event{footfall("main", 1)}); err != nil {
		t.Fatal(err)
	}
	st := ob2.Stats()
	if st.SentBytes > st.Quota/4 || st.SentN == 0 {
		t.Errorf("sent %d bytes (%d records), bound %d", st.SentBytes, st.SentN, st.Quota/4)
	}
}

func TestPurgeReachesKeptRecords(t *testing.T) {
	ob, _, _ := open(t)
	recog := func(member string) edge.Event {
		return edge.Event{Kind: edge.KindRecognition, Source: "fresh-reader", Time: t0,
			Recognition: &edge.Recognition{MemberID: member, Via: edge.ViaCard, Zone: "fresh"}}
	}
	if err := ob.Append([]edge.Event{recog("M1"), recog("M2")}); err != nil {
		t.Fatal(err)
	}
	ack(t, ob)
	if err := ob.Append([]edge.Event{recog("M1")}); err != nil {
		t.Fatal(err)
	}
	n, err := ob.Purge(func(e edge.Event) bool { return e.Recognition != nil && e.Recognition.MemberID == "M1" })
	if err != nil || n != 2 {
		t.Fatalf("purge: %d, %v; want the queued and the kept record", n, err)
	}
	if st := ob.Stats(); st.SentN != 1 || st.Backlog != 0 {
		t.Errorf("after purge: %+v", st)
	}
	// What was erased cannot come back with a resend.
	if n, _ := ob.Resend(ob.Epoch(), []outbox.Range{{1, 3}}); n != 1 {
		t.Errorf("resend after an erasure queued %d records, want only M2's", n)
	}
}

func TestSentSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redcarpet.db")
	db := openDB(t, path)
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Append([]edge.Event{exposure("a"), exposure("b")}); err != nil {
		t.Fatal(err)
	}
	ack(t, ob)
	before := ob.Stats()
	ob.Close()
	db.Close()
	db = openDB(t, path)
	defer db.Close()
	ob, err = outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if st := ob.Stats(); st.SentN != before.SentN || st.SentBytes != before.SentBytes || st.SentN != 2 {
		t.Errorf("after restart %+v, before %+v", st, before)
	}
	if n, err := ob.Resend(ob.Epoch(), []outbox.Range{{1, 2}}); n != 2 || err != nil {
		t.Errorf("resend after restart: %d %v", n, err)
	}
}
