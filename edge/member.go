package edge

import (
	"slices"
	"time"
)

// Stage is a member's lifecycle stage.
type Stage string

// Lifecycle stages.
const (
	StageNew     Stage = "new"
	StageActive  Stage = "active"
	StageLapsing Stage = "lapsing"
	StageChurned Stage = "churned"
)

// Stages lists the valid stages.
var Stages = []Stage{StageNew, StageActive, StageLapsing, StageChurned}

// Member is a loyalty member as cached in the gateway. FirstName is personal
// data: it may appear on a public screen only when GreetByName is true.
type Member struct {
	ID          string `json:"id"`
	FirstName   string `json:"first_name,omitempty"`
	Tier        string `json:"tier,omitempty"`    // e.g. bronze, silver, gold
	Segment     string `json:"segment,omitempty"` // HQ's segment name
	Stage       Stage  `json:"stage,omitempty"`
	GreetByName bool   `json:"greet_by_name"` // consent to be greeted by first name on screens
	// Affinity is the member's share of spend per category, 0..1.
	Affinity map[string]float64 `json:"affinity,omitempty"`
	// Cycles holds purchase-cycle statistics per category.
	Cycles map[string]Cycle `json:"cycles,omitempty"`
	// Redeemed counts redemptions per offer id, for per-member caps.
	Redeemed map[string]int `json:"redeemed,omitempty"`
	// Matrix is the member's segment-matrix cell per category (brand
	// loyalty by usage), as HQ computed it from their purchase history.
	// It selects the depth of offers with a segment matrix (Offer.Depth).
	Matrix map[string]Cell `json:"matrix,omitempty"`
	// Staff marks a store employee's card: at a door it marks the next
	// crossing as staff; it never opens a visit or gets an offer.
	Staff bool `json:"staff,omitempty"`
}

// Cell is a member's position in one category's segment matrix.
type Cell struct {
	Loyalty Loyalty `json:"loyalty"` // national, store or switcher
	Usage   Usage   `json:"usage"`   // light, medium or heavy
}

// String is the cell's key in Offer.Depth: "switcher/heavy".
func (c Cell) String() string { return string(c.Loyalty) + "/" + string(c.Usage) }

// Loyalty is a member's brand loyalty in a category.
type Loyalty string

// Brand loyalties.
const (
	LoyalNational Loyalty = "national" // buys national brands
	LoyalStore    Loyalty = "store"    // buys the store's own brand
	LoyalSwitcher Loyalty = "switcher" // switches between them
)

// Usage is how much a member buys in a category, against the category's
// other buyers.
type Usage string

// Usage levels.
const (
	UsageLight  Usage = "light"
	UsageMedium Usage = "medium"
	UsageHeavy  Usage = "heavy"
)

// Cycle is a member's purchase rhythm in one category.
type Cycle struct {
	MeanDays float64   `json:"mean_days"` // usual days between purchases
	Last     time.Time `json:"last"`      // last purchase
	Count    int       `json:"count,omitempty"`
}

// Rhythm is the member's shopping rhythm from their purchase cycles: the
// last purchase in any category and the shortest usual interval between
// purchases (their most frequent errand); zero values when unknown.
func (m *Member) Rhythm() (last time.Time, usualDays float64) {
	for _, c := range m.Cycles {
		if c.Last.After(last) {
			last = c.Last
		}
		if c.MeanDays > 0 && (usualDays == 0 || c.MeanDays < usualDays) {
			usualDays = c.MeanDays
		}
	}
	return last, usualDays
}

// Lifecycle thresholds, against the member's own usual interval.
const (
	lapsingAfter   = 2.0 // active until twice the usual interval has passed
	churnedAfter   = 8.0 // lapsing until eight times it…
	churnedMinDays = 60  // …and at least this many days
)

// LifecycleStage is m's stage at now, from recency against their own
// rhythm: new with fewer than two purchases on record (when the cycles
// count them), active while the last purchase is within twice their usual
// interval, lapsing until eight times it (at least 60 days), churned
// beyond. Without a known rhythm, HQ's stage (m.Stage) stands.
func LifecycleStage(m *Member, now time.Time) Stage {
	last, usual := m.Rhythm()
	if last.IsZero() || usual <= 0 || last.After(now) {
		return m.Stage
	}
	count := 0
	for _, c := range m.Cycles {
		count += c.Count
	}
	if count == 1 {
		return StageNew
	}
	days := now.Sub(last).Hours() / 24
	switch {
	case days <= lapsingAfter*usual:
		return StageActive
	case days <= max(churnedAfter*usual, churnedMinDays):
		return StageLapsing
	}
	return StageChurned
}

// Offer is a promotion HQ pushes down.
type Offer struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Body       string    `json:"body,omitempty"`
	Channels   []Channel `json:"channels"`
	Segments   []string  `json:"segments,omitempty"`   // empty: every segment
	Stages     []Stage   `json:"stages,omitempty"`     // empty: every stage
	Categories []string  `json:"categories,omitempty"` // empty: not category-bound
	ValidFrom  time.Time `json:"valid_from"`
	ValidTo    time.Time `json:"valid_to"`
	// DiscountPct is the discount in percent, 0..100.
	DiscountPct float64 `json:"discount_pct"`
	// CapPerMember limits redemptions per member; 0 means no limit.
	CapPerMember int `json:"cap_per_member,omitempty"`
	// Depth, when set, is the offer's segment matrix: the discount in
	// percent (above 0, at most 100) per cell key ("switcher/heavy": 30,
	// see Cell.String and ParseCell) of the member's Matrix cell in the
	// offer's category they are most relevant in. It replaces DiscountPct
	// for that member everywhere (ranking, screens, basket, events; see
	// DepthFor), and it targets the offer too: a member whose cell has no
	// depth, or who has no cell there, is not offered it. An offer with a
	// Depth must have Categories. Empty: DiscountPct for everyone.
	Depth map[string]float64 `json:"depth,omitempty"`
	// HoldoutPct is the share of members, in percent (0..MaxHoldoutPct,
	// 50), who are deliberately never shown the offer, so HQ can measure
	// its lift. Who is held out is a hash of offer and member id (see
	// InHoldout), so HQ can tell without being told; the gateway records
	// an offer.withheld event when the offer would have been shown to one
	// of them.
	HoldoutPct float64 `json:"holdout_pct,omitempty"`
}

// ValidAt reports whether t is inside the offer's validity window
// [ValidFrom, ValidTo).
func (o *Offer) ValidAt(t time.Time) bool {
	return !t.Before(o.ValidFrom) && t.Before(o.ValidTo)
}

// On reports whether the offer may appear on channel ch.
func (o *Offer) On(ch Channel) bool { return slices.Contains(o.Channels, ch) }

// MemberRecord is a member with the raw identifiers the store indexes.
// Imports and the downlink use it; the store keeps only keyed hashes of
// Cards, Loyalty and List, never the raw values.
type MemberRecord struct {
	Member  Member   `json:"member"`
	Cards   [][]byte `json:"-"` // card ids as readers produce them (3 to 10 bytes; see drivers/rfid)
	Loyalty string   `json:"-"` // loyalty-card barcode
	List    string   `json:"-"` // personal shopping-list barcode
}
