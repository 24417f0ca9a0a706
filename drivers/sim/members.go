package sim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// PCG stream selectors, so members, offers and each simulated day draw from
// independent sequences of the same seed.
const (
	streamMembers uint64 = 0x6d656d62657273 // "members"
	streamDays    uint64 = 0x64617973       // "days", xor-ed with the date
	streamMatrix  uint64 = 0x6d6174726978   // "matrix"
	streamStaff   uint64 = 0x7374616666     // "staff"; xor-ed with the date for shifts
)

// category is a product category: its usual days between purchases for a
// medium-intensity shopper, its share of the store's units (popularity) and
// the price range of its national-brand products.
type category struct {
	name       string
	meanDays   float64
	popularity float64
	lo, hi     edge.Money
}

// categories are the product categories of the demo store.
var categories = []category{
	{"dairy", 6, 0.16, 59, 449}, {"bakery", 3, 0.15, 79, 549}, {"produce", 5, 0.18, 49, 399},
	{"meat", 7, 0.10, 249, 1290}, {"wine", 14, 0.06, 349, 1990}, {"beauty", 30, 0.05, 149, 1490},
	{"household", 21, 0.08, 99, 890}, {"baby", 10, 0.04, 99, 1490}, {"pet", 12, 0.05, 79, 1190},
	{"frozen", 10, 0.13, 129, 699},
}

// weighted is one choice of a weighted draw.
type weighted[T any] struct {
	v T
	w float64
}

// pick draws one of choices with probability proportional to its weight.
func pick[T any](r *rand.Rand, choices []weighted[T]) T {
	total := 0.0
	for _, c := range choices {
		total += c.w
	}
	x := r.Float64() * total
	for _, c := range choices {
		if x < c.w {
			return c.v
		}
		x -= c.w
	}
	return choices[len(choices)-1].v
}

var (
	tiers = []weighted[string]{
		{"bronze", 0.60}, {"silver", 0.28}, {"gold", 0.10}, {"platinum", 0.02},
	}
	// brandLoyalties and intensities make a segment such as
	// "switcher-heavy".
	brandLoyalties = []weighted[string]{
		{"national-brand-loyal", 0.40}, {"store-brand-loyal", 0.30}, {"switcher", 0.30},
	}
	intensities = []weighted[string]{
		{"light", 0.45}, {"medium", 0.35}, {"heavy", 0.20},
	}
	stages = []weighted[edge.Stage]{
		{edge.StageNew, 0.08}, {edge.StageActive, 0.67}, {edge.StageLapsing, 0.15}, {edge.StageChurned, 0.10},
	}
	// cycleFactor scales a category's mean days by shopping intensity.
	cycleFactor = map[string]float64{"light": 1.4, "medium": 1.0, "heavy": 0.7}
	firstNames  = []string{
		"Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Emma", "Alice", "Lina",
		"Zoé", "Juliette", "Sarah", "Anna", "Mila", "Rose", "Ambre", "Margaux", "Clara", "Eva",
		"Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Adam", "Raphaël", "Léo", "Nathan",
		"Paul", "Tom", "Théo", "Mathis", "Noah", "Sacha", "Maël", "Ethan", "Victor", "Antoine",
		"Nicolas", "Julien", "Thomas", "Pierre", "Marie", "Sophie", "Nathalie", "Isabelle", "Sylvie", "Catherine",
		"Philippe", "Michel", "Alain", "Bernard", "Christophe", "Françoise", "Monique", "Jacques", "Yasmine", "Karim",
		"Mohamed", "Fatima", "Amina", "Mehdi", "Sofia", "Youssef", "Aïcha", "Nour", "Rayan", "Samir",
		"Giulia", "Marco", "Lucia", "Matteo", "Sofía", "Diego", "Carmen", "Javier", "Ana", "João",
		"Beatriz", "Hannah", "Lukas", "Anja", "Jonas", "Emily", "James", "Olivia", "Liam", "Siobhan",
		"Aoife", "Wei", "Mei", "Hiroshi", "Yuki", "Minh", "Linh", "Priya", "Arjun", "Kofi",
		"Awa", "Mamadou", "Olga", "Dmitri", "Agnieszka", "Piotr", "Elif", "Mehmet", "Ingrid", "Lars",
	}
)

