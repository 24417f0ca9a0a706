package outbox_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
)

func recognition(member string) edge.Event {
	return edge.Event{Kind: edge.KindRecognition, Source: "engine", Time: t0,
		Recognition: &edge.Recognition{MemberID: member, Via: edge.ViaCard, Zone: "entrance"}}
}

func exposureOf(member string) edge.Event {
	e := exposure("o1")
	e.Exposure.MemberID = member
	return e
}

func TestPurge(t *testing.T) {
	ob, _, _ := open(t)
	var evs []edge.Event
	for i := range 10_000 { // more than one scan and one deletion batch
		m := fmt.Sprintf("M%d", i%10)
		evs = append(evs, recognition(m), exposureOf(m))
		if i%1000 == 0 {
			evs = append(evs, footfall("main", i))
		}
		if len(evs) >= 4000 {
			if err := ob.Append(evs); err != nil {
				t.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	before := ob.Stats()
	seen := map[string]bool{}
	n, err := ob.Purge(func(e edge.Event) bool {
		if seen[e.ID] {
			t.Errorf("event %s seen twice", e.ID)
		}
		seen[e.ID] = true
		switch {
		case e.Recognition != nil:
			return e.Recognition.MemberID == "M3"
		case e.Exposure != nil:
			return e.Exposure.MemberID == "M3"
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2000 || len(seen) != 20_010 {
		t.Fatalf("purged %d, examined %d; want 2000 of 20010", n, len(seen))
	}
	after := ob.Stats()
	recs := readAll(t, ob)
	if after.Backlog != before.Backlog-2000 || len(recs) != after.Backlog || after.Bytes >= before.Bytes {
		t.Errorf("backlog %d→%d (read %d), bytes %d→%d", before.Backlog, after.Backlog, len(recs), before.Bytes, after.Bytes)
	}
	for _, r := range recs {
		if (r.Event.Recognition != nil && r.Event.Recognition.MemberID == "M3") || (r.Event.Exposure != nil && r.Event.Exposure.MemberID == "M3") {
			t.Fatalf("record %s names M3", r.Event.ID)
		}
	}
	if n, err := ob.Purge(func(edge.Event) bool { return false }); n != 0 || err != nil {
		t.Errorf("purging nothing = %d, %v", n, err)
	}
}

func TestPurgeWhileAppending(t *testing.T) {
	ob, _, _ := open(t)
	for range 5 {
		if err := ob.Append([]edge.Event{recognition("gone"), recognition("kept")}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			if err := ob.Append([]edge.Event{recognition("kept")}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	n, err := ob.Purge(func(e edge.Event) bool { return e.Recognition.MemberID == "gone" })
	wg.Wait()
	if err != nil || n != 5 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	if st := ob.Stats(); st.Backlog != 205 || len(readAll(t, ob)) != 205 {
		t.Errorf("backlog %d, want 205", st.Backlog)
	}
}
