package edge

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Holdouts.
//
// An offer with HoldoutPct above 0 is deliberately kept from that share of
// its members, so HQ can measure its lift: what the members who were shown
// it bought against what comparable members who were held out bought. Who
// is held out is decided by InHoldout from the offer and member ids alone,
// the same on every gateway and at HQ, without being told.
//
// A held-out member is never shown the offer, on any channel, and it is
// never applicable or applied on their basket. When the offer would have
// been shown to them — it ranks among the offers a display shows, after
// frequency caps and the daily cap, the member's other holdouts staying in
// force — the engine records one offer.withheld event (KindWithheld, an
// Exposure with the rank the offer would have had) and shows the next best
// offer instead. The withheld event takes the frequency-cap slot an
// exposure would have taken (one per member, offer and screen per cap
// window), but not a place in the member's daily cap: nothing was shown.

// MaxHoldoutPct bounds Offer.HoldoutPct: at most half of an offer's members
// are held out.
const MaxHoldoutPct = 50

// two64 is 2^64 as a float64 (exact).
const two64 = 1 << 64

// InHoldout reports whether member memberID is in the holdout of offer
// offerID when pct percent of its members are held out. HQ computes the
// same, so the definition is exact:
//
//	h = the first 8 bytes of SHA-256(offerID ‖ 0x00 ‖ memberID), the ids
//	    as their UTF-8 bytes, read as a big-endian unsigned 64-bit integer
//	t = ⌊ (pct / 100) × 2^64 ⌋, with pct / 100 rounded to the nearest
//	    IEEE 754 double (the multiplication by 2^64 is then exact)
//	held out  ⇔  h < t
//
// so h / 2^64 is uniform on [0, 1) and a member is held out when it falls
// below pct / 100. pct ≤ 0 (or NaN) holds out no one; pct ≥ 100 everyone.
// Each offer draws its own holdout: being held out of one offer says
// nothing about another. Example: offer "winback-bakery" and member
// "M04217" give h = 0x191d0100a577927b (h / 2^64 ≈ 0.0981), held out at
// 10 % and not at 9 %.
func InHoldout(offerID, memberID string, pct float64) bool {
	switch {
	case !(pct > 0):
		return false
	case pct >= 100:
		return true
	}
	return holdoutDraw(offerID, memberID) < uint64(pct/100*two64)
}

// holdoutDraw is h of InHoldout.
func holdoutDraw(offerID, memberID string) uint64 {
	d := sha256.New()
	d.Write([]byte(offerID))
	d.Write([]byte{0})
	d.Write([]byte(memberID))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(d.Sum(sum[:0]))
}

// HeldOut reports whether m is in o's holdout (see InHoldout).
func HeldOut(o *Offer, m *Member) bool {
	return o.HoldoutPct > 0 && InHoldout(o.ID, m.ID, o.HoldoutPct)
}

// validHoldout reports whether pct is an acceptable Offer.HoldoutPct.
func validHoldout(pct float64) bool {
	return pct >= 0 && pct <= MaxHoldoutPct
}

// withhold records that o would have been shown to m on screen (rank p.Rank)
// had m not been held out of it. It takes the frequency-cap slot of key, as
// an exposure would, and leaves the daily cap alone.
func (e *Engine) withhold(ev *Event, m *Member, p Pick, ch Channel, screen, key string, now time.Time) {
	e.caps[capKey{m.ID, p.Offer.ID, key}] = now
	e.pending = append(e.pending, Event{
		Kind: KindWithheld, Source: ev.Source, Time: ev.Time,
		Withheld: &Exposure{OfferID: p.Offer.ID, MemberID: m.ID, Channel: ch, Screen: screen, Rank: p.Rank,
			DiscountPct: p.Pct, Cell: p.Cell},
	})
}
