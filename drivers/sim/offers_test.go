package sim

import (
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestOffers(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 13, 8, 30, 0, 0, loc)
	offers := Offers(now, loc)
	if n := len(offers); n < 25 || n > 35 {
		t.Fatalf("%d offers, want about 30", n)
	}
	if !reflect.DeepEqual(offers, Offers(now, loc)) {
		t.Fatal("Offers is not deterministic")
	}
	segRE := regexp.MustCompile(`^(national-brand-loyal|store-brand-loyal|switcher)-(light|medium|heavy)$`)
	cats := map[string]bool{}
	for _, c := range categories {
		cats[c.name] = true
	}
	ids := map[string]bool{}
	var valid, expired, future, capped, segmented, winBack int
	for _, o := range offers {
		if o.ID == "" || ids[o.ID] || o.Title == "" {
			t.Fatalf("offer %+v: empty or duplicate id, or no title", o)
		}
		ids[o.ID] = true
		if o.DiscountPct < 5 || o.DiscountPct > 40 {
			t.Errorf("%s: discount %v%%", o.ID, o.DiscountPct)
		}
		if len(o.Channels) == 0 {
			t.Errorf("%s: no channel", o.ID)
		}
		for _, ch := range o.Channels {
			if ch != edge.ChannelSignage && ch != edge.ChannelCheckout {
				t.Errorf("%s: channel %q", o.ID, ch)
			}
		}
		for _, c := range o.Categories {
			if !cats[c] {
				t.Errorf("%s: category %q", o.ID, c)
			}
		}
		for _, s := range o.Segments {
			if !segRE.MatchString(s) {
				t.Errorf("%s: segment %q", o.ID, s)
			}
		}
		for _, s := range o.Stages {
			if !slices.Contains(edge.Stages, s) {
				t.Errorf("%s: stage %q", o.ID, s)
			}
		}
		if !o.ValidFrom.Before(o.ValidTo) {
			t.Errorf("%s: valid from %s to %s", o.ID, o.ValidFrom, o.ValidTo)
		}
		switch {
		case o.ValidAt(now):
			valid++
		case !o.ValidTo.After(now):
			expired++
		default:
			future++
		}
		if o.CapPerMember > 0 {
			capped++
		}
		if len(o.Segments) > 0 {
			segmented++
		}
		if slices.Contains(o.Stages, edge.StageLapsing) || slices.Contains(o.Stages, edge.StageChurned) {
			winBack++
		}
	}
	if valid < len(offers)*2/3 || expired < 2 || future < 1 || capped < 3 || segmented < 3 || winBack < 2 {
		t.Errorf("valid %d, expired %d, future %d, capped %d, segmented %d, win-back %d of %d",
			valid, expired, future, capped, segmented, winBack, len(offers))
	}

	// Validity windows over the simulated days.
	byID := map[string]edge.Offer{}
	for _, o := range offers {
		byID[o.ID] = o
	}
	at := func(day, h, m int) time.Time { return time.Date(2025, 6, 13+day, h, m, 0, 0, loc) }
	for _, tc := range []struct {
		id   string
		at   time.Time
		want bool
	}{
		{"bakery-croissants", at(0, 8, 30), true},
		{"bakery-evening", at(0, 12, 0), false},
		{"bakery-evening", at(0, 18, 59), false},
		{"bakery-evening", at(0, 19, 0), true},
		{"bakery-evening", at(0, 20, 29), true},
		{"bakery-evening", at(1, 9, 0), false},
		{"pet-treats", at(-1, 23, 59), true},
		{"pet-treats", at(0, 0, 0), false},
		{"wine-autumn-fair", at(0, 12, 0), false},
		{"frozen-ice-cream", at(0, 12, 0), false},
		{"frozen-ice-cream", at(3, 0, 0), true},
		{"produce-veg-box", at(0, 0, 0), true},
	} {
		o, ok := byID[tc.id]
		if !ok {
			t.Fatalf("no offer %s", tc.id)
		}
		if got := o.ValidAt(tc.at); got != tc.want {
			t.Errorf("%s valid at %s = %v, want %v", tc.id, tc.at.Format(time.DateTime), got, tc.want)
		}
	}
}

