package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// PCG stream selectors, so members, offers and each simulated day draw from
// independent sequences of the same seed.
const (
	streamMembers uint64 = 0x6d656d62657273 // "members"
	streamDays    uint64 = 0x64617973       // "days", xor-ed with the date
)

// category is a product category with its usual days between purchases for
// a medium-intensity shopper.
type category struct {
	name     string
	meanDays float64
}

// categories are the product categories of the demo store.
var categories = []category{
	{"dairy", 6}, {"bakery", 3}, {"produce", 5}, {"meat", 7}, {"wine", 14},
	{"beauty", 30}, {"household", 21}, {"baby", 10}, {"pet", 12}, {"frozen", 10},
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
	return out
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
