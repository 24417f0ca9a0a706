package edge_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// TestInHoldoutVectors pins the holdout draw HQ relies on: h is the first
// 8 bytes of SHA-256(offer ‖ 0x00 ‖ member), big-endian, and a member is
// held out when h / 2^64 < pct / 100. The expected values were computed
// outside Go (Python's hashlib), so a change of the definition, however
// small, fails here.
func TestInHoldoutVectors(t *testing.T) {
	for _, tc := range []struct {
		offer, member string
		h             uint64  // for the record: the draw
		at            float64 // h / 2^64 × 100
	}{
		{"winback-bakery", "M04217", 0x191d0100a577927b, 9.80988146379487},
		{"dairy-try-our-brand", "M00001", 0x7a1ceee810e05b61, 47.70039860312649},
		{"OF-1", "M1", 0x9ef71c9be7218caf, 62.09581261274535},
		{"a", "b", 0x59b271ae1bbcb1d3, 35.03790903157433},
		{"", "", 0x6e340b9cffb37a98, 43.04816492364817},
		{"café-10", "M-ü", 0x38674c2f0445ff85, 22.032619617336735}, // UTF-8 bytes
		{"dairy-hold", "M1", 0x66e75a2a5b60e9b6, 40.19676545534626},
		{"dairy-hold", "M2", 0xf88e2c58b6e49b3b, 97.0919391306682},
	} {
		if got := float64(tc.h) / (1 << 64) * 100; math.Abs(got-tc.at) > 1e-9 {
			t.Fatalf("vector %s/%s is inconsistent: %v vs %v", tc.offer, tc.member, got, tc.at)
		}
		below, above := tc.at-1e-6, tc.at+1e-6
		if edge.InHoldout(tc.offer, tc.member, below) || !edge.InHoldout(tc.offer, tc.member, above) {
			t.Errorf("%q/%q (h/2^64 = %.6f %%): held out at %.6f %% = %v, at %.6f %% = %v; want false, true",
				tc.offer, tc.member, tc.at, below, edge.InHoldout(tc.offer, tc.member, below),
				above, edge.InHoldout(tc.offer, tc.member, above))
		}
	}
	// The README's example: held out at 10 %, not at 9 %.
	if !edge.InHoldout("winback-bakery", "M04217", 10) || edge.InHoldout("winback-bakery", "M04217", 9) {
		t.Error("winback-bakery/M04217: want held out at 10 % and not at 9 %")
	}
}

// TestInHoldoutBounds: nobody at 0 % (or less, or NaN), everybody at 100 %.
func TestInHoldoutBounds(t *testing.T) {
	for i := range 1000 {
		id := fmt.Sprintf("M%04d", i)
		if edge.InHoldout("o", id, 0) || edge.InHoldout("o", id, -5) || edge.InHoldout("o", id, math.NaN()) {
			t.Fatalf("%s held out at 0, -5 or NaN %%", id)
		}
		if !edge.InHoldout("o", id, 100) || !edge.InHoldout("o", id, 150) {
			t.Fatalf("%s not held out at 100 %%", id)
		}
		if edge.InHoldout("o", id, 10) && !edge.InHoldout("o", id, 20) {
			t.Fatalf("%s held out at 10 %% but not at 20 %%: a larger holdout must contain a smaller one", id)
		}
	}
}

