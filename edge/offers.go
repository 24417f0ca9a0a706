package edge

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Offer selection.
//
// An offer is eligible for a member on a channel when it may appear on that
// channel, is inside its validity window, targets the member's segment and
// lifecycle stage (an empty target list means everyone), has not reached its
// per-member redemption cap, and — when it is bound to categories — the
// member buys in at least one of them and their next purchase there is due
// (or their rhythm there is unknown). An offer with a segment matrix
// (Offer.Depth) is eligible only for members whose cell has a depth there
// (DepthFor). Eligible offers are ranked by
//
//	score = relevance × timing × (1 + depth/100)
//
// where relevance is the member's affinity for the offer's best category
// (0.5 for offers bound to no category), timing follows the member's
// purchase cycle in that category (an offer is worth most when the next
// purchase is due, little right after one), and depth is the member's
// discount: the depth of their cell for an offer with a matrix, else
// DiscountPct. The same depth is what the screens show and the basket
// gets. Members held out of an offer (HoldoutPct, InHoldout) are never
// shown it: Choose says which offers were withheld from them instead.

// Timing factors by position in the member's purchase cycle (days since the
// last purchase divided by the usual days between purchases).
const (
	timingUnknown = 0.6 // no cycle statistics for the category
	timingJust    = 0.2 // < 0.5 of the cycle: just bought
	timingEarly   = 0.5 // < 0.8: not due yet
	timingDue     = 1.0 // 0.8 .. 1.5: due now
	timingLate    = 0.7 // > 1.5: overdue
)

// CycleTiming returns the timing factor of a purchase cycle at now.
func CycleTiming(c Cycle, now time.Time) float64 {
	if c.MeanDays <= 0 || c.Last.IsZero() {
		return timingUnknown
	}
	r := now.Sub(c.Last).Hours() / 24 / c.MeanDays
	switch {
	case r < 0.5:
		return timingJust
	case r < 0.8:
		return timingEarly
	case r <= 1.5:
		return timingDue
	default:
		return timingLate
	}
}

// Eligible reports whether offer o may be shown to member m on channel ch
// at now, ignoring frequency caps and holdouts (HeldOut).
func Eligible(o *Offer, m *Member, ch Channel, now time.Time) bool {
	_, ok := rate(o, m, ch, now)
	return ok
}

// rating is an eligible offer as ranked for one member.
type rating struct {
	score float64
	pct   float64 // the member's depth
	cell  string  // the member's cell, for an offer with a matrix
}

// rate is o for m on ch at now: its rating, and whether it is eligible at
// all (Eligible).
func rate(o *Offer, m *Member, ch Channel, now time.Time) (rating, bool) {
	if !o.On(ch) || !o.ValidAt(now) {
		return rating{}, false
	}
	if len(o.Segments) > 0 && !slices.Contains(o.Segments, m.Segment) {
		return rating{}, false
	}
	if len(o.Stages) > 0 && !slices.Contains(o.Stages, LifecycleStage(m, now)) {
		return rating{}, false
	}
	if o.CapPerMember > 0 && m.Redeemed[o.ID] >= o.CapPerMember {
		return rating{}, false
	}
	rel, cat := 0.5, ""
	if len(o.Categories) > 0 {
		if cat, rel = bestCategory(o, m, now); rel <= 0 || !dueIn(o, m, now) {
			return rating{}, false
		}
	}
	pct, cell, ok := depthIn(o, m, cat)
	if !ok {
		return rating{}, false
	}
	return rating{score: rel * (1 + pct/100), pct: pct, cell: cell}, true
}

// dueFrom is the position in a purchase cycle (days since the last
// purchase over the usual days between purchases) from which the next
// purchase is due.
const dueFrom = 0.8

