package edge_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
)

var now = time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)

func days(n float64) time.Duration { return time.Duration(n * 24 * float64(time.Hour)) }

// anna buys dairy every 6 days (last 6 days ago: due) and bakery every 3
// days (last today: just bought), never wine.
func anna() edge.Member {
	return edge.Member{
		ID: "M1", FirstName: "Anna", Tier: "gold", Segment: "switcher-heavy", Stage: edge.StageActive,
		Affinity: map[string]float64{"dairy": 0.5, "bakery": 0.5},
		Cycles: map[string]edge.Cycle{
			"dairy":  {MeanDays: 6, Last: now.Add(-days(6))},
			"bakery": {MeanDays: 3, Last: now.Add(-days(0.2))},
		},
		Redeemed: map[string]int{"capped": 2},
	}
}

func offer(id string, mod func(*edge.Offer)) edge.Offer {
	o := edge.Offer{
		ID: id, Title: id, Channels: []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout},
		Categories: []string{"dairy"}, ValidFrom: now.Add(-days(1)), ValidTo: now.Add(days(1)), DiscountPct: 10,
	}
	if mod != nil {
		mod(&o)
	}
	return o
}

func TestEligible(t *testing.T) {
	m := anna()
	for _, tc := range []struct {
		name string
		o    edge.Offer
		ch   edge.Channel
		want bool
	}{
		{"plain", offer("a", nil), edge.ChannelSignage, true},
		{"wrong channel", offer("a", func(o *edge.Offer) { o.Channels = []edge.Channel{edge.ChannelCheckout} }), edge.ChannelSignage, false},
		{"not yet valid", offer("a", func(o *edge.Offer) { o.ValidFrom = now.Add(time.Second) }), edge.ChannelSignage, false},
		{"valid from now", offer("a", func(o *edge.Offer) { o.ValidFrom = now }), edge.ChannelSignage, true},
		{"expired at now", offer("a", func(o *edge.Offer) { o.ValidTo = now }), edge.ChannelSignage, false},
		{"segment match", offer("a", func(o *edge.Offer) { o.Segments = []string{"x", "switcher-heavy"} }), edge.ChannelSignage, true},
		{"segment miss", offer("a", func(o *edge.Offer) { o.Segments = []string{"store-brand-loyal-light"} }), edge.ChannelSignage, false},
		{"stage match", offer("a", func(o *edge.Offer) { o.Stages = []edge.Stage{edge.StageActive} }), edge.ChannelSignage, true},
		{"stage miss", offer("a", func(o *edge.Offer) { o.Stages = []edge.Stage{edge.StageLapsing} }), edge.ChannelSignage, false},
		{"cap reached", offer("capped", func(o *edge.Offer) { o.CapPerMember = 2 }), edge.ChannelSignage, false},
		{"cap not reached", offer("capped", func(o *edge.Offer) { o.CapPerMember = 3 }), edge.ChannelSignage, true},
		{"category never bought", offer("a", func(o *edge.Offer) { o.Categories = []string{"wine"} }), edge.ChannelSignage, false},
		{"one category bought", offer("a", func(o *edge.Offer) { o.Categories = []string{"wine", "dairy"} }), edge.ChannelSignage, true},
		{"no category", offer("a", func(o *edge.Offer) { o.Categories = nil }), edge.ChannelSignage, true},
		// Anna bought bakery today (every 3 days): no bakery offer until her
		// next purchase is due, however long it lasts (so no short-expiry
		// coupon right after a purchase); dairy is due.
		{"just bought, short expiry", offer("a", func(o *edge.Offer) { o.Categories = []string{"bakery"} }), edge.ChannelSignage, false},
		{"just bought, long validity", offer("a", func(o *edge.Offer) { o.Categories = []string{"bakery"}; o.ValidTo = now.Add(days(30)) }), edge.ChannelSignage, false},
		{"one category due", offer("a", func(o *edge.Offer) { o.Categories = []string{"bakery", "dairy"} }), edge.ChannelSignage, true},
		{"due now", offer("a", nil), edge.ChannelSignage, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := edge.Eligible(&tc.o, &m, tc.ch, now); got != tc.want {
				t.Errorf("Eligible = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCycleTiming(t *testing.T) {
	for _, tc := range []struct {
		since float64 // days since last purchase, cycle of 10 days
		want  float64
	}{{1, 0.2}, {4.9, 0.2}, {6, 0.5}, {8, 1.0}, {15, 1.0}, {16, 0.7}} {
		c := edge.Cycle{MeanDays: 10, Last: now.Add(-days(tc.since))}
		if got := edge.CycleTiming(c, now); got != tc.want {
			t.Errorf("%.1f days into a 10-day cycle: timing %.1f, want %.1f", tc.since, got, tc.want)
		}
	}
	if got := edge.CycleTiming(edge.Cycle{}, now); got != 0.6 {
		t.Errorf("unknown cycle: %.1f, want 0.6", got)
	}
}

func TestSelectRanksByTimingAndDiscount(t *testing.T) {
	m := anna()
	offers := []edge.Offer{
		// Anna just bought bakery: not offered until it is due again.
		offer("bakery-30", func(o *edge.Offer) {
			o.Categories = []string{"bakery"}
			o.DiscountPct = 30
			o.ValidTo = now.Add(days(5))
		}),
		offer("dairy-10", nil),
		offer("dairy-20", func(o *edge.Offer) { o.DiscountPct = 20 }),
		offer("generic-5", func(o *edge.Offer) { o.Categories = nil; o.DiscountPct = 5 }),
		offer("wine-50", func(o *edge.Offer) { o.Categories = []string{"wine"}; o.DiscountPct = 50 }),
		offer("expired", func(o *edge.Offer) { o.ValidTo = now.Add(-time.Hour); o.DiscountPct = 90 }),
	}
	ids := func(os []*edge.Offer) []string {
		var s []string
		for _, o := range os {
			s = append(s, o.ID)
		}
		return s
	}
	// Dairy is due (0.5×1.0), bakery was just bought (0.5×0.2), generic 0.5.
	got := ids(edge.Select(offers, &m, edge.ChannelCheckout, now, 3, nil))
	want := []string{"dairy-20", "dairy-10", "generic-5"}
	if !slices.Equal(got, want) {
		t.Errorf("Select = %v, want %v", got, want)
	}
	got = ids(edge.Select(offers, &m, edge.ChannelCheckout, now, 10, nil))
	if want := []string{"dairy-20", "dairy-10", "generic-5"}; !slices.Equal(got, want) {
		t.Errorf("Select all = %v, want %v", got, want)
	}
	skip := func(o *edge.Offer) bool { return o.ID == "dairy-20" }
	if got := ids(edge.Select(offers, &m, edge.ChannelSignage, now, 1, skip)); !slices.Equal(got, []string{"dairy-10"}) {
		t.Errorf("Select with skip = %v, want [dairy-10]", got)
	}
}

func TestSelectTieBreaksByID(t *testing.T) {
	m := anna()
	offers := []edge.Offer{offer("c", nil), offer("a", nil), offer("b", nil)}
	got := edge.Select(offers, &m, edge.ChannelSignage, now, 2, nil)
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Errorf("tie order: %v %v, want a b", got[0].ID, got[1].ID)
	}
}

func TestIntervalStart(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	kathmandu, _ := time.LoadLocation("Asia/Kathmandu") // UTC+05:45
	for _, tc := range []struct {
		loc  *time.Location
		at   string
		d    time.Duration
		want string
	}{
		{paris, "2026-11-20T10:07:59+01:00", 15 * time.Minute, "2026-11-20T10:00:00+01:00"},
		{paris, "2026-11-20T10:15:00+01:00", 15 * time.Minute, "2026-11-20T10:15:00+01:00"},
		{paris, "2026-11-20T23:59:59+01:00", time.Hour, "2026-11-20T23:00:00+01:00"},
		{paris, "2026-11-20T13:00:00+01:00", 24 * time.Hour, "2026-11-20T00:00:00+01:00"},
		{kathmandu, "2026-11-20T10:07:00+05:45", 15 * time.Minute, "2026-11-20T10:00:00+05:45"},
		// Autumn: 02:30 happens twice; each lies in its own interval.
		{paris, "2026-10-25T02:30:00+02:00", time.Hour, "2026-10-25T02:00:00+02:00"},
		{paris, "2026-10-25T02:30:00+01:00", time.Hour, "2026-10-25T02:00:00+01:00"},
		{paris, "2026-10-25T13:00:00+01:00", 24 * time.Hour, "2026-10-25T00:00:00+02:00"},
		// Spring: 02:00-03:00 does not exist.
		{paris, "2026-03-29T03:10:00+02:00", 15 * time.Minute, "2026-03-29T03:00:00+02:00"},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := edge.IntervalStart(at, tc.loc, tc.d); !got.Equal(want) {
			t.Errorf("IntervalStart(%s, %s) = %s, want %s", tc.at, tc.d, got.Format(time.RFC3339), tc.want)
		}
	}
}

// TestIntervalsOnClockChangeDays walks a whole local day interval by
// interval: 92 quarter-hours in spring, 100 in autumn, 96 otherwise, and
// consecutive intervals tile the day without gap or overlap.
func TestIntervalsOnClockChangeDays(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tc := range []struct {
		day     string
		d       time.Duration
		windows int
	}{
		{"2026-03-29", 15 * time.Minute, 92},
		{"2026-10-25", 15 * time.Minute, 100},
		{"2026-11-20", 15 * time.Minute, 96},
		{"2026-10-25", time.Hour, 25},
		{"2026-03-29", 24 * time.Hour, 1},
		{"2026-10-25", 24 * time.Hour, 1},
	} {
		day, _ := time.ParseInLocation(time.DateOnly, tc.day, paris)
		end := day.AddDate(0, 0, 1)
		n := 0
		for s := edge.IntervalStart(day, paris, tc.d); s.Before(end); {
			next := edge.NextInterval(s, paris, tc.d)
			if !next.After(s) {
				t.Fatalf("%s %s: interval %s does not advance", tc.day, tc.d, s)
			}
			if got := edge.IntervalStart(next.Add(-time.Second), paris, tc.d); !got.Equal(s) {
				t.Fatalf("%s %s: gap or overlap after %s", tc.day, tc.d, s)
			}
			n++
			s = next
		}
		if n != tc.windows {
			t.Errorf("%s with %s intervals: %d intervals, want %d", tc.day, tc.d, n, tc.windows)
		}
	}
}

// TestLifecycleStage: the stage follows recency against the member's own
// rhythm; without a rhythm HQ's stage stands.
func TestLifecycleStage(t *testing.T) {
	every := func(mean, ago float64, count int) edge.Member {
		return edge.Member{Stage: edge.StageActive, Cycles: map[string]edge.Cycle{
			"dairy": {MeanDays: mean, Last: now.Add(-days(ago)), Count: count},
		}}
	}
	for _, tc := range []struct {
		name string
		m    edge.Member
		want edge.Stage
	}{
		{"no rhythm: HQ's stage", edge.Member{Stage: edge.StageLapsing}, edge.StageLapsing},
		{"first purchase", every(7, 1, 1), edge.StageNew},
		{"on time", every(7, 6, 9), edge.StageActive},
		{"twice late is still active", every(7, 14, 9), edge.StageActive},
		{"lapsing", every(9, 41, 20), edge.StageLapsing},
		{"weekly shopper gone 8 weeks: lapsing (60 days at least)", every(7, 56, 20), edge.StageLapsing},
		{"churned", every(9, 75, 20), edge.StageChurned},
		{"monthly shopper 7 months away", every(30, 241, 5), edge.StageChurned},
		{"count unknown", every(7, 1, 0), edge.StageActive},
	} {
		if got := edge.LifecycleStage(&tc.m, now); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// A win-back offer (targeted at lapsing members) goes to the member
	// who stopped coming, whatever stage HQ last stored, and not to one on
	// time.
	winBack := offer("win-back", func(o *edge.Offer) { o.Stages = []edge.Stage{edge.StageLapsing}; o.ValidTo = now.Add(days(30)) })
	gone, regular := every(9, 41, 20), every(6, 5, 20)
	for _, m := range []*edge.Member{&gone, &regular} {
		m.Affinity = map[string]float64{"dairy": 1}
	}
	if !edge.Eligible(&winBack, &gone, edge.ChannelCheckout, now) || edge.Eligible(&winBack, &regular, edge.ChannelCheckout, now) {
		t.Errorf("win-back offer: lapsing member %v, regular %v", edge.Eligible(&winBack, &gone, edge.ChannelCheckout, now), edge.Eligible(&winBack, &regular, edge.ChannelCheckout, now))
	}
}

// shopper is a member buying dairy and bakery (affinity 0.6 and 0.4) on an
// unknown rhythm unless mod says otherwise.
func shopper(id string, mod func(*edge.Member)) edge.Member {
	m := edge.Member{ID: id, Stage: edge.StageActive, Affinity: map[string]float64{"dairy": 0.6, "bakery": 0.4}}
	if mod != nil {
		mod(&m)
	}
	return m
}

// inCell puts the member in a segment-matrix cell for dairy.
func inCell(l edge.Loyalty, u edge.Usage) func(*edge.Member) {
	return func(m *edge.Member) { m.Matrix = map[string]edge.Cell{"dairy": {Loyalty: l, Usage: u}} }
}

// switchOffer is a store-brand switch offer on dairy with a segment
// matrix: deepest for heavy switchers, nothing for national-brand loyals.
func switchOffer() edge.Offer {
	return offer("dairy-switch", func(o *edge.Offer) {
		o.DiscountPct = 0
		o.Depth = map[string]float64{
			"switcher/heavy": 30, "switcher/medium": 20, "switcher/light": 10,
			"store/heavy": 15, "store/medium": 10, "store/light": 5,
		}
	})
}

// TestOfferRules covers every rule of offer selection (issue 6, part 4)
// through Choose, the function the engine uses for both channels: (a)
// purchase-cycle timing, (b) the segment matrix, (c) the lifecycle stage,
// (d) relevance, (f) holdouts. (e), the daily cap across channels, is the
// engine's: TestDailyCapAcrossChannels and TestHoldoutSignage.
func TestOfferRules(t *testing.T) {
	ago := func(cat string, mean, since float64) func(*edge.Member) {
		return func(m *edge.Member) {
			if m.Cycles == nil {
				m.Cycles = map[string]edge.Cycle{}
			}
			m.Cycles[cat] = edge.Cycle{MeanDays: mean, Last: now.Add(-days(since)), Count: 10}
		}
	}
	both := func(fs ...func(*edge.Member)) func(*edge.Member) {
		return func(m *edge.Member) {
			for _, f := range fs {
				f(m)
			}
		}
	}
	flat20 := offer("dairy-20", func(o *edge.Offer) { o.DiscountPct = 20 })
	flat10 := offer("dairy-10", nil)
	bakery := offer("bakery-15", func(o *edge.Offer) { o.Categories = []string{"bakery"}; o.DiscountPct = 15 })
	wine := offer("wine-50", func(o *edge.Offer) { o.Categories = []string{"wine"}; o.DiscountPct = 50 })
	winBack := offer("win-back", func(o *edge.Offer) { o.Stages = []edge.Stage{edge.StageLapsing}; o.DiscountPct = 25 })
	// dairy-hold (30 %) and dairy-25 hold out M1 and not M2 at 50 %
	// (TestInHoldoutVectors).
	hold := offer("dairy-hold", func(o *edge.Offer) { o.DiscountPct = 30; o.HoldoutPct = 50 })
	hold25 := offer("dairy-25", func(o *edge.Offer) { o.DiscountPct = 25; o.HoldoutPct = 50 })

	for _, tc := range []struct {
		rule, name string
		m          edge.Member
		offers     []edge.Offer
		n          int
		skip       string   // an offer the frequency cap excludes
		shown      []string // "offer@depth", best first
		withheld   []string // "offer#rank"
	}{
		// (a) Purchase-cycle timing: a category offer waits until the next
		// purchase there is due; an unknown rhythm does not hold it back.
		{rule: "a", name: "just bought: not eligible", m: shopper("M9", ago("dairy", 10, 1)), offers: []edge.Offer{flat20}, n: 1},
		{rule: "a", name: "long before due: not eligible", m: shopper("M9", ago("dairy", 10, 7.5)), offers: []edge.Offer{flat20}, n: 1},
		{rule: "a", name: "due", m: shopper("M9", ago("dairy", 10, 8)), offers: []edge.Offer{flat20}, n: 1, shown: []string{"dairy-20@20"}},
		{rule: "a", name: "overdue", m: shopper("M9", ago("dairy", 10, 30)), offers: []edge.Offer{flat20}, n: 1, shown: []string{"dairy-20@20"}},
		{rule: "a", name: "unknown rhythm", m: shopper("M9", nil), offers: []edge.Offer{flat20}, n: 1, shown: []string{"dairy-20@20"}},
		{rule: "a", name: "due beats just bought", m: shopper("M9", both(ago("dairy", 10, 9), ago("bakery", 3, 2))),
			offers: []edge.Offer{flat10, bakery}, n: 2, shown: []string{"dairy-10@10"}},

		// (b) Segment matrix: the depth of the member's cell replaces the
		// discount; a cell without a depth, or no cell, gets nothing;
		// offers without a matrix go to everyone.
		{rule: "b", name: "heavy switcher gets the deepest", m: shopper("M9", inCell(edge.LoyalSwitcher, edge.UsageHeavy)),
			offers: []edge.Offer{switchOffer(), flat20}, n: 2, shown: []string{"dairy-switch@30", "dairy-20@20"}},
		{rule: "b", name: "light switcher: shallow depth ranks below a flat 20", m: shopper("M9", inCell(edge.LoyalSwitcher, edge.UsageLight)),
			offers: []edge.Offer{switchOffer(), flat20}, n: 2, shown: []string{"dairy-20@20", "dairy-switch@10"}},
		{rule: "b", name: "store-brand loyal", m: shopper("M9", inCell(edge.LoyalStore, edge.UsageHeavy)),
			offers: []edge.Offer{switchOffer()}, n: 1, shown: []string{"dairy-switch@15"}},
		{rule: "b", name: "targeted by cell: national loyal not offered", m: shopper("M9", inCell(edge.LoyalNational, edge.UsageHeavy)),
			offers: []edge.Offer{switchOffer(), flat10}, n: 2, shown: []string{"dairy-10@10"}},
		{rule: "b", name: "member without a cell", m: shopper("M9", nil),
			offers: []edge.Offer{switchOffer(), flat10}, n: 2, shown: []string{"dairy-10@10"}},
		{rule: "b", name: "cell in another category only", m: shopper("M9", func(m *edge.Member) {
			m.Matrix = map[string]edge.Cell{"bakery": {Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy}}
		}), offers: []edge.Offer{switchOffer()}, n: 1},
		{rule: "b", name: "cell of the most relevant category", m: shopper("M9", func(m *edge.Member) {
			m.Matrix = map[string]edge.Cell{"dairy": {Loyalty: edge.LoyalStore, Usage: edge.UsageLight}, "bakery": {Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy}}
		}), offers: []edge.Offer{offer("two", func(o *edge.Offer) {
			o.Categories = []string{"bakery", "dairy"}
			o.Depth = switchOffer().Depth
		})}, n: 1, shown: []string{"two@5"}},

		// (c) Lifecycle stage from the member's own rhythm: win-back
		// offers reach lapsing members only.
		{rule: "c", name: "win-back: lapsing member", m: shopper("M9", ago("dairy", 9, 41)), offers: []edge.Offer{winBack}, n: 1,
			shown: []string{"win-back@25"}},
		{rule: "c", name: "win-back: active member", m: shopper("M9", ago("dairy", 9, 9)), offers: []edge.Offer{winBack}, n: 1},
		{rule: "c", name: "win-back: churned member", m: shopper("M9", ago("dairy", 9, 90)), offers: []edge.Offer{winBack}, n: 1},

		// (d) Relevance: a category the member never bought is excluded,
		// whatever the discount; affinity ranks the rest.
		{rule: "d", name: "never-bought category excluded", m: shopper("M9", nil), offers: []edge.Offer{wine, flat10}, n: 2,
			shown: []string{"dairy-10@10"}},
		{rule: "d", name: "affinity ranks", m: shopper("M9", nil), offers: []edge.Offer{bakery, flat10}, n: 2,
			shown: []string{"dairy-10@10", "bakery-15@15"}},

		// (f) Holdouts: a held-out member is shown the next best, and the
		// offer they were held out of is withheld with the rank it would
		// have had.
		{rule: "f", name: "held out: next best", m: shopper("M1", nil), offers: []edge.Offer{hold, flat20, flat10}, n: 1,
			shown: []string{"dairy-20@20"}, withheld: []string{"dairy-hold#1"}},
		{rule: "f", name: "held out: panel of two", m: shopper("M1", nil), offers: []edge.Offer{flat20, hold, flat10}, n: 2,
			shown: []string{"dairy-20@20", "dairy-10@10"}, withheld: []string{"dairy-hold#1"}},
		{rule: "f", name: "two holdouts", m: shopper("M1", nil), offers: []edge.Offer{hold, hold25, flat10}, n: 1,
			shown: []string{"dairy-10@10"}, withheld: []string{"dairy-hold#1", "dairy-25#1"}},
		{rule: "f", name: "not held out", m: shopper("M2", nil), offers: []edge.Offer{hold, flat20}, n: 1,
			shown: []string{"dairy-hold@30"}},
		{rule: "f", name: "below the shown: not withheld", m: shopper("M1", nil),
			offers: []edge.Offer{offer("dairy-hold", func(o *edge.Offer) { o.HoldoutPct = 50; o.DiscountPct = 5 }), flat20}, n: 1,
			shown: []string{"dairy-20@20"}},
		{rule: "f", name: "capped: not withheld", m: shopper("M1", nil), offers: []edge.Offer{hold, flat20}, n: 1, skip: "dairy-hold",
			shown: []string{"dairy-20@20"}},
		{rule: "f", name: "nothing else to show", m: shopper("M1", nil), offers: []edge.Offer{hold}, n: 1,
			withheld: []string{"dairy-hold#1"}},
		{rule: "f", name: "held out with a matrix", m: shopper("M1", inCell(edge.LoyalSwitcher, edge.UsageMedium)),
			offers: []edge.Offer{offer("dairy-hold", func(o *edge.Offer) { o.HoldoutPct = 50; o.Depth = switchOffer().Depth }), flat10}, n: 1,
			shown: []string{"dairy-10@10"}, withheld: []string{"dairy-hold#1"}},
	} {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			var skip func(*edge.Offer) bool
			if tc.skip != "" {
				skip = func(o *edge.Offer) bool { return o.ID == tc.skip }
			}
			shown, withheld := edge.Choose(tc.offers, &tc.m, edge.ChannelSignage, now, tc.n, skip)
			var gotShown, gotWithheld []string
			for i, p := range shown {
				gotShown = append(gotShown, fmt.Sprintf("%s@%g", p.Offer.ID, p.Pct))
				if p.Rank != i+1 {
					t.Errorf("%s shown at rank %d, position %d", p.Offer.ID, p.Rank, i+1)
				}
			}
			for _, p := range withheld {
				gotWithheld = append(gotWithheld, fmt.Sprintf("%s#%d", p.Offer.ID, p.Rank))
			}
			if !slices.Equal(gotShown, tc.shown) || !slices.Equal(gotWithheld, tc.withheld) {
				t.Errorf("shown %v withheld %v, want %v and %v", gotShown, gotWithheld, tc.shown, tc.withheld)
			}
			// Select shows what Choose shows.
			var sel []string
			for _, o := range edge.Select(tc.offers, &tc.m, edge.ChannelSignage, now, tc.n, skip) {
				sel = append(sel, o.ID)
			}
			var ids []string
			for _, p := range shown {
				ids = append(ids, p.Offer.ID)
			}
			if !slices.Equal(sel, ids) {
				t.Errorf("Select %v, Choose %v", sel, ids)
			}
		})
	}
}

// TestDepthFor: the member's cell and depth; the heavier a switcher, the
// deeper the switch offer.
func TestDepthFor(t *testing.T) {
	o := switchOffer()
	prev := 0.0
	for _, u := range []edge.Usage{edge.UsageLight, edge.UsageMedium, edge.UsageHeavy} {
		m := shopper("M9", inCell(edge.LoyalSwitcher, u))
		pct, cell, ok := edge.DepthFor(&o, &m, now)
		if !ok || cell != "switcher/"+string(u) || pct <= prev {
			t.Errorf("%s switcher: %v %q %v, want a depth above %v", u, pct, cell, ok, prev)
		}
		prev = pct
	}
	for _, l := range []edge.Loyalty{edge.LoyalNational, edge.LoyalStore} {
		for _, u := range []edge.Usage{edge.UsageLight, edge.UsageMedium, edge.UsageHeavy} {
			m := shopper("M9", inCell(l, u))
			if pct, _, ok := edge.DepthFor(&o, &m, now); ok && pct >= 30 {
				t.Errorf("%s/%s gets %v, as deep as heavy switchers", l, u, pct)
			}
		}
	}
	m := shopper("M9", inCell(edge.LoyalNational, edge.UsageHeavy))
	if pct, cell, ok := edge.DepthFor(&o, &m, now); ok || cell != "national/heavy" || pct != 0 {
		t.Errorf("national/heavy: %v %q %v, want not offered, cell named", pct, cell, ok)
	}
	flat := offer("flat", func(o *edge.Offer) { o.DiscountPct = 12.5 })
	if pct, cell, ok := edge.DepthFor(&flat, &m, now); !ok || cell != "" || pct != 12.5 {
		t.Errorf("offer without a matrix: %v %q %v, want its DiscountPct for everyone", pct, cell, ok)
	}
	if !edge.Eligible(&flat, &m, edge.ChannelSignage, now) || edge.Eligible(&o, &m, edge.ChannelSignage, now) {
		t.Error("Eligible must follow DepthFor")
	}
	if s := edge.Score(&o, &m, now); s != 0 {
		t.Errorf("score %v of an offer the member's cell has no depth for", s)
	}
}

func TestValidateTargeting(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*edge.Offer)
		want string // in the error; "": valid
	}{
		{"no matrix", nil, ""},
		{"matrix", func(o *edge.Offer) { o.Depth = switchOffer().Depth }, ""},
		{"holdout 50", func(o *edge.Offer) { o.HoldoutPct = 50 }, ""},
		{"holdout 51", func(o *edge.Offer) { o.HoldoutPct = 51 }, "bad offer a: holdout_pct 51 is outside 0..50"},
		{"holdout negative", func(o *edge.Offer) { o.HoldoutPct = -1 }, "holdout_pct -1"},
		{"holdout NaN", func(o *edge.Offer) { o.HoldoutPct = math.NaN() }, "holdout_pct NaN"},
		{"unknown cell", func(o *edge.Offer) { o.Depth = map[string]float64{"switcher/heavy": 30, "switcher/huge": 40} },
			`bad offer a: depth: "switcher/huge": not a segment-matrix cell`},
		{"segment name", func(o *edge.Offer) { o.Depth = map[string]float64{"switcher-heavy": 30} }, `"switcher-heavy": not a segment-matrix cell`},
		{"upper case", func(o *edge.Offer) { o.Depth = map[string]float64{"Switcher/Heavy": 30} }, `"Switcher/Heavy"`},
		{"three parts", func(o *edge.Offer) { o.Depth = map[string]float64{"store/light/x": 30} }, `"store/light/x"`},
		{"zero", func(o *edge.Offer) { o.Depth = map[string]float64{"store/light": 0} }, `bad offer a: depth "store/light": 0 is not above 0`},
		{"above 100", func(o *edge.Offer) { o.Depth = map[string]float64{"store/light": 100.5} }, `depth "store/light": 100.5`},
		{"100", func(o *edge.Offer) { o.Depth = map[string]float64{"store/light": 100} }, ""},
		{"no category", func(o *edge.Offer) { o.Categories = nil; o.Depth = map[string]float64{"store/light": 5} }, "depth without a category"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := offer("a", tc.mod)
			err := o.ValidateTargeting()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, edge.ErrBadOffer)):
				t.Errorf("error %v, want ErrBadOffer with %q", err, tc.want)
			}
		})
	}
	for _, k := range []string{"national/light", "national/medium", "national/heavy", "store/light", "store/medium",
		"store/heavy", "switcher/light", "switcher/medium", "switcher/heavy"} {
		c, err := edge.ParseCell(k)
		if err != nil || c.String() != k {
			t.Errorf("ParseCell(%q) = %v, %v", k, c, err)
		}
	}
	if _, err := edge.ParseCell(""); !errors.Is(err, edge.ErrBadCell) {
		t.Errorf("ParseCell(\"\"): %v", err)
	}
}

