package edge_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

var ctx = context.Background()

// runEngine runs fn against a started engine on a seeded store, at 10:00
// on a trading day, in a synctest bubble.
func runEngine(t *testing.T, fn func(t *testing.T, h *harness)) { runSeeded(t, nil, fn) }

// runSeeded is runEngine with seed run on the harness before the engine
// starts (more members, changed offers, options).
func runSeeded(t *testing.T, seed func(t *testing.T, h *harness), fn func(t *testing.T, h *harness)) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		if seed != nil {
			seed(t, h)
		}
		h.start()
		defer h.stop()
		fn(t, h)
	})
}

func lines(ls ...edge.Line) []edge.Line { return ls }

func line(sku, cat string, qty int, price edge.Money) edge.Line {
	return edge.Line{SKU: sku, Category: cat, Qty: qty, UnitPrice: price}
}

func offerIDs(v edge.CheckoutView) []string {
	var ids []string
	for _, o := range v.Offers {
		ids = append(ids, o.ID)
	}
	return ids
}

func find(t *testing.T, v edge.CheckoutView, id string) edge.BasketOffer {
	t.Helper()
	for _, o := range v.Offers {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("offer %s not on the panel %v", id, offerIDs(v))
	return edge.BasketOffer{}
}

// TestBasketRedeemAndClose: a card at the lane opens a basket with the
// member's offers; lines price them; applying one discounts the basket;
// redeeming and closing are idempotent by key and land in the outbox once;
// the member store learns the purchase at once.
func TestBasketRedeemAndClose(t *testing.T) {
	runEngine(t, func(t *testing.T, h *harness) {

		h.send(card("lane-2-reader", annaCard))
		v, err := h.engine.CurrentBasket(ctx, "2")
		if err != nil {
			t.Fatal(err)
		}
		if v.Member == nil || v.Member.ID != "M1" || v.Basket == nil || len(v.Offers) != 2 {
			t.Fatalf("panel after the tap: %+v", v)
		}
		basket := v.Basket.ID
		// 2 × 2.49 of dairy and 3.00 of bakery.
		v, err = h.engine.SetLines(ctx, "2", basket, lines(line("yog-4", "dairy", 2, 249), line("bread", "bakery", 1, 300)))
		if err != nil {
			t.Fatal(err)
		}
		if v.Basket.Items != 3 || v.Basket.Subtotal != 798 || v.Basket.Total != 798 {
			t.Errorf("basket %+v, want 3 items, 7.98", v.Basket)
		}
		d20 := find(t, v, "dairy-20")
		if d20.AppliesTo != 498 || d20.Discount != 100 || d20.Applied {
			t.Errorf("dairy-20 %+v: want it to apply to 4.98 for 1.00, not applied yet", d20)
		}
		if _, err := h.engine.ApplyOffer(ctx, "2", basket, "wine-50", true); !errors.Is(err, edge.ErrNoOffer) {
			t.Errorf("applying an offer not on the panel: %v", err)
		}
		v, err = h.engine.ApplyOffer(ctx, "2", basket, "dairy-20", true)
		if err != nil {
			t.Fatal(err)
		}
		if v.Basket.Discount != 100 || v.Basket.Total != 698 {
			t.Errorf("after applying: %+v", v.Basket)
		}
		if _, err := h.engine.Redeem(ctx, "2", "other-basket", "k1"); !errors.Is(err, edge.ErrOtherBasket) {
			t.Errorf("redeem on another basket id: %v", err)
		}
		r1, err := h.engine.Redeem(ctx, "2", basket, "k1")
		if err != nil {
			t.Fatal(err)
		}
		r2, err := h.engine.Redeem(ctx, "2", basket, "k1") // the till retries
		if err != nil {
			t.Fatal(err)
		}
		if len(r1.Redemptions) != 1 || r1.Discount != 100 || len(r2.Redemptions) != 1 || r2.Redemptions[0] != r1.Redemptions[0] {
			t.Errorf("redeem %+v, retry %+v", r1, r2)
		}
		if r3, err := h.engine.Redeem(ctx, "2", basket, "k2"); err != nil || len(r3.Redemptions) != 0 {
			t.Errorf("a second redeem with a new key redeemed %+v (%v)", r3, err)
		}
		if _, err := h.engine.CloseBasket(ctx, "2", basket, "k1", -1); !errors.Is(err, edge.ErrKeyReused) {
			t.Errorf("close with a redeem's key: %v", err)
		}
		c1, err := h.engine.CloseBasket(ctx, "2", basket, "c1", 698)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := h.engine.CloseBasket(ctx, "2", basket, "c1", 698)
		if err != nil {
			t.Fatal(err)
		}
		if c1.Basket == nil || c1.Basket.Total != 698 || c1.Basket.Subtotal != 798 || c1.Basket.Discount != 100 ||
			c1.Basket.MemberID != "M1" || c1.Basket.Items != 3 || c1.Basket.Currency != "EUR" || c2.Basket.BasketID != basket {
			t.Errorf("close %+v, retry %+v", c1.Basket, c2.Basket)
		}
		if _, err := h.engine.CurrentBasket(ctx, "2"); !errors.Is(err, edge.ErrNoBasket) {
			t.Errorf("the lane after close: %v", err)
		}
		red, bsk := h.committed(edge.KindRedeemed), h.committed(edge.KindBasket)
		if len(red) != 1 || red[0].Redemption.OfferID != "dairy-20" || red[0].Redemption.Discount != 100 || red[0].Redemption.BasketID != basket {
			t.Errorf("redemptions in the outbox: %+v", red)
		}
		if len(bsk) != 1 || bsk[0].Basket.BasketID != basket {
			t.Errorf("baskets in the outbox: %+v", bsk)
		}
		m, err := h.store.Member("M1")
		if err != nil {
			t.Fatal(err)
		}
		if m.Redeemed["dairy-20"] != 1 || !m.Cycles["dairy"].Last.Equal(time.Now()) || !m.Cycles["bakery"].Last.Equal(time.Now()) {
			t.Errorf("member history after the basket: redeemed %v, cycles %v", m.Redeemed, m.Cycles)
		}
	})
}

// TestShoppingListAppliesItself: a basket opened by the member's shopping
// list applies every offer that applies to it, and closing redeems them.
func TestShoppingListAppliesItself(t *testing.T) {
	runEngine(t, func(t *testing.T, h *harness) {
		h.send(scan("lane-2-scanner", annaList, edge.ScanList))
		v, err := h.engine.SetLines(ctx, "2", "", lines(line("milk", "dairy", 1, 100), line("soap", "", 1, 500)))
		if err != nil {
			t.Fatal(err)
		}
		if !v.Basket.List {
			t.Fatalf("basket not marked as a shopping list: %+v", v.Basket)
		}
		// One offer per line: the better dairy offer takes the milk.
		if o := find(t, v, "dairy-20"); !o.Applied || !o.Auto || o.Discount != 20 {
			t.Errorf("dairy-20 not applied by itself: %+v", o)
		}
		if o := find(t, v, "dairy-10"); o.Applied || o.AppliesTo != 0 {
			t.Errorf("dairy-10 stacked on the same line: %+v", o)
		}
		if v.Basket.Discount != 20 {
			t.Errorf("discount %s, want 0.20", v.Basket.Discount)
		}
		// An applied offer takes every line of its categories: more dairy
		// goes to dairy-20, never to both.
		v, err = h.engine.SetLines(ctx, "2", v.Basket.ID, lines(line("milk", "dairy", 1, 100), line("soap", "", 1, 500), line("butter", "dairy", 1, 300)))
		if err != nil {
			t.Fatal(err)
		}
		if o := find(t, v, "dairy-20"); o.AppliesTo != 400 || o.Discount != 80 || !o.Applied {
			t.Errorf("dairy-20 on milk and butter: %+v", o)
		}
		if o := find(t, v, "dairy-10"); o.Applied || o.AppliesTo != 0 {
			t.Errorf("dairy-10 stacked: %+v", o)
		}
		// The cashier removes it: it stays removed, whatever the lines do.
		if v, err = h.engine.ApplyOffer(ctx, "2", v.Basket.ID, "dairy-20", false); err != nil || find(t, v, "dairy-20").Applied {
			t.Fatalf("removing a shopping-list offer: %+v %v", find(t, v, "dairy-20"), err)
		}
		v, err = h.engine.SetLines(ctx, "2", v.Basket.ID, lines(line("milk", "dairy", 2, 100), line("soap", "", 1, 500), line("butter", "dairy", 1, 300)))
		if err != nil || find(t, v, "dairy-20").Applied {
			t.Fatalf("removed offer applied again: %+v %v", find(t, v, "dairy-20"), err)
		}
		// The dairy goes to the next offer instead.
		if o := find(t, v, "dairy-10"); !o.Applied || !o.Auto || o.AppliesTo != 500 || o.Discount != 50 {
			t.Errorf("dairy-10 after dairy-20 was removed: %+v", o)
		}
		if _, err := h.engine.CloseBasket(ctx, "2", v.Basket.ID, "c", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine.CloseBasket(ctx, "2", v.Basket.ID, "c", 2); !errors.Is(err, edge.ErrKeyReused) {
			t.Errorf("the same key with another total: %v", err)
		}
		c, err := h.engine.CloseBasket(ctx, "2", v.Basket.ID, "c", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Redemptions) != 1 || !c.Redemptions[0].Auto || c.Redemptions[0].OfferID != "dairy-10" || c.Discount != 50 || c.Basket.Total != 1 || c.Basket.Subtotal != 1000 {
			t.Errorf("close %+v", c)
		}
	})
}

// TestAnonymousBasketGetsTheMember: lines posted before the card is
// presented stay in the basket the member joins.
func TestAnonymousBasketGetsTheMember(t *testing.T) {
	runEngine(t, func(t *testing.T, h *harness) {
		v, err := h.engine.SetLines(ctx, "2", "", lines(line("cheese", "dairy", 1, 450)))
		if err != nil {
			t.Fatal(err)
		}
		if v.Known || v.Member != nil || len(v.Offers) != 0 {
			t.Fatalf("anonymous basket %+v", v)
		}
		h.send(card("lane-2-reader", annaCard))
		w, err := h.engine.CurrentBasket(ctx, "2")
		if err != nil {
			t.Fatal(err)
		}
		if w.Basket.ID != v.Basket.ID || w.Member == nil || w.Member.ID != "M1" || len(w.Basket.Lines) != 1 {
			t.Errorf("after the card: %+v", w)
		}
		if o := find(t, w, "dairy-20"); o.AppliesTo != 450 {
			t.Errorf("dairy-20 applies to %s, want 4.50", o.AppliesTo)
		}
		// An anonymous basket closes without a member.
		v, err = h.engine.SetLines(ctx, "1", "", lines(line("cheese", "dairy", 1, 450)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := h.engine.CloseBasket(ctx, "1", "", "anon", -1)
		if err != nil || c.Basket.MemberID != "" || c.Basket.Total != 450 || len(c.Redemptions) != 0 {
			t.Errorf("anonymous close %+v %v", c, err)
		}
	})
}

func TestOpenBasketByNumber(t *testing.T) {
	runEngine(t, func(t *testing.T, h *harness) {
		for _, tc := range []struct {
			id     edge.Identify
			member string
			err    error
		}{
			{edge.Identify{Number: annaLoyalty}, "M1", nil}, // the number printed on the card
			{edge.Identify{Number: "M2"}, "M2", nil},        // the member id
			{edge.Identify{Barcode: annaList}, "M1", nil},
			{edge.Identify{Number: "0000000000000"}, "", edge.ErrNoMember},
			{edge.Identify{}, "", nil}, // anonymous
		} {
			v, err := h.engine.OpenBasket(ctx, "1", tc.id)
			if !errors.Is(err, tc.err) {
				t.Errorf("%+v: error %v, want %v", tc.id, err, tc.err)
				continue
			}
			if err != nil {
				continue
			}
			got := ""
			if v.Member != nil {
				got = v.Member.ID
			}
			if got != tc.member || v.Basket == nil {
				t.Errorf("%+v: member %q basket %v, want %q", tc.id, got, v.Basket, tc.member)
			}
		}
		if _, err := h.engine.OpenBasket(ctx, "9", edge.Identify{}); !errors.Is(err, edge.ErrUnknownLane) {
			t.Errorf("lane 9: %v", err)
		}
		if rec := h.committed(edge.KindRecognition); len(rec) != 3 || rec[0].Recognition.Via != edge.ViaTyped || rec[0].Recognition.Lane != "1" {
			t.Errorf("recognitions %+v", rec)
		}
	})
}

// TestBasketSurvivesRestart: the open basket and the till's keys are in
// the engine's checkpoint.
func TestBasketSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		h.send(card("lane-2-reader", annaCard))
		v, err := h.engine.SetLines(ctx, "2", "", lines(line("yog", "dairy", 4, 99)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine.ApplyOffer(ctx, "2", v.Basket.ID, "dairy-20", true); err != nil {
			t.Fatal(err)
		}
		r1, err := h.engine.Redeem(ctx, "2", v.Basket.ID, "r")
		if err != nil {
			t.Fatal(err)
		}
		h.stop()
		h.start()
		defer h.stop()
		w, err := h.engine.CurrentBasket(ctx, "2")
		if err != nil {
			t.Fatal(err)
		}
		if w.Basket.ID != v.Basket.ID || len(w.Basket.Lines) != 1 || w.Member == nil || w.Member.ID != "M1" || !find(t, w, "dairy-20").Redeemed {
			t.Errorf("after restart: %+v", w)
		}
		r2, err := h.engine.Redeem(ctx, "2", v.Basket.ID, "r")
		if err != nil || len(r2.Redemptions) != 1 || r2.Redemptions[0] != r1.Redemptions[0] {
			t.Errorf("the retry after restart: %+v %v", r2, err)
		}
		if n := len(h.committed(edge.KindRedeemed)); n != 1 {
			t.Errorf("%d redemptions in the outbox, want 1", n)
		}
	})
}

// TestRedemptionCapHoldsAcrossBaskets: an offer capped at one redemption
// per member is not offered again once redeemed.
func TestRedemptionCapHoldsAcrossBaskets(t *testing.T) {
	runSeeded(t, func(t *testing.T, h *harness) {
		offers, _ := h.store.Offers()
		for i := range offers {
			if offers[i].ID == "dairy-20" {
				offers[i].CapPerMember = 1
			}
		}
		if err := h.store.PutOffers(offers); err != nil {
			t.Fatal(err)
		}
	}, func(t *testing.T, h *harness) {
		v, err := h.engine.OpenBasket(ctx, "1", edge.Identify{Number: "M1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine.SetLines(ctx, "1", v.Basket.ID, lines(line("yog", "dairy", 1, 200))); err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine.ApplyOffer(ctx, "1", v.Basket.ID, "dairy-20", true); err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine.CloseBasket(ctx, "1", v.Basket.ID, "c", -1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // past the frequency cap
		w, err := h.engine.OpenBasket(ctx, "1", edge.Identify{Number: "M1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range offerIDs(w) {
			if id == "dairy-20" {
				t.Errorf("dairy-20 offered again after its one redemption: %v", offerIDs(w))
			}
		}
	})
}

// TestChurnWarning: the cashier sees how late a member is against their
// own rhythm.
func TestChurnWarning(t *testing.T) {
	runSeeded(t, func(t *testing.T, h *harness) {
		err := h.store.PutMembers([]edge.MemberRecord{{Member: edge.Member{ID: "M3", FirstName: "Chloé", Stage: edge.StageLapsing,
			Cycles: map[string]edge.Cycle{
				"dairy":  {MeanDays: 9, Last: time.Now().Add(-41 * 24 * time.Hour), Count: 20},
				"bakery": {MeanDays: 14, Last: time.Now().Add(-50 * 24 * time.Hour), Count: 5},
			}}}, {Member: edge.Member{ID: "M4", Stage: edge.StageActive,
			Cycles: map[string]edge.Cycle{"dairy": {MeanDays: 7, Last: time.Now().Add(-3 * 24 * time.Hour), Count: 9}}}}})
		if err != nil {
			t.Fatal(err)
		}
	}, func(t *testing.T, h *harness) {
		v, err := h.engine.OpenBasket(ctx, "1", edge.Identify{Number: "M3"})
		if err != nil {
			t.Fatal(err)
		}
		if want := "lapsing: last visit 41 days ago, usually every 9 days"; v.Member.Warning != want {
			t.Errorf("warning %q, want %q", v.Member.Warning, want)
		}
		v, err = h.engine.OpenBasket(ctx, "1", edge.Identify{Number: "M4"})
		if err != nil {
			t.Fatal(err)
		}
		if v.Member.Warning != "" || v.Member.LastVisitDays == nil || *v.Member.LastVisitDays != 3 {
			t.Errorf("on-time member: %+v", v.Member)
		}
	})
}

func TestValidateLines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []edge.Line
		ok    bool
	}{
		{"ok", lines(line("a", "dairy", 1, 100)), true},
		{"empty", lines(), true},
		{"no sku", lines(line("", "dairy", 1, 100)), false},
		{"zero qty", lines(line("a", "dairy", 0, 100)), false},
		{"huge qty", lines(line("a", "dairy", 10_001, 100)), false},
		{"negative price", lines(line("a", "dairy", 1, -1)), false},
		{"too many", make([]edge.Line, edge.MaxLines+1), false},
	} {
		if err := edge.ValidateLines(tc.lines); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestForgetMakesTheOpenBasketAnonymous: an erased member's open basket
// stays open, without the member: it closes as an anonymous basket and
// nothing it produces names them.
func TestForgetMakesTheOpenBasketAnonymous(t *testing.T) {
	runEngine(t, func(t *testing.T, h *harness) {
		h.send(card("lane-2-reader", annaCard))
		v, err := h.engine.CurrentBasket(ctx, "2")
		if err != nil || !v.Known {
			t.Fatalf("basket %+v (%v), want Anna's", v, err)
		}
		if err := h.engine.Forget(ctx, "M1"); err != nil {
			t.Fatal(err)
		}
		v, err = h.engine.SetLines(ctx, "2", v.Basket.ID, lines(line("yog", "dairy", 2, 249)))
		if err != nil {
			t.Fatal(err)
		}
		if v.Known || len(v.Offers) != 0 {
			t.Errorf("after the erasure the panel is %+v, want anonymous with no offers", v)
		}
		if _, err := h.engine.CloseBasket(ctx, "2", v.Basket.ID, "c1", 498); err != nil {
			t.Fatal(err)
		}
		bs := h.committed(edge.KindBasket)
		if len(bs) != 1 || bs[0].Basket.MemberID != "" {
			t.Errorf("baskets %+v, want one without a member", bs)
		}
		for _, ev := range h.committed(edge.KindOfferShown) {
			if ev.Time.After(v.At) {
				t.Errorf("exposure after the erasure: %+v", ev.Exposure)
			}
		}
	})
}