// dueIn reports whether the member's next purchase is due in one of the
// offer's categories they buy, or their rhythm there is unknown: a category
// offer becomes eligible when the member is about to buy again, not long
// before. So a coupon never lands right after a purchase, short-lived or
// not.
func dueIn(o *Offer, m *Member, now time.Time) bool {
	for _, c := range o.Categories {
		if m.Affinity[c] <= 0 {
			continue
		}
		cy := m.Cycles[c]
		if cy.MeanDays <= 0 || cy.Last.IsZero() || now.Sub(cy.Last).Hours()/24 >= dueFrom*cy.MeanDays {
			return true
		}
	}
	return false
}

// Score ranks an eligible offer for a member at now; higher is better. An
// offer the member's cell has no depth for scores 0.
func Score(o *Offer, m *Member, now time.Time) float64 {
	rel, cat := 0.5, ""
	if len(o.Categories) > 0 {
		cat, rel = bestCategory(o, m, now)
	}
	pct, _, ok := depthIn(o, m, cat)
	if !ok {
		return 0
	}
	return rel * (1 + pct/100)
}

// bestCategory is the offer's category the member is most relevant in and
// that relevance, the best affinity × timing over the offer's categories
// (the first of equals); "" and 0 when the member buys in none of them.
func bestCategory(o *Offer, m *Member, now time.Time) (string, float64) {
	cat, best := "", 0.0
	for _, c := range o.Categories {
		a := m.Affinity[c]
		if a <= 0 {
			continue
		}
		if r := a * CycleTiming(m.Cycles[c], now); r > best {
			cat, best = c, r
		}
	}
	return cat, best
}

// DepthFor is the discount in percent that offer o gives member m at now,
// and the member's segment-matrix cell it was read from ("switcher/heavy").
// An offer without a matrix (no Depth) gives everyone its DiscountPct, with
// no cell. With a matrix, the cell is the member's Matrix cell in the
// offer's category they are most relevant in (the one that gives the offer
// its relevance, see Score), and the depth is that cell's; ok is false —
// the member is not offered it — when they buy in none of the offer's
// categories, have no cell in that category, or their cell has no depth
// (cell is then still set when they have one).
func DepthFor(o *Offer, m *Member, now time.Time) (pct float64, cell string, ok bool) {
	if len(o.Depth) == 0 {
		return o.DiscountPct, "", true
	}
	cat, _ := bestCategory(o, m, now)
	return depthIn(o, m, cat)
}

// depthIn is DepthFor with the member's best category already known.
func depthIn(o *Offer, m *Member, cat string) (pct float64, cell string, ok bool) {
	if len(o.Depth) == 0 {
		return o.DiscountPct, "", true
	}
	c, has := m.Matrix[cat]
	if cat == "" || !has {
		return 0, "", false
	}
	cell = c.String()
	pct, has = o.Depth[cell]
	if !has || !validDepth(pct) {
		return 0, cell, false
	}
	return pct, cell, true
}

// validDepth reports whether pct is an acceptable depth: above 0, at most
// 100 (a cell that should get nothing is left out of the matrix).
func validDepth(pct float64) bool { return pct > 0 && pct <= 100 }

// Pick is an offer chosen for one display of a member, at that member's
// depth.
type Pick struct {
	Offer *Offer
	// Rank is the offer's place on the display, 1 the best; for a
	// withheld offer, the place it would have had.
	Rank int
	Pct  float64 // the member's discount in percent (DepthFor)
	Cell string  // the member's segment-matrix cell, for an offer with a matrix
}