func TestOffersIndependent(t *testing.T) {
	now := time.Date(2025, 6, 13, 12, 0, 0, 0, time.UTC)
	offers := Offers(now, nil)
	offers[0].Channels[0] = "scribbled"
	for _, o := range Offers(now, time.UTC)[1:] {
		if slices.Contains(o.Channels, "scribbled") {
			t.Fatalf("offers share their slices: %s changed", o.ID)
		}
	}
	for _, o := range offers[1:] {
		if slices.Contains(o.Channels, "scribbled") {
			t.Fatalf("offers of one call share their slices: %s changed", o.ID)
		}
	}
}

// TestOffersMatrixAndHoldout: the demo's segment matrices and holdouts are
// valid as HQ and the downlink check them; the switch offers give heavy
// switchers the deepest discount and store-brand loyals nothing; the
// matrix leaves most offers to everyone and the matrix offers a fair share
// of the demo's members; the holdouts keep about 10% of members away.
func TestOffersMatrixAndHoldout(t *testing.T) {
	now := time.Date(2025, 6, 13, 12, 0, 0, 0, time.UTC)
	offers := Offers(now, time.UTC)
	byID := map[string]*edge.Offer{}
	var matrix, held, flat int
	for i := range offers {
		o := &offers[i]
		byID[o.ID] = o
		if err := o.ValidateTargeting(); err != nil {
			t.Errorf("%v", err)
		}
		if len(o.Depth) > 0 {
			matrix++
		} else {
			flat++
		}
		if o.HoldoutPct > 0 {
			held++
		}
	}
	if matrix < 2 || held < 3 || flat < len(offers)*2/3 {
		t.Errorf("%d offers with a matrix, %d with a holdout, %d flat of %d", matrix, held, flat, len(offers))
	}

	// Members built here: one per cell of dairy, buying only dairy.
	sw := byID["dairy-try-our-brand"]
	if sw == nil {
		t.Fatal("no dairy-try-our-brand")
	}
	depth := map[edge.Cell]float64{}
	for _, l := range []edge.Loyalty{edge.LoyalNational, edge.LoyalStore, edge.LoyalSwitcher} {
		for _, u := range []edge.Usage{edge.UsageLight, edge.UsageMedium, edge.UsageHeavy} {
			c := edge.Cell{Loyalty: l, Usage: u}
			m := edge.Member{ID: "M-" + c.String(), Affinity: map[string]float64{"dairy": 1}, Matrix: map[string]edge.Cell{"dairy": c}}
			pct, cell, ok := edge.DepthFor(sw, &m, now)
			if ok != (l != edge.LoyalStore) || cell != c.String() {
				t.Errorf("%s: depth %v, offered %v", c, pct, ok)
			}
			depth[c] = pct
		}
	}
	heavy := depth[edge.Cell{Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy}]
	for c, d := range depth {
		if c != (edge.Cell{Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy}) && d >= heavy {
			t.Errorf("%s gets %v%%, as much as heavy switchers (%v%%)", c, d, heavy)
		}
	}
	if d := depth[edge.Cell{Loyalty: edge.LoyalSwitcher, Usage: edge.UsageMedium}]; d <= depth[edge.Cell{Loyalty: edge.LoyalSwitcher, Usage: edge.UsageLight}] {
		t.Errorf("medium switchers get %v%%, no more than light ones", d)
	}

	// The demo's members: each matrix offer reaches a fair share of its
	// category's buyers, and about 10% of its buyers (of everyone, for an
	// offer bound to no category) are held out of each holdout offer.
	members := Members(2000, 1, now)
	for _, o := range offers {
		buyers, offered, out := 0, 0, 0
		for i := range members {
			m := &members[i].Member
			if len(o.Categories) > 0 && !slices.ContainsFunc(o.Categories, func(c string) bool { return m.Affinity[c] > 0 }) {
				continue
			}
			buyers++
			if _, _, ok := edge.DepthFor(&o, m, now); ok {
				offered++
			}
			if edge.HeldOut(&o, m) {
				out++
			}
		}
		if len(o.Depth) > 0 || o.HoldoutPct > 0 {
			t.Logf("%s: %d buyers, offered to %d, %d held out", o.ID, buyers, offered, out)
		}
		if len(o.Depth) > 0 && (buyers == 0 || offered < buyers/3 || offered == buyers) {
			t.Errorf("%s: offered to %d of its %d buyers; want a targeted share, at least a third", o.ID, offered, buyers)
		}
		if o.HoldoutPct > 0 && buyers > 0 && (out < buyers*5/100 || out > buyers*15/100) {
			t.Errorf("%s: %d of %d buyers held out, want about %v%%", o.ID, out, buyers, o.HoldoutPct)
		}
	}
}
