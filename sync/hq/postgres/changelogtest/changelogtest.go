// Package changelogtest is the conformance suite of hq.ChangeLog: every
// implementation (PostgreSQL, bbolt) runs Run against a fresh instance per
// subtest, so that they keep one semantics:
//
//   - Append gives changes consecutive versions after the head, applies
//     them in order (last change to an id wins) atomically, and returns the
//     new head; appending nothing returns the head; a malformed change
//     (unknown kind, not exactly its kind's payload, empty id) fails the
//     whole call and nothing of it is applied.
//   - Head is the zero Head for a tenant without changes; after appends,
//     Version is the latest version, At is set, and Oldest is the oldest
//     version kept: 1 until retention deletes changes, then
//     Version-retain+1.
//   - Since(after) returns the changes with versions after after, in
//     order, at most limit; none when after is at or beyond the head;
//     hq.ErrTooOld when the change after after is no longer kept
//     (after < Oldest-1).
//   - Snapshot pages through the current members (by id, byte order), then
//     offers (by id), as member.upsert and offer.upsert changes with
//     Version 0; erased members and deleted offers are absent. The first
//     page's version is the head it was read at (the snapshot's version,
//     which the responder keeps); a later page's version is between that
//     and the head when it is read (PostgreSQL repeats the first page's,
//     bbolt gives its own head), and later pages show the data as it is
//     when they are read. The next cursor is "" after the last page;
//     cursors are opaque and belong to their implementation.
//   - Erasing a member rewrites their earlier member.upsert changes still
//     kept into member.erase changes without a request id, so that the log
//     keeps no personal data of an erased member; an upsert after the
//     erasure is kept.
//   - Tenants are independent.
package changelogtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Factory returns an empty change log that keeps at most retain changes per
// tenant. It is called once per subtest; the implementation closes what it
// opened with t.Cleanup.
type Factory func(t *testing.T, retain int) hq.ChangeLog

// Retain is the retention Run asks for, except in its retention subtest:
// more than any other subtest appends.
const Retain = 1000

// Member returns a member.upsert change.
func Member(id, name string) wire.Change {
	return wire.Change{Kind: wire.ChangeMemberUpsert, Member: &wire.MemberChange{
		Member: edge.Member{ID: id, FirstName: name, Tier: "gold", GreetByName: true, Affinity: map[string]float64{"coffee": 0.5}},
		Cards:  []string{"04a1b2c3"}, Loyalty: "2000" + id,
	}}
}

// Erase returns a member.erase change.
func Erase(id string) wire.Change {
	return wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id, RequestID: "req-" + id}}
}

// Offer returns an offer.upsert change.
func Offer(id, title string) wire.Change {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 123456789, time.UTC)
	return wire.Change{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{
		ID: id, Title: title, Channels: []edge.Channel{edge.ChannelSignage}, ValidFrom: t0, ValidTo: t0.AddDate(0, 1, 0), DiscountPct: 12.5,
	}}
}

// DeleteOffer returns an offer.delete change.
func DeleteOffer(id string) wire.Change {
	return wire.Change{Kind: wire.ChangeOfferDelete, OfferID: id}
}

