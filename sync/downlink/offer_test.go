package downlink

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// TestOfferTargetingValidated: an offer upsert with a segment matrix or
// holdout the engine cannot use is skipped and counted (the offer it would
// have replaced stays); a good one is stored with its matrix and holdout.
func TestOfferTargetingValidated(t *testing.T) {
	with := func(v uint64, id string, mod func(*edge.Offer)) wire.Change {
		c := offerChange(id, 10)
		c.Version = v
		c.Offer.Categories = []string{"dairy"}
		mod(c.Offer)
		return c
	}
	good := func(o *edge.Offer) {
		o.Depth = map[string]float64{"switcher/heavy": 30, "store/light": 5}
		o.HoldoutPct = 10
	}
	for _, tc := range []struct {
		name, reason string
		mod          func(*edge.Offer)
	}{
		{"unknown cell", `bad offer O1: depth: "switcher/huge": not a segment-matrix cell`,
			func(o *edge.Offer) { o.Depth = map[string]float64{"switcher/huge": 30} }},
		{"zero depth", `bad offer O1: depth "store/light": 0 is not above 0`,
			func(o *edge.Offer) { o.Depth = map[string]float64{"store/light": 0} }},
		{"depth above 100", `depth "store/light": 120`, func(o *edge.Offer) { o.Depth = map[string]float64{"store/light": 120} }},
		{"holdout above 50", "bad offer O1: holdout_pct 60 is outside 0..50", func(o *edge.Offer) { o.HoldoutPct = 60 }},
		{"matrix without category", "depth without a category", func(o *edge.Offer) { o.Categories = nil; o.Depth = map[string]float64{"store/light": 5} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := with(1, "O1", tc.mod)
			if why := checkChange(&bad); !strings.Contains(why, tc.reason) {
				t.Errorf("checkChange: %q, want %q", why, tc.reason)
			}
			g := newGateway(t)
			d := g.downlink(t, Options{})
			err := d.applyChanges(context.Background(), []wire.Change{with(1, "O1", good), with(2, "O1", tc.mod), with(3, "O2", good)})
			if err != nil {
				t.Fatal(err)
			}
			offers, err := g.st.Offers()
			if err != nil {
				t.Fatal(err)
			}
			if len(offers) != 2 || d.Stats().Skipped != 1 || d.Version() != 3 {
				t.Fatalf("offers %+v, stats %+v, version %d; want O1 and O2, one skipped", offers, d.Stats(), d.Version())
			}
			want := map[string]float64{"switcher/heavy": 30, "store/light": 5}
			for _, o := range offers {
				if !maps.Equal(o.Depth, want) || o.HoldoutPct != 10 {
					t.Errorf("%s stored with depth %v and holdout %v", o.ID, o.Depth, o.HoldoutPct)
				}
			}
		})
	}
}

// TestErasurePurgesWithheld: an erasure removes the member's queued
// withheld-offer events with their exposures.
// An erasure purges the member's withheld offers and closed visits from the
// outbox and tells OnErase (the engine, for the visit it has open).
func TestErasurePurgesWithheldAndVisits(t *testing.T) {
	g := newGateway(t)
	var told []string
	d := g.downlink(t, Options{OnErase: func(ids []string) { told = append(told, ids...) }})
	ctx := context.Background()
	if err := d.applyChanges(ctx, []wire.Change{upsert(1, 1, 1), upsert(2, 2, 1)}); err != nil {
		t.Fatal(err)
	}
	withheld := func(member string) edge.Event {
		return edge.Event{Kind: edge.KindWithheld, Source: "fresh-reader", Time: time.Now(),
			Withheld: &edge.Exposure{OfferID: "o", MemberID: member, Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1, DiscountPct: 30, Cell: "switcher/heavy"}}
	}
	visit := func(member string) edge.Event {
		return edge.Event{Kind: edge.KindVisit, Source: "engine", Time: time.Now(),
			Visit: &edge.Visit{MemberID: member, Start: time.Now().Add(-time.Hour), End: time.Now(), DwellS: 3600, Ended: "gap"}}
	}
	if err := g.ob.Append([]edge.Event{withheld("M-0000001"), withheld("M-0000002"), visit("M-0000001"), visit("M-0000002")}); err != nil {
		t.Fatal(err)
	}
	if err := d.applyChanges(ctx, []wire.Change{erase(3, 1, "GDPR-1")}); err != nil {
		t.Fatal(err)
	}
	recs, _, _ := g.ob.Read(outbox.Cursor{}, 100, 1<<20)
	var left []string
	acked := 0
	for _, r := range recs {
		switch {
		case r.Event.Withheld != nil:
			left = append(left, r.Event.Withheld.MemberID)
		case r.Event.Visit != nil:
			left = append(left, r.Event.Visit.MemberID)
		case r.Event.Erased != nil:
			acked = r.Event.Erased.Events
		}
	}
	if !slices.Equal(left, []string{"M-0000002", "M-0000002"}) || acked != 2 {
		t.Errorf("withheld and visit events left for %v, acknowledged %d removed; want only M-0000002's, 2", left, acked)
	}
	if !slices.Equal(told, []string{"M-0000001"}) {
		t.Errorf("OnErase told %v, want [M-0000001]", told)
	}
}
