package hq

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

func openChangeLog(t testing.TB, o *ChangeLogOpts) *BoltChangeLog {
	t.Helper()
	l, err := OpenBoltChangeLog(filepath.Join(t.TempDir(), "changes.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func memberUpsert(id string, cards ...string) wire.Change {
	return wire.Change{Kind: wire.ChangeMemberUpsert, Member: &wire.MemberChange{
		Member: edge.Member{ID: id, Tier: "gold"}, Cards: cards, Loyalty: "LOY-" + id}}
}

func memberErase(id, request string) wire.Change {
	return wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id, RequestID: request}}
}

func offerUpsert(id string) wire.Change {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return wire.Change{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{ID: id, Title: "Offer " + id,
		Channels: []edge.Channel{edge.ChannelSignage}, ValidFrom: t0, ValidTo: t0.AddDate(0, 1, 0), DiscountPct: 10}}
}

func offerDelete(id string) wire.Change {
	return wire.Change{Kind: wire.ChangeOfferDelete, OfferID: id}
}

func mustAppendLog(t testing.TB, l ChangeLog, tenant string, cs ...wire.Change) uint64 {
	t.Helper()
	h, err := l.Append(context.Background(), tenant, cs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return h
}

func versions(cs []wire.Change) []uint64 {
	var out []uint64
	for _, c := range cs {
		out = append(out, c.Version)
	}
	return out
}

// snapshotAll reads a whole snapshot with pages of limit and returns the
// member and offer ids in page order and the number of pages.
func snapshotAll(t *testing.T, l ChangeLog, tenant string, limit int) (members, offers []string, pages int) {
	t.Helper()
	cursor := ""
	for {
		cs, next, _, err := l.Snapshot(context.Background(), tenant, cursor, limit)
		if err != nil {
			t.Fatalf("Snapshot(%q): %v", cursor, err)
		}
		pages++
		if len(cs) > limit {
			t.Fatalf("page of %d changes, limit %d", len(cs), limit)
		}
		for _, c := range cs {
			switch c.Kind {
			case wire.ChangeMemberUpsert:
				if len(offers) > 0 {
					t.Fatalf("member %s after offers", c.Member.Member.ID)
				}
				members = append(members, c.Member.Member.ID)
			case wire.ChangeOfferUpsert:
				offers = append(offers, c.Offer.ID)
			default:
				t.Fatalf("snapshot holds a %s", c.Kind)
			}
			if c.Version != 0 {
				t.Fatalf("snapshot change with version %d", c.Version)
			}
		}
		if next == "" {
			return members, offers, pages
		}
		if pages > 10_000 {
			t.Fatal("snapshot does not end")
		}
		cursor = next
	}
}

func TestBoltChangeLogAppendHeadSince(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	l := openChangeLog(t, &ChangeLogOpts{Now: func() time.Time { return now }})
	if h, err := l.Head(ctx, "acme"); err != nil || h != (wire.Head{}) {
		t.Fatalf("Head of an empty log = %+v, %v", h, err)
	}
	if cs, err := l.Since(ctx, "acme", 0, 10); err != nil || len(cs) != 0 {
		t.Fatalf("Since on an empty log = %v, %v", cs, err)
	}
	if h := mustAppendLog(t, l, "acme", memberUpsert("M-1", "04A22B1C"), offerUpsert("O-1")); h != 2 {
		t.Fatalf("head = %d, want 2", h)
	}
	if h := mustAppendLog(t, l, "acme", memberUpsert("M-2"), offerDelete("O-1"), memberUpsert("M-1", "0411223344")); h != 5 {
		t.Fatalf("head = %d, want 5", h)
	}
	mustAppendLog(t, l, "other", memberUpsert("X-1"))

	h, err := l.Head(ctx, "acme")
	if err != nil || h.Version != 5 || h.Oldest != 1 || !h.At.Equal(now) {
		t.Fatalf("Head = %+v, %v; want version 5, oldest 1, at %v", h, err, now)
	}
	cs, err := l.Since(ctx, "acme", 0, 100)
	if err != nil || !slices.Equal(versions(cs), []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("Since(0) = %v, %v", versions(cs), err)
	}
	if cs[4].Kind != wire.ChangeMemberUpsert || cs[4].Member.Cards[0] != "0411223344" || cs[3].OfferID != "O-1" {
		t.Errorf("changes not kept as appended: %+v %+v", cs[3], cs[4])
	}
	if cs, _ := l.Since(ctx, "acme", 2, 2); !slices.Equal(versions(cs), []uint64{3, 4}) {
		t.Errorf("Since(2, limit 2) = %v", versions(cs))
	}
	if cs, err := l.Since(ctx, "acme", 5, 10); err != nil || len(cs) != 0 {
		t.Errorf("Since(head) = %v, %v", cs, err)
	}
	if cs, err := l.Since(ctx, "acme", 9, 10); err != nil || len(cs) != 0 {
		t.Errorf("Since(beyond head) = %v, %v", cs, err)
	}
	members, offers, _ := snapshotAll(t, l, "acme", 10)
	if !slices.Equal(members, []string{"M-1", "M-2"}) || len(offers) != 0 {
		t.Errorf("snapshot = %v %v; want members M-1 M-2 and no offer", members, offers)
	}
	cs, _, v, _ := l.Snapshot(ctx, "acme", "", 1)
	if v != 5 || cs[0].Member.Cards[0] != "0411223344" {
		t.Errorf("snapshot version %d, first %+v", v, cs[0].Member)
	}
	if ts, _ := l.Tenants(); !slices.Equal(ts, []string{"acme", "other"}) {
		t.Errorf("Tenants = %v", ts)
	}
}

func TestBoltChangeLogSnapshotPaging(t *testing.T) {
	l := openChangeLog(t, nil)
	var want []string
	var cs []wire.Change
	for i := range 25 {
		id := fmt.Sprintf("M-%03d", 24-i) // appended in reverse: pages are in id order
		cs = append(cs, memberUpsert(id))
		want = append(want, fmt.Sprintf("M-%03d", i))
	}
	for i := range 7 {
		cs = append(cs, offerUpsert(fmt.Sprintf("O-%d", i)))
	}
	mustAppendLog(t, l, "acme", cs...)
	for _, limit := range []int{1, 3, 5, 7, 25, 26, 32, 33, 500} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			members, offers, pages := snapshotAll(t, l, "acme", limit)
			if !slices.Equal(members, want) || len(offers) != 7 {
				t.Fatalf("members %v, %d offers", members, len(offers))
			}
			if wantPages := (32 + limit - 1) / limit; pages != wantPages && !(pages == wantPages+1 && 32%limit == 0) {
				t.Errorf("%d pages, want %d", pages, wantPages)
			}
		})
	}
	// Offers only, and a tenant with nothing.
	l2 := openChangeLog(t, nil)
	mustAppendLog(t, l2, "acme", offerUpsert("O-1"), offerUpsert("O-2"))
	if m, o, _ := snapshotAll(t, l2, "acme", 1); len(m) != 0 || !slices.Equal(o, []string{"O-1", "O-2"}) {
		t.Errorf("offers-only snapshot: %v %v", m, o)
	}
	if m, o, p := snapshotAll(t, l2, "nobody", 5); len(m)+len(o) != 0 || p != 1 {
		t.Errorf("empty tenant snapshot: %v %v in %d pages", m, o, p)
	}
	if _, _, _, err := l.Snapshot(context.Background(), "acme", "x:junk", 5); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
}