// Choose picks up to n offers for m on ch at now, best first, and says
// which offers were withheld from m because they are in its holdout.
// skip, when not nil, excludes offers (the engine's frequency caps).
// Eligible offers are ranked by Score, ties broken by offer id so the
// choice is deterministic; walking down the ranking, an offer m is held
// out of (HeldOut) is withheld, with the rank it would have had, and the
// next one takes its place, until n are shown. So a withheld offer is one
// that would have been shown had m not been held out of it, m's other
// holdouts staying in force.
func Choose(offers []Offer, m *Member, ch Channel, now time.Time, n int, skip func(*Offer) bool) (shown, withheld []Pick) {
	if n <= 0 {
		return nil, nil
	}
	type cand struct {
		p     Pick
		score float64
	}
	var buf [64]cand // most stores run fewer offers: no allocation
	cands := buf[:0]
	for i := range offers {
		o := &offers[i]
		r, ok := rate(o, m, ch, now)
		if !ok || (skip != nil && skip(o)) {
			continue
		}
		cands = append(cands, cand{Pick{Offer: o, Pct: r.pct, Cell: r.cell}, r.score})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(a.p.Offer.ID, b.p.Offer.ID)
	})
	shown = make([]Pick, 0, min(n, len(cands)))
	for _, c := range cands {
		if len(shown) == n {
			break
		}
		c.p.Rank = len(shown) + 1
		if HeldOut(c.p.Offer, m) {
			withheld = append(withheld, c.p)
		} else {
			shown = append(shown, c.p)
		}
	}
	return shown, withheld
}

// Select returns up to n offers for m on ch, best first: the offers Choose
// shows. skip, when not nil, excludes offers (the engine's frequency caps).
func Select(offers []Offer, m *Member, ch Channel, now time.Time, n int, skip func(*Offer) bool) []*Offer {
	shown, _ := Choose(offers, m, ch, now, n, skip)
	out := make([]*Offer, len(shown))
	for i, p := range shown {
		out[i] = p.Offer
	}
	return out
}

// ErrBadOffer is returned for an offer whose segment matrix or holdout
// cannot be used.
var ErrBadOffer = errors.New("bad offer")

// ValidateTargeting checks an offer's segment matrix and holdout: every
// Depth key is one of the nine cells (ParseCell) with a depth above 0 and
// at most 100, an offer with a matrix is bound to at least one category
// (the member's cell is read in it), and HoldoutPct is within
// 0..MaxHoldoutPct. The error names the offer and the key.
func (o *Offer) ValidateTargeting() error {
	if !validHoldout(o.HoldoutPct) {
		return fmt.Errorf("%w %s: holdout_pct %g is outside 0..%d", ErrBadOffer, o.ID, o.HoldoutPct, MaxHoldoutPct)
	}
	if len(o.Depth) == 0 {
		return nil
	}
	if len(o.Categories) == 0 {
		return fmt.Errorf("%w %s: depth without a category: the member's cell is the one in the offer's category", ErrBadOffer, o.ID)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Depth)) {
		if _, err := ParseCell(k); err != nil {
			return fmt.Errorf("%w %s: depth: %w", ErrBadOffer, o.ID, err)
		}
		if v := o.Depth[k]; !validDepth(v) {
			return fmt.Errorf("%w %s: depth %q: %g is not above 0 and at most 100", ErrBadOffer, o.ID, k, v)
		}
	}
	return nil
}

// ErrBadCell is returned by ParseCell.
var ErrBadCell = errors.New("not a segment-matrix cell (loyalty/usage: national, store or switcher / light, medium or heavy)")

// ParseCell parses a segment-matrix cell key as Cell.String writes it,
// "switcher/heavy": one of national, store or switcher, a slash, one of
// light, medium or heavy; exactly, in lower case.
func ParseCell(key string) (Cell, error) {
	l, u, _ := strings.Cut(key, "/")
	c := Cell{Loyalty: Loyalty(l), Usage: Usage(u)}
	switch {
	case c.Loyalty != LoyalNational && c.Loyalty != LoyalStore && c.Loyalty != LoyalSwitcher,
		c.Usage != UsageLight && c.Usage != UsageMedium && c.Usage != UsageHeavy:
		if len(key) > 64 {
			key = key[:64] + "…"
		}
		return Cell{}, fmt.Errorf("%q: %w", key, ErrBadCell)
	}
	return c, nil
}
