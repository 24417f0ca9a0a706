package downlink

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

var testKey = []byte("redcarpet-test-key-0123456789abcdef")

// gateway is a store's database with its member store and outbox.
type gateway struct {
	path string
	db   *bolt.DB
	st   *store.Store
	ob   *outbox.Outbox
}

func openGateway(tb testing.TB, path string) *gateway {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(db, testKey)
	if err != nil {
		tb.Fatal(err)
	}
	ob, err := outbox.Open(db)
	if err != nil {
		tb.Fatal(err)
	}
	g := &gateway{path: path, db: db, st: st, ob: ob}
	tb.Cleanup(g.close)
	return g
}

func (g *gateway) close() {
	if g.ob != nil {
		g.ob.Close()
		g.db.Close()
		g.ob = nil
	}
}

func newGateway(tb testing.TB) *gateway {
	return openGateway(tb, filepath.Join(tb.TempDir(), "redcarpet.db"))
}

func (g *gateway) downlink(tb testing.TB, o Options) *Downlink {
	tb.Helper()
	if o.Tenant == "" {
		o.Tenant, o.Store = "acme", "s1"
	}
	d, err := New(g.db, g.st, g.ob, o)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// card is member i's card id: 4 bytes, unique for i < 2^24.
func card(i int) []byte { return []byte{0x04, byte(i >> 16), byte(i >> 8), byte(i)} }

func memberChange(i, rev int) *wire.MemberChange {
	return &wire.MemberChange{
		Member:  edge.Member{ID: fmt.Sprintf("M-%07d", i), Tier: []string{"bronze", "silver", "gold"}[rev%3], Segment: fmt.Sprintf("rev-%d", rev)},
		Cards:   []string{strings.ToUpper(hex.EncodeToString(card(i)))},
		Loyalty: fmt.Sprintf("LOY%07d", i),
	}
}

func upsert(v uint64, i, rev int) wire.Change {
	return wire.Change{Version: v, Kind: wire.ChangeMemberUpsert, Member: memberChange(i, rev)}
}

func erase(v uint64, i int, request string) wire.Change {
	return wire.Change{Version: v, Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: fmt.Sprintf("M-%07d", i), RequestID: request}}
}

func recognitionOf(member string) edge.Event {
	return edge.Event{Kind: edge.KindRecognition, Source: "engine", Time: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC),
		Recognition: &edge.Recognition{MemberID: member, Via: edge.ViaCard, Zone: "entrance", NewVisit: true}}
}

// memberJSON is the store's view of the members: id → member JSON.
func memberJSON(t testing.TB, st *store.Store) map[string]string {
	t.Helper()
	ids, err := st.MemberIDs()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, id := range ids {
		m, err := st.Member(id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m)
		out[id] = string(b)
	}
	return out
}