// Members returns n demo members, deterministic in seed, with purchase
// histories relative to now (in now's location).
//
// Members get ids M0000001, M0000002, …; a first name; a tier (bronze 60%,
// silver 28%, gold 10%, platinum 2%); a segment of brand loyalty
// (national-brand-loyal, store-brand-loyal, switcher) and shopping
// intensity (-light, -medium, -heavy); a lifecycle stage (mostly active);
// greeting consent for about 60%; spend shares over two to six categories
// summing to 1; and a purchase cycle per category of affinity whose mean
// follows the category (bakery about 3 days, beauty about 30) and the
// member's intensity, jittered. New and active members bought last within
// 1.5 mean cycles of now, so some categories are due and some are not;
// lapsing members 1.5 to 3 cycles ago, churned members 3 to 6 cycles ago,
// as their stage says.
//
// Each member has a segment-matrix cell (Matrix) in every category of
// their Affinity: a brand loyalty (national, store or switcher, about 40%,
// 30% and 30% of cells), which follows the member's segment in 60% of
// their categories; and a usage by tertile of the member's estimated spend
// in the category among the result's buyers of it (spend share times 1, 2
// or 3.5 for a light, medium or heavy segment). Cells come from their own
// stream of the seed, and usage depends on the other members: Members(n,
// seed, now) gives a member the same cells only for the same n.
//
// Each member holds one card (a 7-byte NXP UID starting 0x04 for about 85%,
// a 4-byte MIFARE Classic UID for the others), a loyalty barcode
// (EAN-13 041nnnnnnnnnc) and a shopping-list barcode (EAN-13 049nnnnnnnnnc),
// c being the GS1 check digit. Card UIDs, loyalty and list codes are unique
// within the result.
func Members(n int, seed uint64, now time.Time) []edge.MemberRecord {
	r := rand.New(rand.NewPCG(seed, streamMembers))
	g := memberGen{
		r: r, now: now,
		uids: map[string]bool{}, loyalty: map[int]bool{}, lists: map[int]bool{},
	}
	out := make([]edge.MemberRecord, 0, max(n, 0))
	for i := range n {
		out = append(out, g.member(i+1))
	}
	matrix(out, seed)
	return out
}

// Segment-matrix loyalty: a member's loyalty in a category follows their
// overall brand loyalty (their segment) with probability matrixFollow, and
// is drawn from matrixLoyalties otherwise, so the shares over all cells stay
// those of matrixLoyalties.
var (
	matrixLoyalties = []weighted[edge.Loyalty]{
		{edge.LoyalNational, 0.40}, {edge.LoyalStore, 0.30}, {edge.LoyalSwitcher, 0.30},
	}
	segmentLoyalty = map[string]edge.Loyalty{
		"national-brand-loyal": edge.LoyalNational, "store-brand-loyal": edge.LoyalStore, "switcher": edge.LoyalSwitcher,
	}
	// intensitySpend is a member's relative total spend by intensity.
	intensitySpend = map[string]float64{"light": 1, "medium": 2, "heavy": 3.5}
)

const matrixFollow = 0.6

// matrix gives each member a segment-matrix cell in every category they buy
// (their Affinity's): a brand loyalty drawn as matrixLoyalties says, and a
// usage from their estimated spend in the category (spend share times
// their intensity's relative spend) against the category's other buyers
// among ms: the lowest third light, the middle third medium, the top third
// heavy (ties in member order). It draws from its own stream of the seed,
// so the rest of each member is what it was without a matrix.
func matrix(ms []edge.MemberRecord, seed uint64) {
	r := rand.New(rand.NewPCG(seed, streamMatrix))
	type buyer struct {
		i     int
		spend float64
	}
	buyers := map[string][]buyer{}
	for i := range ms {
		m := &ms[i].Member
		seg, intensity := splitSegment(m.Segment)
		cats := make([]string, 0, len(m.Affinity))
		for c := range m.Affinity {
			cats = append(cats, c)
		}
		slices.Sort(cats)
		m.Matrix = make(map[string]edge.Cell, len(cats))
		for _, c := range cats {
			l, ok := segmentLoyalty[seg]
			if !ok || r.Float64() >= matrixFollow {
				l = pick(r, matrixLoyalties)
			}
			m.Matrix[c] = edge.Cell{Loyalty: l}
			buyers[c] = append(buyers[c], buyer{i, m.Affinity[c] * max(intensitySpend[intensity], 1)})
		}
	}
	for c, bs := range buyers {
		slices.SortStableFunc(bs, func(a, b buyer) int { return cmp.Compare(a.spend, b.spend) })
		for rank, b := range bs {
			u := edge.UsageHeavy
			switch q := (float64(rank) + 0.5) / float64(len(bs)); {
			case q < 1.0/3:
				u = edge.UsageLight
			case q < 2.0/3:
				u = edge.UsageMedium
			}
			cell := ms[b.i].Member.Matrix[c]
			cell.Usage = u
			ms[b.i].Member.Matrix[c] = cell
		}
	}
}

