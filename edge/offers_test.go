package edge_test

import (
	"slices"
	"testing"
	"time"

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
