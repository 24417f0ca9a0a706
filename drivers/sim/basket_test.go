package sim

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// TestLines checks baskets: valid lines of the shopper's categories, one
// line per product, a fixed price per product, brands following the
// shopper's loyalty, sizes following their intensity.
func TestLines(t *testing.T) {
	cells := func(l edge.Loyalty, cats ...string) map[string]edge.Cell {
		m := map[string]edge.Cell{}
		for _, c := range cats {
			m[c] = edge.Cell{Loyalty: l, Usage: edge.UsageMedium}
		}
		return m
	}
	for _, tc := range []struct {
		name       string
		m          *edge.Member
		ownLo      float64 // share of own-brand units
		ownHi      float64
		unitsLo    float64 // mean units per basket
		unitsHi    float64
		categories []string // nil: any of the store's
	}{
		{"anonymous", nil, 0.3, 0.4, 8, 11, nil},
		{"national loyal", &edge.Member{Segment: "national-brand-loyal-medium",
			Affinity: map[string]float64{"dairy": 0.7, "wine": 0.3}, Matrix: cells(edge.LoyalNational, "dairy", "wine")},
			0.07, 0.13, 8, 11, []string{"dairy", "wine"}},
		{"store loyal heavy", &edge.Member{Segment: "store-brand-loyal-heavy",
			Affinity: map[string]float64{"bakery": 0.5, "pet": 0.25, "frozen": 0.25}, Matrix: cells(edge.LoyalStore, "bakery", "pet", "frozen")},
			0.82, 0.88, 11, 14.5, []string{"bakery", "frozen", "pet"}},
		{"switcher light", &edge.Member{Segment: "switcher-light",
			Affinity: map[string]float64{"produce": 1}, Matrix: cells(edge.LoyalSwitcher, "produce")},
			0.46, 0.54, 6, 8.5, []string{"produce"}},
		{"no matrix", &edge.Member{Segment: "switcher-medium", Affinity: map[string]float64{"meat": 1}},
			0.3, 0.4, 8, 11, []string{"meat"}},
		{"no affinity", &edge.Member{Segment: "switcher-medium"}, 0.3, 0.4, 8, 11, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 1))
			price := map[string]edge.Money{}
			units, own := 0, 0
			const baskets = 4000
			for range baskets {
				lines := Lines(r, tc.m)
				if err := edge.ValidateLines(lines); err != nil || len(lines) == 0 {
					t.Fatalf("lines %+v: %v", lines, err)
				}
				skus := map[string]bool{}
				n := 0
				for _, l := range lines {
					if skus[l.SKU] {
						t.Fatalf("%s twice in %+v", l.SKU, lines)
					}
					skus[l.SKU] = true
					if p, ok := price[l.SKU]; ok && p != l.UnitPrice {
						t.Fatalf("%s at %s and %s", l.SKU, p, l.UnitPrice)
					}
					price[l.SKU] = l.UnitPrice
					if l.UnitPrice%10 != 9 || l.UnitPrice < 9 || l.UnitPrice > 2000 {
						t.Fatalf("%s: price %s", l.SKU, l.UnitPrice)
					}
					if tc.categories != nil && !slices.Contains(tc.categories, l.Category) {
						t.Fatalf("%s: category %s not the member's", l.SKU, l.Category)
					}
					if (l.Brand == StoreBrand) != (l.SKU[len(l.Category)+1] == 's') {
						t.Fatalf("%s: brand %s", l.SKU, l.Brand)
					}
					if l.Brand == StoreBrand {
						own += l.Qty
					}
					n += l.Qty
				}
				if n < 1 || n > unitsMax {
					t.Fatalf("%d units", n)
				}
				units += n
			}
			mean := float64(units) / baskets
			share := float64(own) / float64(units)
			t.Logf("%.1f units a basket, %.2f own brand", mean, share)
			if share < tc.ownLo || share > tc.ownHi {
				t.Errorf("own-brand share %.3f outside %.2f..%.2f", share, tc.ownLo, tc.ownHi)
			}
			if mean < tc.unitsLo || mean > tc.unitsHi {
				t.Errorf("mean units %.2f outside %.1f..%.1f", mean, tc.unitsLo, tc.unitsHi)
			}
			a := Lines(rand.New(rand.NewPCG(7, 7)), tc.m)
			if b := Lines(rand.New(rand.NewPCG(7, 7)), tc.m); !reflect.DeepEqual(a, b) {
				t.Error("the same draws gave different baskets")
			}
		})
	}
}
