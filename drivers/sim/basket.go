package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Baskets.
//
// Each category holds skusPerBrand national-brand products (SKU
// "dairy-n07") and as many of the store's own brand (SKU "dairy-s07",
// brand StoreBrand). A product's unit price is fixed: a national product's
// lies in its category's price range, placed by a hash of the SKU, most
// near the bottom of the range (the square of a uniform fraction of it);
// the own-brand product of the same number costs about a quarter less.
// Prices end in 9 cents.
//
// A basket holds a log-normal number of units (median 7, from 1 to 60):
// a top-up of two or three items is common, a big weekly shop of 40 rare.
// Each unit's category is drawn by the shopper's spend shares (a member's
// Affinity; an anonymous shopper's, the store-wide popularity of the
// categories), its brand by the shopper's brand loyalty in the category (a
// member's Matrix cell), and a unit of a product already in the basket
// adds to its line's quantity.

// StoreBrand is the brand of the store's own-label products.
const StoreBrand = "RedCarpet"

// skusPerBrand is the number of products per category and brand kind.
const skusPerBrand = 30

// nationalBrands are the national brands; a product's brand follows its
// number.
var nationalBrands = []string{"Belmont", "Nordvik", "Casa Verde", "Alpenhof", "Maison Lenoir"}

// ownBrandShare is the probability that a unit is of the store's own brand,
// by the shopper's brand loyalty in its category.
var ownBrandShare = map[edge.Loyalty]float64{
	edge.LoyalNational: 0.1, edge.LoyalStore: 0.85, edge.LoyalSwitcher: 0.5,
}

// anonymousOwnBrand is the own-brand share of shoppers of unknown loyalty.
const anonymousOwnBrand = 0.35

// basketUnits are the parameters of the log-normal number of units.
const (
	unitsMedian = 7.0
	unitsSigma  = 0.75
	unitsMax    = 60
)

// usageSize scales a member's basket by their shopping intensity.
var usageSize = map[string]float64{"light": 0.75, "medium": 1.0, "heavy": 1.35}

// profile is what a basket's contents follow.
type profile struct {
	cats    []string  // categories, in a fixed order
	weights []float64 // spend share of each
	own     []float64 // own-brand share of each
	size    float64   // basket size factor
}

// storeProfile is an anonymous shopper's: the categories' popularity.
var storeProfile = func() profile {
	var p profile
	for _, c := range categories {
		p.cats = append(p.cats, c.name)
		p.weights = append(p.weights, c.popularity)
		p.own = append(p.own, anonymousOwnBrand)
	}
	p.size = 1
	return p
}()

// memberProfile returns m's basket profile; the store's for a member
// without spend shares.
func memberProfile(m *edge.Member) profile {
	if len(m.Affinity) == 0 {
		return storeProfile
	}
	var p profile
	p.cats = make([]string, 0, len(m.Affinity))
	for c, share := range m.Affinity {
		if share > 0 {
			p.cats = append(p.cats, c)
		}
	}
	if len(p.cats) == 0 {
		return storeProfile
	}
	slices.Sort(p.cats) // map order must not reach the draws
	for _, c := range p.cats {
		p.weights = append(p.weights, m.Affinity[c])
		own := anonymousOwnBrand
		if cell, ok := m.Matrix[c]; ok {
			if s, ok := ownBrandShare[cell.Loyalty]; ok {
				own = s
			}
		}
		p.own = append(p.own, own)
	}
	p.size = 1
	if i := strings.LastIndexByte(m.Segment, '-'); i >= 0 {
		if f, ok := usageSize[m.Segment[i+1:]]; ok {
			p.size = f
		}
	}
	return p
}

// Lines returns a basket a shopper takes to the till, drawn from r: m's
// when m is a member (their categories by spend share, brands by their
// segment-matrix loyalty, size by their shopping intensity), an anonymous
// shopper's when m is nil. Lines have a SKU, category, brand, quantity and
// unit price; a product appears on one line. Lines are deterministic in
// r's state and m.
func Lines(r *rand.Rand, m *edge.Member) []edge.Line {
	p := storeProfile
	if m != nil {
		p = memberProfile(m)
	}
	return p.lines(r)
}

func (p *profile) lines(r *rand.Rand) []edge.Line {
	units := int(math.Round(unitsMedian * p.size * math.Exp(unitsSigma*r.NormFloat64())))
	units = min(max(units, 1), unitsMax)
	cum := cumulative(p.weights)
	total := cum[len(cum)-1]
	var lines []edge.Line
	for units > 0 {
		c := min(searchCum(cum, r.Float64()*total), len(p.cats)-1)
		own := r.Float64() < p.own[c]
		n := 1 + r.IntN(skusPerBrand)
		qty := 1
		switch x := r.Float64(); {
		case x < 0.05:
			qty = 3
		case x < 0.2:
			qty = 2
		}
		qty = min(qty, units)
		units -= qty
		l := product(p.cats[c], own, n)
		if i := slices.IndexFunc(lines, func(x edge.Line) bool { return x.SKU == l.SKU }); i >= 0 {
			lines[i].Qty += qty
			continue
		}
		l.Qty = qty
		lines = append(lines, l)
	}
	return lines
}

// products holds the lines of the categories' products: [own][n-1].
var products = func() map[string]*[2][skusPerBrand]edge.Line {
	m := map[string]*[2][skusPerBrand]edge.Line{}
	for _, c := range categories {
		var t [2][skusPerBrand]edge.Line
		for n := 1; n <= skusPerBrand; n++ {
			t[0][n-1], t[1][n-1] = makeProduct(c.name, false, n), makeProduct(c.name, true, n)
		}
		m[c.name] = &t
	}
	return m
}()

// product returns the line of product n (1..skusPerBrand) of category cat,
// the store's own brand or a national one, with quantity 0.
func product(cat string, own bool, n int) edge.Line {
	if t := products[cat]; t != nil {
		if own {
			return t[1][n-1]
		}
		return t[0][n-1]
	}
	return makeProduct(cat, own, n) // a category of another store
}

func makeProduct(cat string, own bool, n int) edge.Line {
	lo, hi := edge.Money(99), edge.Money(999)
	if i := slices.IndexFunc(categories, func(c category) bool { return c.name == cat }); i >= 0 {
		lo, hi = categories[i].lo, categories[i].hi
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s-%02d", cat, n)
	pos := float64(h.Sum32()%1000) / 999
	pos *= pos
	price := lo + edge.Money(pos*float64(hi-lo))
	l := edge.Line{SKU: fmt.Sprintf("%s-n%02d", cat, n), Category: cat, Brand: nationalBrands[n%len(nationalBrands)]}
	if own {
		price = price * 3 / 4
		l.SKU, l.Brand = fmt.Sprintf("%s-s%02d", cat, n), StoreBrand
	}
	l.UnitPrice = max(price/10*10+9, 9) // x.x9
	return l
}