// TestInHoldoutShare: out of 100 000 members, the share held out is pct
// within four standard deviations of a binomial draw, for every offer; the
// holdouts of two offers are independent (the share held out of both is
// about the product).
func TestInHoldoutShare(t *testing.T) {
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("M%06d", i)
	}
	within := func(what string, got int, p float64) {
		t.Helper()
		sd := math.Sqrt(n * p * (1 - p))
		if math.Abs(float64(got)-n*p) > 4*sd {
			t.Errorf("%s: %d of %d held out, want %.0f ± %.0f", what, got, n, n*p, 4*sd)
		}
	}
	for _, offer := range []string{"dairy-try-our-brand", "winback-bakery", "OF-2026-11-DAIRY"} {
		for _, pct := range []float64{1, 2.5, 10, 25, 50} {
			got := 0
			for _, id := range ids {
				if edge.InHoldout(offer, id, pct) {
					got++
				}
			}
			within(fmt.Sprintf("%s at %g %%", offer, pct), got, pct/100)
		}
	}
	both := 0
	for _, id := range ids {
		if edge.InHoldout("dairy-try-our-brand", id, 10) && edge.InHoldout("winback-bakery", id, 10) {
			both++
		}
	}
	within("held out of both of two offers at 10 %", both, 0.01)
}

// holdOffer is an offer of 30 % on dairy that M1 (Anna) is held out of and
// M2 (Bruno) is not, at 50 % (TestInHoldoutVectors: 40.2 and 97.1).
func holdOffer(now time.Time) edge.Offer {
	return edge.Offer{ID: "dairy-hold", Title: "Offer dairy-hold", Channels: []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout},
		Categories: []string{"dairy"}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(30 * 24 * time.Hour),
		DiscountPct: 30, HoldoutPct: 50}
}