// splitSegment splits a segment such as "switcher-heavy" into brand
// loyalty and intensity.
func splitSegment(s string) (loyalty, intensity string) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// memberGen draws members and keeps their identifiers unique.
type memberGen struct {
	r       *rand.Rand
	now     time.Time
	uids    map[string]bool
	loyalty map[int]bool
	lists   map[int]bool
}

func (g *memberGen) member(seq int) edge.MemberRecord {
	r := g.r
	intensity := pick(r, intensities)
	m := edge.Member{
		ID:          fmt.Sprintf("M%07d", seq),
		FirstName:   firstNames[r.IntN(len(firstNames))],
		Tier:        pick(r, tiers),
		Segment:     pick(r, brandLoyalties) + "-" + intensity,
		Stage:       pick(r, stages),
		GreetByName: r.Float64() < 0.6,
		Affinity:    map[string]float64{},
		Cycles:      map[string]edge.Cycle{},
	}
	tenureDays := 90 + r.Float64()*1900
	if m.Stage == edge.StageNew {
		tenureDays = 5 + r.Float64()*55
	}

	k := 2 + r.IntN(5) // 2..6 categories
	picked := r.Perm(len(categories))[:k]
	shares := make([]float64, k)
	total := 0.0
	for i := range shares {
		// Exponential weights give a flat Dirichlet; the floor keeps every
		// share visible.
		shares[i] = 0.15 + r.ExpFloat64()
		total += shares[i]
	}
	rest := 1.0
	for i, ci := range picked {
		c := categories[ci]
		share := math.Round(shares[i]/total*1000) / 1000
		if i == k-1 {
			share = math.Round(rest*1000) / 1000 // the rounding residue goes to the last
		}
		rest -= share
		m.Affinity[c.name] = share

		mean := math.Round(c.meanDays*cycleFactor[intensity]*(0.75+0.55*r.Float64())*10) / 10
		mean = max(mean, 1)
		var back float64 // cycles since the last purchase
		switch m.Stage {
		case edge.StageLapsing:
			back = 1.5 + 1.5*r.Float64()
		case edge.StageChurned:
			back = 3 + 3*r.Float64()
		default:
			back = 1.5 * r.Float64()
		}
		days := min(back*mean, tenureDays)
		m.Cycles[c.name] = edge.Cycle{
			MeanDays: mean,
			Last:     g.purchaseTime(days),
			Count:    max(1, int(math.Round(tenureDays/mean*(0.5+0.5*r.Float64())))),
		}
	}
	return edge.MemberRecord{
		Member:  m,
		Cards:   [][]byte{uniqueUID(r, g.uids)},
		Loyalty: ean13(loyaltyPrefix, uniqueNumber(r, g.loyalty)),
		List:    ean13(listPrefix, uniqueNumber(r, g.lists)),
	}
}

// purchaseTime returns a plausible checkout time about days before now:
// during shopping hours (09:00 to 19:00 local) of that day, never after now.
func (g *memberGen) purchaseTime(days float64) time.Time {
	loc := g.now.Location()
	d := g.now.Add(-time.Duration(days * 24 * float64(time.Hour))).In(loc)
	y, mo, dd := d.Date()
	t := time.Date(y, mo, dd, 9, 0, 0, 0, loc).Add(time.Duration(g.r.IntN(600)) * time.Minute)
	if t.After(g.now) {
		t = t.AddDate(0, 0, -1)
	}
	return t
}
