package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// TestCompactAtStart: a file that grew during an outage and drained is
// compacted at the next start, keeping members, the epoch and the sequence.
func TestCompactAtStart(t *testing.T) {
	old := compactMinSize
	compactMinSize = 1 << 20
	defer func() { compactMinSize = old }()
	cfg, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir = t.TempDir()
	db, err := openDatabase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if db.compacted != "" {
		t.Fatalf("a new file was compacted: %s", db.compacted)
	}
	if err := db.store.PutMembers([]edge.MemberRecord{{Member: edge.Member{ID: "M1", FirstName: "Anna"}, Cards: [][]byte{{1, 2, 3, 4}}}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for i := range 40 {
		evs := make([]edge.Event, 500)
		for j := range evs {
			evs[j] = edge.Event{Kind: edge.KindOfferShown, Source: "fresh-reader", Time: t0,
				Exposure: &edge.Exposure{OfferID: strings.Repeat("o", 40), MemberID: fmt.Sprint("M", i*500+j), Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1}}
		}
		if err := db.outbox.Append(evs); err != nil {
			t.Fatal(err)
		}
	}
	// The uplink drains everything, and the acknowledged records kept for
	// resends age out (SentKeep 0 stands for the 72 h passing; a commit
	// prunes at most 1024 of them, so the batches stay below that).
	db.outbox.SetSentKeep(0)
	for {
		recs, _, err := db.outbox.Read(outbox.Cursor{}, 1000, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		keys := make([]outbox.Key, len(recs))
		for i, r := range recs {
			keys[i] = r.Key()
		}
		if err := db.outbox.Delete(keys); err != nil {
			t.Fatal(err)
		}
	}
	before := db.outbox.Stats()
	db.Close()
	path := filepath.Join(cfg.Data.Dir, DBFile)
	grown, _ := os.Stat(path)

	db, err = openDatabase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after, _ := os.Stat(path)
	if db.compacted == "" || after.Size()*2 > grown.Size() {
		t.Fatalf("file %d bytes before, %d after (%q): want it compacted to less than half", grown.Size(), after.Size(), db.compacted)
	}
	st := db.outbox.Stats()
	if st.Epoch != before.Epoch || st.LastSeq != before.LastSeq || st.Backlog != 0 {
		t.Errorf("outbox after compaction %+v, before %+v", st, before)
	}
	if m, err := db.store.MemberByCard([]byte{1, 2, 3, 4}); err != nil || m.FirstName != "Anna" {
		t.Errorf("member after compaction: %+v %v", m, err)
	}
	t.Logf("%s (%d → %d bytes)", db.compacted, grown.Size(), after.Size())
}