// TestHoldoutSignage: a member held out of the offer that would have been
// their best is shown the next best instead; the withheld offer is
// recorded once per frequency-cap window, with the rank it would have had,
// and does not count against the daily cap. A member not held out is
// shown it.
func TestHoldoutSignage(t *testing.T) {
	seed := func(t *testing.T, h *harness) {
		h.dailyCap = 2
		if err := h.store.PutOffers([]edge.Offer{holdOffer(time.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	runSeeded(t, seed, func(t *testing.T, h *harness) {
		shownAt := func(zone string) []string {
			var ids []string
			for _, v := range h.screens.signageOf(zone) {
				ids = append(ids, v.Offer.ID)
			}
			return ids
		}
		h.send(card("fresh-reader", annaCard))
		if got := shownAt("fresh"); !slices.Equal(got, []string{"dairy-20"}) {
			t.Fatalf("Anna was shown %v, want the next best [dairy-20] (held out of dairy-hold)", got)
		}
		w := h.committed(edge.KindWithheld)
		want := edge.Exposure{OfferID: "dairy-hold", MemberID: "M1", Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1, DiscountPct: 30}
		if len(w) != 1 || *w[0].Withheld != want || w[0].Source != "fresh-reader" {
			t.Fatalf("withheld %+v, want one %+v", w, want)
		}
		// Within the cap window: dairy-hold is not recorded again, and
		// Anna sees the next offer (the daily cap of 2 not yet reached:
		// the withheld offer does not count).
		time.Sleep(time.Minute)
		h.send(card("fresh-reader", annaCard))
		if got := shownAt("fresh"); !slices.Equal(got, []string{"dairy-20", "dairy-10"}) {
			t.Errorf("Anna was shown %v, want [dairy-20 dairy-10]", got)
		}
		if n := len(h.committed(edge.KindWithheld)); n != 1 {
			t.Errorf("%d withheld events after a second read within the cap window, want 1", n)
		}
		// Another screen is another cap key: recorded there once. The
		// daily cap (2) is reached: nothing would be shown, so nothing is
		// withheld either.
		h.send(card("bakery-reader", annaCard))
		if got := shownAt("bakery"); len(got) != 0 {
			t.Errorf("bakery showed %v past the daily cap", got)
		}
		time.Sleep(31 * time.Minute)
		h.send(card("fresh-reader", annaCard))
		if n := len(h.committed(edge.KindWithheld)); n != 1 {
			t.Errorf("%d withheld events past the daily cap, want still 1", n)
		}
		// Bruno is not held out: he is shown dairy-hold, at 30 %.
		h.send(card("fresh-reader", brunoCard))
		v := h.screens.signageOf("fresh")
		if last := v[len(v)-1]; last.Offer.ID != "dairy-hold" || last.Offer.DiscountPct != 30 {
			t.Errorf("Bruno was shown %+v, want dairy-hold at 30 %%", last.Offer)
		}
		for _, e := range h.committed(edge.KindOfferShown) {
			if e.Exposure.MemberID == "M1" && e.Exposure.OfferID == "dairy-hold" {
				t.Errorf("Anna was exposed to dairy-hold: %+v", e.Exposure)
			}
		}
		if n := len(h.committed(edge.KindOfferShown)); n != 3 {
			t.Errorf("%d exposures, want 3 (two to Anna, one to Bruno)", n)
		}
	})
}

// TestHoldoutSignageAfterCapWindow: once the cap window has passed, the
// withheld offer is recorded again at the next display.
func TestHoldoutSignageAfterCapWindow(t *testing.T) {
	seed := func(t *testing.T, h *harness) {
		if err := h.store.PutOffers([]edge.Offer{holdOffer(time.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	runSeeded(t, seed, func(t *testing.T, h *harness) {
		h.send(card("fresh-reader", annaCard))
		time.Sleep(31 * time.Minute)
		h.send(card("fresh-reader", annaCard))
		w := h.committed(edge.KindWithheld)
		if len(w) != 2 || w[0].Withheld.Rank != 1 || w[1].Withheld.Rank != 1 {
			t.Errorf("withheld %+v, want twice at rank 1 (once per cap window)", w)
		}
	})
}

// TestHoldoutCheckout: at a lane the held-out offer is never on the panel,
// never applicable nor applied by a shopping-list session; it is recorded
// as withheld once, with the panel place it would have had.
func TestHoldoutCheckout(t *testing.T) {
	seed := func(t *testing.T, h *harness) {
		if err := h.store.PutOffers([]edge.Offer{holdOffer(time.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	runSeeded(t, seed, func(t *testing.T, h *harness) {
		h.send(scan("lane-2-scanner", annaList, edge.ScanList)) // a shopping list applies offers by itself
		v, err := h.engine.CurrentBasket(ctx, "2")
		if err != nil {
			t.Fatal(err)
		}
		if ids := offerIDs(v); !slices.Equal(ids, []string{"dairy-20", "dairy-10"}) {
			t.Fatalf("panel %v, want [dairy-20 dairy-10]", ids)
		}
		v, err = h.engine.SetLines(ctx, "2", v.Basket.ID, lines(line("yog", "dairy", 2, 249)))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(offerIDs(v), "dairy-hold") {
			t.Errorf("dairy-hold on Anna's panel: %v", offerIDs(v))
		}
		if _, err := h.engine.ApplyOffer(ctx, "2", v.Basket.ID, "dairy-hold", true); !errors.Is(err, edge.ErrNoOffer) {
			t.Errorf("applying the held-out offer: %v, want ErrNoOffer", err)
		}
		w := h.committed(edge.KindWithheld)
		want := edge.Exposure{OfferID: "dairy-hold", MemberID: "M1", Channel: edge.ChannelCheckout, Screen: "2", Rank: 1, DiscountPct: 30}
		if len(w) != 1 || *w[0].Withheld != want {
			t.Errorf("withheld %+v, want one %+v", w, want)
		}
		r, err := h.engine.CloseBasket(ctx, "2", v.Basket.ID, "c1", -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, red := range r.Redemptions {
			if red.OfferID == "dairy-hold" {
				t.Errorf("held-out offer redeemed: %+v", red)
			}
		}
		// Bruno is not held out: it is on his panel.
		h.send(card("lane-2-reader", brunoCard))
		v, err = h.engine.CurrentBasket(ctx, "2")
		if err != nil {
			t.Fatal(err)
		}
		if ids := offerIDs(v); len(ids) == 0 || ids[0] != "dairy-hold" {
			t.Errorf("Bruno's panel %v, want dairy-hold first", ids)
		}
		if n := len(h.committed(edge.KindWithheld)); n != 1 {
			t.Errorf("%d withheld events, want 1", n)
		}
	})
}