// TestMatrixDepthEverywhere: the member's depth is what the signage shows,
// what the exposure records (with the cell), what the checkout panel shows
// and takes off the basket, and what the redemption grants; a member whose
// cell has no depth is never offered it.
func TestMatrixDepthEverywhere(t *testing.T) {
	seed := func(t *testing.T, h *harness) {
		now := time.Now()
		o := edge.Offer{ID: "dairy-switch", Title: "Try our yoghurts", Channels: []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout},
			Categories: []string{"dairy"}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(24 * time.Hour),
			DiscountPct: 5, Depth: map[string]float64{"switcher/heavy": 35, "store/light": 5}}
		if err := h.store.PutOffers([]edge.Offer{o}); err != nil {
			t.Fatal(err)
		}
		anna, err := h.store.Member("M1")
		if err != nil {
			t.Fatal(err)
		}
		anna.Matrix = map[string]edge.Cell{"dairy": {Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy}}
		if err := h.store.PutMembers([]edge.MemberRecord{{Member: anna, Cards: [][]byte{annaCard}, Loyalty: annaLoyalty, List: annaList}}); err != nil {
			t.Fatal(err)
		}
	}
	runSeeded(t, seed, func(t *testing.T, h *harness) {
		h.send(card("fresh-reader", annaCard), card("fresh-reader", brunoCard))
		v := h.screens.signageOf("fresh")
		if len(v) != 2 || v[0].Offer.ID != "dairy-switch" || v[0].Offer.DiscountPct != 35 {
			t.Fatalf("signage %+v, want dairy-switch at Anna's 35 %%", v)
		}
		if v[1].Offer.ID == "dairy-switch" {
			t.Errorf("Bruno (no cell) was shown dairy-switch")
		}
		exp := h.committed(edge.KindOfferShown)
		if e := exp[0].Exposure; e.OfferID != "dairy-switch" || e.DiscountPct != 35 || e.Cell != "switcher/heavy" {
			t.Errorf("exposure %+v, want depth 35 in cell switcher/heavy", e)
		}
		if e := exp[1].Exposure; e.DiscountPct != 20 || e.Cell != "" {
			t.Errorf("Bruno's exposure %+v, want dairy-20's flat 20 %% and no cell", e)
		}

		h.send(card("lane-2-reader", annaCard))
		cv, err := h.engine.CurrentBasket(ctx, "2")
		if err != nil {
			t.Fatal(err)
		}
		cv, err = h.engine.SetLines(ctx, "2", cv.Basket.ID, lines(line("yog", "dairy", 2, 249)))
		if err != nil {
			t.Fatal(err)
		}
		bo := find(t, cv, "dairy-switch")
		if bo.DiscountPct != 35 || bo.Discount != 174 { // 35 % of 4.98
			t.Errorf("panel offer %+v, want 35 %% = 1.74", bo)
		}
		if _, err := h.engine.ApplyOffer(ctx, "2", cv.Basket.ID, "dairy-switch", true); err != nil {
			t.Fatal(err)
		}
		r, err := h.engine.CloseBasket(ctx, "2", cv.Basket.ID, "c1", -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Redemptions) != 1 || r.Redemptions[0].Discount != 174 || r.Basket.Total != 498-174 {
			t.Errorf("closed %+v, want dairy-switch redeemed for 1.74", r)
		}
		for _, e := range h.committed(edge.KindOfferShown) {
			if e.Exposure.MemberID == "M2" && e.Exposure.OfferID == "dairy-switch" {
				t.Errorf("Bruno exposed to dairy-switch")
			}
		}
	})
}

// BenchmarkChoose measures ranking the demo's offers for one member at a
// checkout panel of three, segment matrices and holdouts included.
func BenchmarkChoose(b *testing.B) {
	at := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	offers := sim.Offers(at, time.UTC)
	members := sim.Members(1000, 1, at)
	shown := 0
	for i := 0; b.Loop(); i++ {
		s, w := edge.Choose(offers, &members[i%len(members)].Member, edge.ChannelCheckout, at, 3, nil)
		shown += len(s) + len(w)
	}
	if shown == 0 {
		b.Fatal("nothing chosen")
	}
}
