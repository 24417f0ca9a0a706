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