func TestBoltChangeLogSnapshotSeesNewerData(t *testing.T) {
	ctx := context.Background()
	l := openChangeLog(t, nil)
	mustAppendLog(t, l, "acme", memberUpsert("M-1"), memberUpsert("M-2"), memberUpsert("M-3"))
	cs, next, v1, err := l.Snapshot(ctx, "acme", "", 1)
	if err != nil || len(cs) != 1 || v1 != 3 {
		t.Fatalf("first page: %v, %q, %d, %v", cs, next, v1, err)
	}
	// M-2 is erased and M-4 added between pages: later pages show it.
	mustAppendLog(t, l, "acme", memberErase("M-2", "r1"), memberUpsert("M-4"))
	cs, _, v2, _ := l.Snapshot(ctx, "acme", next, 10)
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.Member.Member.ID)
	}
	if !slices.Equal(ids, []string{"M-3", "M-4"}) || v2 != 5 {
		t.Errorf("second page = %v at %d; want M-3 M-4 at 5", ids, v2)
	}
}

func TestBoltChangeLogRetention(t *testing.T) {
	ctx := context.Background()
	l := openChangeLog(t, &ChangeLogOpts{Retention: 10})
	for i := range 25 {
		mustAppendLog(t, l, "acme", memberUpsert(fmt.Sprintf("M-%d", i%4)))
	}
	h, _ := l.Head(ctx, "acme")
	if h.Version != 25 || h.Oldest != 16 {
		t.Fatalf("Head = %+v; want version 25, oldest 16", h)
	}
	for _, after := range []uint64{0, 1, 14} {
		if _, err := l.Since(ctx, "acme", after, 5); !errors.Is(err, ErrTooOld) {
			t.Errorf("Since(%d) = %v, want ErrTooOld", after, err)
		}
	}
	if cs, err := l.Since(ctx, "acme", 15, 100); err != nil || !slices.Equal(versions(cs), []uint64{16, 17, 18, 19, 20, 21, 22, 23, 24, 25}) {
		t.Errorf("Since(15) = %v, %v", versions(cs), err)
	}
	// Compaction keeps the current data and the erasure index in step:
	// erasing M-1 scrubs only its kept upserts.
	mustAppendLog(t, l, "acme", memberErase("M-1", "r1"))
	cs, _ := l.Since(ctx, "acme", 16, 100)
	for _, c := range cs {
		if c.Kind == wire.ChangeMemberUpsert && c.Member.Member.ID == "M-1" {
			t.Errorf("kept upsert of erased M-1 at %d", c.Version)
		}
	}
	if m, _, _ := snapshotAll(t, l, "acme", 10); !slices.Equal(m, []string{"M-0", "M-2", "M-3"}) {
		t.Errorf("snapshot members = %v", m)
	}
	err := l.db.View(func(tx *bolt.Tx) error {
		tb := tenantBucket(tx, "acme")
		if n := tb.Bucket(bucketChanges).Stats().KeyN; n != 10 {
			t.Errorf("%d changes kept, want 10", n)
		}
		n := 0
		_ = tb.Bucket(bucketUpserts).ForEach(func(k, _ []byte) error { n++; return nil })
		if n != 7 { // versions 17..26 minus M-1's scrubbed ones (17, 21, 25) minus the erasure
			t.Errorf("upserts index holds %d entries, want 7", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltChangeLogErasure(t *testing.T) {
	ctx := context.Background()
	l := openChangeLog(t, nil)
	mustAppendLog(t, l, "acme", memberUpsert("M-1", "04A22B1C"), memberUpsert("M-2"), memberUpsert("M-1", "04A22B1D"))
	if h := mustAppendLog(t, l, "acme", memberErase("M-1", "GDPR-1")); h != 4 {
		t.Fatalf("head %d", h)
	}
	if m, _, _ := snapshotAll(t, l, "acme", 10); !slices.Equal(m, []string{"M-2"}) {
		t.Errorf("snapshot after erasure = %v", m)
	}
	cs, _ := l.Since(ctx, "acme", 0, 10)
	for _, c := range cs {
		if c.Member != nil && c.Member.Member.ID == "M-1" {
			t.Errorf("change %d still carries the erased member's data", c.Version)
		}
	}
	want := []wire.Change{
		{Version: 1, Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: "M-1"}},
		{Version: 3, Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: "M-1"}},
		{Version: 4, Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: "M-1", RequestID: "GDPR-1"}},
	}
	for _, w := range want {
		got := cs[w.Version-1]
		if got.Kind != w.Kind || got.Erasure == nil || *got.Erasure != *w.Erasure {
			t.Errorf("change %d = %+v, want %+v", w.Version, got, w)
		}
	}
	// Registered again after the erasure: present, and the new data stays.
	mustAppendLog(t, l, "acme", memberUpsert("M-1", "0A0B0C"))
	if m, _, _ := snapshotAll(t, l, "acme", 10); !slices.Equal(m, []string{"M-1", "M-2"}) {
		t.Errorf("snapshot after new registration = %v", m)
	}
	cs, _ = l.Since(ctx, "acme", 4, 10)
	if len(cs) != 1 || cs[0].Member == nil || cs[0].Member.Cards[0] != "0A0B0C" {
		t.Errorf("re-registration change = %+v", cs)
	}
	// An upsert and its erasure in one Append: scrubbed as well.
	from := mustAppendLog(t, l, "acme", memberUpsert("M-7", "070707"), memberErase("M-7", "GDPR-7"))
	if cs, _ := l.Since(ctx, "acme", from-2, 10); len(cs) != 2 || cs[0].Kind != wire.ChangeMemberErase || cs[0].Erasure.RequestID != "" {
		t.Errorf("upsert erased in the same Append = %+v", cs)
	}
	// Erasing an unknown member is recorded too (stores may hold them).
	if h := mustAppendLog(t, l, "acme", memberErase("M-404", "GDPR-2")); h != 8 {
		t.Errorf("head %d", h)
	}
}

func TestBoltChangeLogRejects(t *testing.T) {
	l := openChangeLog(t, nil)
	cases := map[string]wire.Change{
		"no payload":   {Kind: wire.ChangeMemberUpsert},
		"two payloads": {Kind: wire.ChangeOfferDelete, OfferID: "O-1", Offer: &edge.Offer{ID: "O-1"}},
		"wrong kind":   {Kind: wire.ChangeOfferUpsert, Member: &wire.MemberChange{Member: edge.Member{ID: "M"}}},
		"unknown kind": {Kind: "member.teleport", OfferID: "x"},
		"bad card":     memberUpsert("M-1", "04:A2"),
		"short card":   memberUpsert("M-1", "04A2"),
		"empty id":     memberUpsert(""),
		"spaced id":    memberUpsert("M 1"),
		"long id":      memberUpsert(string(make([]byte, 65))),
		"erase no id":  memberErase("", "r"),
		"long request": memberErase("M-1", string(make([]byte, 200))),
	}
	for name, c := range cases {
		if _, err := l.Append(context.Background(), "acme", []wire.Change{memberUpsert("M-ok"), c}); err == nil {
			t.Errorf("%s: appended", name)
		}
	}
	if _, err := l.Append(context.Background(), "Bad Tenant", []wire.Change{memberUpsert("M-1")}); err == nil {
		t.Error("bad tenant: appended")
	}
	if h, _ := l.Head(context.Background(), "acme"); h.Version != 0 {
		t.Errorf("a rejected Append wrote: head %d", h.Version)
	}
}

func TestBoltChangeLogSharesSinkFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hq.db")
	sink, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := sink.ChangeLog(&ChangeLogOpts{Retention: 50})
	if err != nil {
		t.Fatal(err)
	}
	mustAppendLog(t, l, "acme", memberUpsert("M-1"))
	mustStore(t, sink, "acme", "s1", footfalls(t, "acme", "s1", "ep", 1))
	if err := l.Close(); err != nil { // does not close the sink's file
		t.Fatal(err)
	}
	mustAppendLog(t, l, "acme", memberUpsert("M-2"))
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	// Both open again from the one file, in either order.
	l2, err := OpenBoltChangeLog(path, nil)
	if err != nil {
		t.Fatalf("OpenBoltChangeLog on the sink file: %v", err)
	}
	if h, _ := l2.Head(context.Background(), "acme"); h.Version != 2 {
		t.Errorf("head %d after reopen", h.Version)
	}
	l2.Close()
	sink, err = OpenBolt(path)
	if err != nil {
		t.Fatalf("OpenBolt after the change log: %v", err)
	}
	defer sink.Close()
	if ids, _ := sink.IDs("acme", "s1"); len(ids) != 1 {
		t.Errorf("sink ids %v", ids)
	}

	// Another program's database is refused.
	other := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("members")); return err })
	db.Close()
	if _, err := OpenBoltChangeLog(other, nil); !errors.Is(err, ErrNotChangeLog) {
		t.Errorf("OpenBoltChangeLog(store file) = %v, want ErrNotChangeLog", err)
	}
}

func BenchmarkBoltChangeLogAppend(b *testing.B) {
	l := openChangeLog(b, &ChangeLogOpts{Retention: 100_000})
	batch := make([]wire.Change, ImportBatch)
	n := 0
	for b.Loop() {
		for i := range batch {
			n++
			batch[i] = memberUpsert(fmt.Sprintf("M-%08d", n), "04A22B1C")
		}
		mustAppendLog(b, l, "acme", batch...)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "changes/s")
}
