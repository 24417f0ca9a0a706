package edge

import (
	"slices"
	"time"
)

// Offer selection, first version.
//
// An offer is eligible for a member on a channel when it may appear on that
// channel, is inside its validity window, targets the member's segment and
// lifecycle stage (an empty target list means everyone), has not reached its
// per-member redemption cap, and — when it is bound to categories — the
// member buys in at least one of them and their next purchase there is due
// (or their rhythm there is unknown). Eligible offers are ranked by
//
//	score = relevance × timing × (1 + discount/100)
//
// where relevance is the member's affinity for the offer's best category
// (0.5 for offers bound to no category) and timing follows the member's
// purchase cycle in that category: an offer is worth most when the next
// purchase is due, little right after one.

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
// at now, ignoring frequency caps.
func Eligible(o *Offer, m *Member, ch Channel, now time.Time) bool {
	if !o.On(ch) || !o.ValidAt(now) {
		return false
	}
	if len(o.Segments) > 0 && !slices.Contains(o.Segments, m.Segment) {
		return false
	}
	if len(o.Stages) > 0 && !slices.Contains(o.Stages, LifecycleStage(m, now)) {
		return false
	}
	if o.CapPerMember > 0 && m.Redeemed[o.ID] >= o.CapPerMember {
		return false
	}
	return len(o.Categories) == 0 || (relevance(o, m, now) > 0 && dueIn(o, m, now))
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

// Score ranks an eligible offer for a member at now; higher is better.
func Score(o *Offer, m *Member, now time.Time) float64 {
	rel := 0.5
	if len(o.Categories) > 0 {
		rel = relevance(o, m, now)
	}
	return rel * (1 + o.DiscountPct/100)
}

// relevance is the best affinity × timing over the offer's categories.
func relevance(o *Offer, m *Member, now time.Time) float64 {
	best := 0.0
	for _, c := range o.Categories {
		a := m.Affinity[c]
		if a <= 0 {
			continue
		}
		best = max(best, a*CycleTiming(m.Cycles[c], now))
	}
	return best
}

// Select returns up to n offers for m on ch, best first. skip, when not
// nil, excludes offers (the engine's frequency caps). Ties are broken by
// offer id so the choice is deterministic.
func Select(offers []Offer, m *Member, ch Channel, now time.Time, n int, skip func(*Offer) bool) []*Offer {
	type cand struct {
		o     *Offer
		score float64
	}
	top := make([]cand, 0, n+1)
	for i := range offers {
		o := &offers[i]
		if !Eligible(o, m, ch, now) || (skip != nil && skip(o)) {
			continue
		}
		c := cand{o, Score(o, m, now)}
		pos := len(top)
		for pos > 0 && (top[pos-1].score < c.score || (top[pos-1].score == c.score && top[pos-1].o.ID > o.ID)) {
			pos--
		}
		if pos >= n {
			continue
		}
		top = slices.Insert(top, pos, c)
		if len(top) > n {
			top = top[:n]
		}
	}
	out := make([]*Offer, len(top))
	for i, c := range top {
		out[i] = c.o
	}
	return out
}