// Run runs the conformance suite.
func Run(t *testing.T, newLog Factory) {
	ctx := context.Background()
	t.Run("empty", func(t *testing.T) {
		l := newLog(t, Retain)
		if h, err := l.Head(ctx, "acme"); err != nil || h != (wire.Head{}) {
			t.Errorf("Head = %+v, %v; want zero", h, err)
		}
		if chs, err := l.Since(ctx, "acme", 0, 10); err != nil || len(chs) != 0 {
			t.Errorf("Since(0) = %v, %v; want none", chs, err)
		}
		chs, next, v, err := l.Snapshot(ctx, "acme", "", 10)
		if err != nil || len(chs) != 0 || next != "" || v != 0 {
			t.Errorf("Snapshot = %v, %q, %d, %v; want empty", chs, next, v, err)
		}
		if head, err := l.Append(ctx, "acme", nil); err != nil || head != 0 {
			t.Errorf("Append(nothing) = %d, %v", head, err)
		}
	})

	t.Run("append and since", func(t *testing.T) {
		l := newLog(t, Retain)
		in := []wire.Change{Member("m-1", "Ann"), Offer("o-1", "Coffee"), Erase("m-9")}
		in[0].Version = 77 // ignored
		head := mustAppend(t, l, "acme", in...)
		if head != 3 {
			t.Fatalf("Append = %d, want 3", head)
		}
		if head := mustAppend(t, l, "acme", DeleteOffer("o-1")); head != 4 {
			t.Fatalf("second Append = %d, want 4", head)
		}
		if head, err := l.Append(ctx, "acme", nil); err != nil || head != 4 {
			t.Errorf("Append(nothing) = %d, %v; want the head 4", head, err)
		}
		h, err := l.Head(ctx, "acme")
		if err != nil || h.Version != 4 || h.Oldest != 1 || h.At.IsZero() {
			t.Errorf("Head = %+v, %v; want version 4, oldest 1, a time", h, err)
		}
		all, err := l.Since(ctx, "acme", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := append(in[:3:3], DeleteOffer("o-1"))
		want[0].Version = 0
		for i := range want {
			want[i].Version = uint64(i + 1)
		}
		sameChanges(t, "Since(0)", all, want)
		page, err := l.Since(ctx, "acme", 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		sameChanges(t, "Since(1, limit 2)", page, want[1:3])
		for _, after := range []uint64{4, 5, 1000} {
			if chs, err := l.Since(ctx, "acme", after, 10); err != nil || len(chs) != 0 {
				t.Errorf("Since(%d) = %v, %v; want none", after, chs, err)
			}
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		l := newLog(t, Retain)
		mustAppend(t, l, "acme",
			Member("m-3", "Cy"), Member("m-1", "Ann"), Offer("o-2", "Tea"), Member("m-2", "Bo"),
			Offer("o-1", "Coffee"), Member("m-1", "Anna"), Erase("m-2"), Offer("o-3", "Cake"), DeleteOffer("o-3"),
			Erase("m-2"), Member("m-4", "Di"), Erase("m-4"), Member("m-4", "Dee"))
		want := []wire.Change{Member("m-1", "Anna"), Member("m-3", "Cy"), Member("m-4", "Dee"), Offer("o-1", "Coffee"), Offer("o-2", "Tea")}
		for _, limit := range []int{1, 2, 3, 5, 6, 100} {
			t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
				got, versions := snapshot(t, l, "acme", limit)
				sameChanges(t, "Snapshot", got, want)
				for _, v := range versions {
					if v != 13 {
						t.Errorf("snapshot versions %v, want 13 on every page", versions)
						break
					}
				}
			})
		}
	})

	t.Run("snapshot during appends", func(t *testing.T) {
		l := newLog(t, Retain)
		mustAppend(t, l, "acme", Member("m-1", "Ann"), Member("m-3", "Cy"), Offer("o-1", "Coffee"))
		page, next, v, err := l.Snapshot(ctx, "acme", "", 1)
		if err != nil || v != 3 || next == "" {
			t.Fatalf("first page: %v, %q, %d, %v", page, next, v, err)
		}
		sameChanges(t, "first page", page, []wire.Change{Member("m-1", "Ann")})
		// Changes between pages: the later pages show the data as it is
		// then, and keep the first page's version.
		mustAppend(t, l, "acme", Member("m-2", "Bo"), Erase("m-3"), Offer("o-2", "Tea"))
		var rest []wire.Change
		for next != "" {
			var chs []wire.Change
			var pv uint64
			chs, next, pv, err = l.Snapshot(ctx, "acme", next, 1)
			if err != nil {
				t.Fatal(err)
			}
			if pv < 3 || pv > 6 {
				t.Errorf("later page version %d, want 3..6", pv)
			}
			rest = append(rest, chs...)
		}
		sameChanges(t, "later pages", rest, []wire.Change{Member("m-2", "Bo"), Offer("o-1", "Coffee"), Offer("o-2", "Tea")})
		// Replaying the changes after the snapshot's version converges.
		if chs, err := l.Since(ctx, "acme", v, 100); err != nil || len(chs) != 3 {
			t.Errorf("Since(snapshot version) = %d changes, %v; want 3", len(chs), err)
		}
	})

	t.Run("erasure scrubs", func(t *testing.T) {
		l := newLog(t, Retain)
		mustAppend(t, l, "acme", Member("m-1", "Ann"), Member("m-2", "Bo"), Member("m-1", "Anna"))
		mustAppend(t, l, "acme", Erase("m-1"), Member("m-3", "Cy"))
		mustAppend(t, l, "acme", Member("m-3", "Cyrus"), Erase("m-3"), Member("m-3", "Cee"))
		all, err := l.Since(ctx, "acme", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		tomb := func(id string) wire.Change {
			return wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id}}
		}
		want := []wire.Change{tomb("m-1"), Member("m-2", "Bo"), tomb("m-1"), Erase("m-1"), tomb("m-3"), tomb("m-3"), Erase("m-3"), Member("m-3", "Cee")}
		for i := range want {
			want[i].Version = uint64(i + 1)
		}
		sameChanges(t, "Since(0)", all, want)
		got, _ := snapshot(t, l, "acme", 100)
		sameChanges(t, "snapshot", got, []wire.Change{Member("m-2", "Bo"), Member("m-3", "Cee")})
	})

	t.Run("retention", func(t *testing.T) {
		l := newLog(t, 3)
		for i := 1; i <= 5; i++ {
			mustAppend(t, l, "acme", Member(fmt.Sprintf("m-%d", i), "x"))
		}
		h, err := l.Head(ctx, "acme")
		if err != nil || h.Version != 5 || h.Oldest != 3 {
			t.Fatalf("Head = %+v, %v; want version 5, oldest 3", h, err)
		}
		for _, after := range []uint64{0, 1} {
			if _, err := l.Since(ctx, "acme", after, 10); !errors.Is(err, hq.ErrTooOld) {
				t.Errorf("Since(%d) = %v, want ErrTooOld", after, err)
			}
		}
		chs, err := l.Since(ctx, "acme", 2, 10)
		if err != nil || len(chs) != 3 || chs[0].Version != 3 || chs[2].Version != 5 {
			t.Errorf("Since(2) = %v, %v; want versions 3..5", chs, err)
		}
		// One append of more changes than are kept.
		mustAppend(t, l, "acme", Member("a", "x"), Member("b", "x"), Member("c", "x"), Member("d", "x"))
		if h, _ := l.Head(ctx, "acme"); h.Version != 9 || h.Oldest != 7 {
			t.Errorf("Head = %+v; want version 9, oldest 7", h)
		}
		// The current data keeps everything.
		got, _ := snapshot(t, l, "acme", 100)
		if len(got) != 9 {
			t.Errorf("snapshot holds %d members, want 9", len(got))
		}
	})

	t.Run("invalid changes", func(t *testing.T) {
		l := newLog(t, Retain)
		mustAppend(t, l, "acme", Member("m-1", "Ann"))
		bad := []wire.Change{
			{Kind: "member.teleport", Member: Member("m-2", "x").Member},
			{Kind: wire.ChangeMemberUpsert},
			{Kind: wire.ChangeMemberUpsert, Member: Member("m-2", "x").Member, OfferID: "o-1"},
			Member("", "nobody"),
			{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{RequestID: "r"}},
			{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{Title: "no id"}},
			{Kind: wire.ChangeOfferDelete},
			Member("m 2", "space in the id"),
			Member("m-"+strings.Repeat("x", 63), "id of 65 bytes"),
			{Kind: wire.ChangeMemberUpsert, Member: &wire.MemberChange{Member: edge.Member{ID: "m-2"}, Cards: []string{"zz"}}},
			{Kind: wire.ChangeMemberUpsert, Member: &wire.MemberChange{Member: edge.Member{ID: "m-2"}, Cards: []string{"0102"}}},
			{Kind: wire.ChangeMemberUpsert, Member: &wire.MemberChange{Member: edge.Member{ID: "m-2"}, Loyalty: "12 34"}},
			{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: "m-1", RequestID: strings.Repeat("r", 129)}},
		}
		for i, b := range bad {
			// The bad change comes after a good one: nothing is applied.
			if _, err := l.Append(ctx, "acme", []wire.Change{Member("m-5", "x"), b}); err == nil {
				t.Errorf("Append(bad change %d: %+v) succeeded", i, b)
			}
		}
		if h, _ := l.Head(ctx, "acme"); h.Version != 1 {
			t.Errorf("head %d after failed appends, want 1", h.Version)
		}
		got, _ := snapshot(t, l, "acme", 100)
		sameChanges(t, "snapshot after failed appends", got, []wire.Change{Member("m-1", "Ann")})
	})

	t.Run("tenants", func(t *testing.T) {
		l := newLog(t, Retain)
		mustAppend(t, l, "acme", Member("m-1", "Ann"), Member("m-2", "Bo"))
		mustAppend(t, l, "zeta", Offer("o-1", "Coffee"))
		if h, _ := l.Head(ctx, "zeta"); h.Version != 1 {
			t.Errorf("zeta head %d, want 1", h.Version)
		}
		got, _ := snapshot(t, l, "zeta", 100)
		sameChanges(t, "zeta snapshot", got, []wire.Change{Offer("o-1", "Coffee")})
		if chs, _ := l.Since(ctx, "acme", 0, 100); len(chs) != 2 {
			t.Errorf("acme has %d changes, want 2", len(chs))
		}
	})

	t.Run("concurrent appends", func(t *testing.T) {
		l := newLog(t, Retain)
		const writers, each = 4, 10
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := l.Append(ctx, "acme", []wire.Change{Member(fmt.Sprintf("m-%d-%d", w, i), "x"), Offer(fmt.Sprintf("o-%d-%d", w, i), "y")}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		all, err := l.Since(ctx, "acme", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2*writers*each {
			t.Fatalf("%d changes, want %d", len(all), 2*writers*each)
		}
		for i, ch := range all {
			if ch.Version != uint64(i+1) {
				t.Fatalf("change %d has version %d: versions must be 1..n without gaps", i, ch.Version)
			}
			// The two changes of one Append are adjacent.
			if i%2 == 1 && ch.Offer.ID[1:] != all[i-1].Member.Member.ID[1:] {
				t.Fatalf("changes %d and %d are of different appends", i-1, i)
			}
		}
	})
}

func mustAppend(t *testing.T, l hq.ChangeLog, tenant string, chs ...wire.Change) uint64 {
	t.Helper()
	head, err := l.Append(context.Background(), tenant, chs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return head
}

// snapshot reads a whole snapshot in pages of limit, checking the page
// sizes, and returns its changes and the version of every page.
func snapshot(t *testing.T, l hq.ChangeLog, tenant string, limit int) ([]wire.Change, []uint64) {
	t.Helper()
	var out []wire.Change
	var versions []uint64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("snapshot does not end")
		}
		chs, next, v, err := l.Snapshot(context.Background(), tenant, cursor, limit)
		if err != nil {
			t.Fatalf("Snapshot(%q): %v", cursor, err)
		}
		if len(chs) > limit || (next != "" && len(chs) != limit) {
			t.Fatalf("page of %d changes with limit %d, next %q", len(chs), limit, next)
		}
		out, versions = append(out, chs...), append(versions, v)
		if next == "" {
			return out, versions
		}
		cursor = next
	}
}

// sameChanges compares changes by value (times with Equal).
func sameChanges(t *testing.T, what string, got, want []wire.Change) {
	t.Helper()
	norm := func(chs []wire.Change) []wire.Change {
		out := make([]wire.Change, len(chs))
		for i, c := range chs {
			if c.Offer != nil {
				o := *c.Offer
				o.ValidFrom, o.ValidTo = o.ValidFrom.UTC(), o.ValidTo.UTC()
				c.Offer = &o
			}
			out[i] = c
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, describe(g), describe(w))
	}
}

func describe(chs []wire.Change) string {
	s := ""
	for _, c := range chs {
		id := c.OfferID
		switch {
		case c.Member != nil:
			id = c.Member.Member.ID + "/" + c.Member.Member.FirstName
		case c.Erasure != nil:
			id = c.Erasure.MemberID
		case c.Offer != nil:
			id = c.Offer.ID + "/" + c.Offer.Title
		}
		s += fmt.Sprintf("[v%d %s %s] ", c.Version, c.Kind, id)
	}
	return s
}