// TestErasuresFirstEqualsVersionOrder checks the claim of eraseFirst: a
// page applied erasures first gives exactly what version order gives, for
// random pages over a few members.
func TestErasuresFirstEqualsVersionOrder(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		g := newGateway(t)
		d := g.downlink(t, Options{TxChanges: 1 + r.IntN(4)})
		model := map[string]string{}
		var v uint64
		for range 5 { // pages
			var page []wire.Change
			for range 1 + r.IntN(12) {
				v++
				i := r.IntN(5)
				if r.IntN(3) == 0 {
					page = append(page, erase(v, i, fmt.Sprintf("r%d", v)))
					delete(model, fmt.Sprintf("M-%07d", i))
				} else {
					c := upsert(v, i, int(v))
					page = append(page, c)
					b, _ := json.Marshal(c.Member.Member)
					model[c.Member.Member.ID] = string(b)
				}
			}
			if err := d.applyChanges(ctx, page); err != nil {
				t.Fatal(err)
			}
			if got := memberJSON(t, g.st); !mapsEqual(got, model) {
				t.Fatalf("seed %d, page ending at %d: store %v\nwant %v", seed, v, got, model)
			}
			if d.Version() != v {
				t.Fatalf("cursor %d, want %d", d.Version(), v)
			}
		}
		for id := range model {
			i := 0
			fmt.Sscanf(id, "M-%d", &i)
			if m, err := g.st.MemberByCard(card(i)); err != nil || m.ID != id {
				t.Errorf("seed %d: card of %s resolves to %q, %v", seed, id, m.ID, err)
			}
		}
		for i := range 5 {
			id := fmt.Sprintf("M-%07d", i)
			if _, ok := model[id]; ok {
				continue
			}
			if _, err := g.st.MemberByCard(card(i)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("seed %d: erased %s still resolves by card: %v", seed, id, err)
			}
			if _, _, err := g.st.MemberByBarcode(fmt.Sprintf("LOY%07d", i)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("seed %d: erased %s still resolves by barcode: %v", seed, id, err)
			}
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestErasurePurgesAndAcknowledges(t *testing.T) {
	ctx := context.Background()
	g := newGateway(t)
	d := g.downlink(t, Options{})
	if err := d.applyChanges(ctx, []wire.Change{upsert(1, 1, 1), upsert(2, 2, 1)}); err != nil {
		t.Fatal(err)
	}
	queued := []edge.Event{recognitionOf("M-0000001"), recognitionOf("M-0000002"), recognitionOf("M-0000001"),
		{Kind: edge.KindOfferShown, Source: "engine", Time: time.Now(), Exposure: &edge.Exposure{OfferID: "o", MemberID: "M-0000001", Channel: edge.ChannelSignage, Screen: "z", Rank: 1}}}
	if err := g.ob.Append(queued); err != nil {
		t.Fatal(err)
	}
	// One page: M-1 erased twice (two requests), then registered again
	// with new data; a scrubbed upsert of M-2 (no request id).
	err := d.applyChanges(ctx, []wire.Change{erase(3, 1, "GDPR-1"), upsert(4, 1, 9), erase(5, 1, "GDPR-2"), erase(6, 2, ""), upsert(7, 3, 1), upsert(8, 1, 10)})
	if err != nil {
		t.Fatal(err)
	}
	recs, _, _ := g.ob.Read(outbox.Cursor{}, 100, 1<<20)
	var acks []edge.Erased
	for _, r := range recs {
		switch {
		case r.Event.Erased != nil:
			acks = append(acks, *r.Event.Erased)
		case r.Event.Member() != "":
			t.Errorf("event %s naming %s still queued", r.Event.ID, r.Event.Member())
		}
	}
	slices.SortFunc(acks, func(a, b edge.Erased) int { return strings.Compare(a.RequestID, b.RequestID) })
	want := []edge.Erased{{MemberID: "M-0000001", RequestID: "GDPR-1", Events: 3}, {MemberID: "M-0000001", RequestID: "GDPR-2", Events: 3}}
	if !slices.Equal(acks, want) {
		t.Errorf("acknowledgements %+v, want %+v", acks, want)
	}
	// Version order: M-1 re-registered at 8 (rev 10), M-2 gone, M-3 new.
	ids, _ := g.st.MemberIDs()
	if m, _ := g.st.Member("M-0000001"); !slices.Equal(ids, []string{"M-0000001", "M-0000003"}) || m.Segment != "rev-10" {
		t.Errorf("members %v, M-1 %+v", ids, m)
	}
	st := d.Stats()
	if st.Erasures != 3 || st.Purged != 4 || st.Acks != 2 || st.Superseded != 1 || d.Version() != 8 {
		t.Errorf("stats %+v, version %d", st, d.Version())
	}
	if p, _ := readPending(g.db, 10); len(p) != 0 {
		t.Errorf("pending erasures left: %v", p)
	}
}

// TestPendingErasureSurvivesRestart: an erasure whose members were deleted
// but whose outbox purge did not run (a crash) is finished by the next Run.
func TestPendingErasureSurvivesRestart(t *testing.T) {
	g := newGateway(t)
	if err := g.ob.Append([]edge.Event{recognitionOf("M-0000001"), recognitionOf("M-0000002")}); err != nil {
		t.Fatal(err)
	}
	d := g.downlink(t, Options{})
	err := g.st.Update(func(tx *store.Tx) error { return addPending(tx.Bolt(), "M-0000001", "GDPR-7", false) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	eventually(t, "the pending erasure finished", func() bool { return d.Stats().Acks == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs, _, _ := g.ob.Read(outbox.Cursor{}, 100, 1<<20)
	if len(recs) != 2 || recs[0].Event.Erased == nil || recs[0].Event.Erased.Events != 1 || recs[1].Event.Recognition.MemberID != "M-0000002" {
		t.Errorf("outbox %+v", recs)
	}
	if err := d.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
}

func TestSkipsBadChangesAndKeepsGoing(t *testing.T) {
	g := newGateway(t)
	d := g.downlink(t, Options{})
	bad := upsert(2, 2, 1)
	bad.Member.Cards = []string{"zz"}
	page := []wire.Change{upsert(1, 1, 1), bad, {Version: 3, Kind: "member.teleport"}, {Version: 4, Kind: wire.ChangeOfferDelete}, upsert(5, 5, 1)}
	if err := d.applyChanges(context.Background(), page); err != nil {
		t.Fatal(err)
	}
	if ids, _ := g.st.MemberIDs(); !slices.Equal(ids, []string{"M-0000001", "M-0000005"}) || d.Version() != 5 || d.Stats().Skipped != 3 {
		t.Errorf("members %v, version %d, stats %+v", ids, d.Version(), d.Stats())
	}
}

func TestTenantChangeResetsCursor(t *testing.T) {
	g := newGateway(t)
	d := g.downlink(t, Options{})
	if err := d.applyChanges(context.Background(), []wire.Change{upsert(1, 1, 1), upsert(2, 2, 1)}); err != nil {
		t.Fatal(err)
	}
	if d2 := g.downlink(t, Options{Tenant: "acme", Store: "s1"}); d2.Version() != 2 {
		t.Errorf("same tenant: version %d", d2.Version())
	}
	if d3 := g.downlink(t, Options{Tenant: "other", Store: "s1"}); d3.Version() != 0 {
		t.Errorf("another tenant: version %d, want 0", d3.Version())
	}
	if _, err := New(g.db, g.st, g.ob, Options{Tenant: "acme"}); err == nil {
		t.Error("New without a store id: no error")
	}
}

func TestDecodePage(t *testing.T) {
	ok := []string{
		`{"request_id":"a","head":3,"changes":[{"version":2,"kind":"offer.delete","offer_id":"o"},{"version":3,"kind":"x"}]}`,
		`{"request_id":"a","head":3,"changes":[]}`,
		`{"head":3,"snapshot":{"id":"3.ab","version":3,"next":"m:M-1"},"changes":[{"kind":"member.upsert","member":{"member":{"id":"M"}}}]}`,
	}
	for _, s := range ok {
		if _, err := DecodePage([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		``, `[]`, `null`, `{`, `{"changes":{}}`,
		`{"changes":[{"version":0,"kind":"offer.delete","offer_id":"o"}]}`,
		`{"changes":[{"version":3,"kind":"x"},{"version":3,"kind":"x"}]}`,
		`{"changes":[{"version":4,"kind":"x"},{"version":3,"kind":"x"}]}`,
		`{"snapshot":{"id":"","version":3},"changes":[]}`,
		`{"snapshot":{"id":"x","next":"` + strings.Repeat("n", 2000) + `"},"changes":[]}`,
	}
	for _, s := range bad {
		if _, err := DecodePage([]byte(s)); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"request_id":"a","head":3,"changes":[{"version":2,"kind":"member.upsert","member":{"member":{"id":"M-1"},"cards":["04A22B1C"],"loyalty_barcode":"1"}},{"version":3,"kind":"member.erase","erasure":{"member_id":"M-1","request_id":"r"}}]}`))
	f.Add([]byte(`{"head":3,"snapshot":{"id":"3.ab","version":3,"next":""},"changes":[{"kind":"offer.upsert","offer":{"id":"o","title":"t"}}]}`))
	f.Add([]byte(`{"changes":[{"version":1,"kind":"offer.delete","offer_id":"o"}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := DecodePage(payload)
		if err != nil {
			return
		}
		if p.Snapshot == nil {
			for i := 1; i < len(p.Changes); i++ {
				if p.Changes[i].Version <= p.Changes[i-1].Version {
					t.Fatalf("versions out of order: %v", payload)
				}
			}
		}
		for i := range p.Changes {
			c := &p.Changes[i]
			if checkChange(c) != "" {
				continue
			}
			// What checkChange accepts, the store can apply.
			switch c.Kind {
			case wire.ChangeMemberUpsert:
				r := record(c.Member)
				if r.Member.ID == "" || len(r.Cards) != len(c.Member.Cards) {
					t.Fatalf("record %+v", r)
				}
				for _, uid := range r.Cards {
					if len(uid) < 3 || len(uid) > 10 {
						t.Fatalf("card of %d bytes", len(uid))
					}
				}
			case wire.ChangeMemberErase:
				if m, rq := splitPending(pendingKey(c.Erasure.MemberID, c.Erasure.RequestID)); m != c.Erasure.MemberID || rq != c.Erasure.RequestID {
					t.Fatalf("pending key does not round-trip: %q %q", m, rq)
				}
			}
		}
	})
}

// eventually polls cond until it holds, failing after a deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// FuzzDecodeResend: HQ's resend requests come from the network; decoding
// never panics and what it accepts has sane ranges.
func FuzzDecodeResend(f *testing.F) {
	f.Add([]byte(`{"request_id":"r1","epoch":"9f86d081884c7d65","ranges":[{"from":1,"to":5}]}`))
	f.Add([]byte(`{"epoch":"e","ranges":[{"from":5,"to":1}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := DecodeResend(payload)
		if err != nil {
			return
		}
		if r.Epoch == "" || len(r.Ranges) == 0 {
			t.Fatalf("accepted %+v", r)
		}
		for _, rg := range r.Ranges {
			if rg.From == 0 || rg.To < rg.From {
				t.Fatalf("accepted range %+v", rg)
			}
		}
	})
}
