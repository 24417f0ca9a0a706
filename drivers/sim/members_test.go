package sim

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestMembersDeterministic(t *testing.T) {
	now := time.Date(2025, 6, 13, 8, 30, 0, 0, time.UTC)
	a, b := Members(300, 7, now), Members(300, 7, now)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different members")
	}
	if reflect.DeepEqual(a, Members(300, 8, now)) {
		t.Fatal("different seeds gave the same members")
	}
	if got := Members(0, 7, now); len(got) != 0 {
		t.Fatalf("Members(0) = %d members", len(got))
	}
}

func TestMembersProfiles(t *testing.T) {
	open, _ := friday(t)
	const n = 4000
	ms := Members(n, 1, open)
	if len(ms) != n {
		t.Fatalf("got %d members, want %d", len(ms), n)
	}
	cats := map[string]float64{}
	for _, c := range categories {
		cats[c.name] = c.meanDays
	}
	segRE := regexp.MustCompile(`^(national-brand-loyal|store-brand-loyal|switcher)-(light|medium|heavy)$`)
	tiers := map[string]int{}
	stageN := map[edge.Stage]int{}
	greet := 0
	due := 0
	for i, rec := range ms {
		m := rec.Member
		if want := fmt.Sprintf("M%07d", i+1); m.ID != want {
			t.Fatalf("member %d id %q, want %q", i, m.ID, want)
		}
		if m.FirstName == "" || !segRE.MatchString(m.Segment) || !slices.Contains(edge.Stages, m.Stage) {
			t.Fatalf("%s: bad profile %+v", m.ID, m)
		}
		tiers[m.Tier]++
		stageN[m.Stage]++
		if m.GreetByName {
			greet++
		}
		if k := len(m.Affinity); k < 2 || k > 6 {
			t.Fatalf("%s: %d categories of affinity", m.ID, k)
		}
		sum := 0.0
		for c, share := range m.Affinity {
			if _, ok := cats[c]; !ok || share <= 0 {
				t.Fatalf("%s: affinity %s=%v", m.ID, c, share)
			}
			sum += share
			cy, ok := m.Cycles[c]
			if !ok {
				t.Fatalf("%s: no cycle for %s", m.ID, c)
			}
			if cy.MeanDays < 1 || cy.MeanDays > 3*cats[c] || cy.Count < 1 {
				t.Fatalf("%s: implausible %s cycle %+v", m.ID, c, cy)
			}
			if !cy.Last.Before(open) {
				t.Fatalf("%s: last %s purchase %s is not before %s", m.ID, c, cy.Last, open)
			}
			ago := open.Sub(cy.Last).Hours() / 24
			if (m.Stage == edge.StageActive || m.Stage == edge.StageNew) && ago > 1.5*cy.MeanDays+1 {
				t.Fatalf("%s (%s): last %s purchase %.1f days ago, cycle %.1f", m.ID, m.Stage, c, ago, cy.MeanDays)
			}
			if ago >= cy.MeanDays {
				due++
			}
		}
		if len(m.Cycles) != len(m.Affinity) {
			t.Fatalf("%s: %d cycles for %d affinities", m.ID, len(m.Cycles), len(m.Affinity))
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("%s: affinity sums to %v", m.ID, sum)
		}
	}
	share := func(k int) float64 { return float64(k) / n }
	for _, c := range []struct {
		what   string
		got    float64
		lo, hi float64
	}{
		{"bronze", share(tiers["bronze"]), 0.55, 0.65},
		{"silver", share(tiers["silver"]), 0.24, 0.32},
		{"gold", share(tiers["gold"]), 0.07, 0.13},
		{"platinum", share(tiers["platinum"]), 0.005, 0.04},
		{"active", share(stageN[edge.StageActive]), 0.6, 0.75},
		{"greet by name", share(greet), 0.55, 0.65},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s share %.3f outside %.3f..%.3f", c.what, c.got, c.lo, c.hi)
		}
	}
	if len(tiers) != 4 || len(stageN) != 4 {
		t.Errorf("tiers %v, stages %v: want all of them", tiers, stageN)
	}
	if due == 0 {
		t.Error("no category is due for anyone")
	}
}

func TestMembersIdentifiers(t *testing.T) {
	ms := Members(5000, 3, time.Date(2025, 6, 13, 8, 30, 0, 0, time.UTC))
	uids := map[string]bool{}
	codes := map[string]bool{}
	short := 0
	for _, rec := range ms {
		id := rec.Member.ID
		if len(rec.Cards) != 1 {
			t.Fatalf("%s has %d cards", id, len(rec.Cards))
		}
		uid := rec.Cards[0]
		switch {
		case len(uid) == 7 && uid[0] == 0x04:
		case len(uid) == 4 && uid[0] != 0x88 && uid[0] != 0x08:
			short++
		default:
			t.Fatalf("%s: bad UID % x", id, uid)
		}
		if uids[string(uid)] {
			t.Fatalf("%s: UID % x used twice", id, uid)
		}
		uids[string(uid)] = true
		for _, c := range []struct{ code, prefix string }{{rec.Loyalty, loyaltyPrefix}, {rec.List, listPrefix}} {
			if !validEAN13(c.code) || !strings.HasPrefix(c.code, c.prefix) {
				t.Fatalf("%s: bad barcode %q (want EAN-13 %s…)", id, c.code, c.prefix)
			}
			if codes[c.code] {
				t.Fatalf("%s: barcode %s used twice", id, c.code)
			}
			codes[c.code] = true
		}
	}
	if s := float64(short) / float64(len(ms)); s < 0.1 || s > 0.2 {
		t.Errorf("4-byte UID share %.3f, want about %.2f", s, 1-sevenByteShare)
	}
}

func TestCheckDigit(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"4006381333931", true}, // GS1's usual example
		{"5901234123457", true},
		{"0000000000000", true},
		{"4006381333932", false},
		{"4006381333913", false}, // transposed digits
		{"400638133393", false},  // too short
		{"40063813339310", false},
		{"400638133393a", false},
		{ean13(loyaltyPrefix, 123456789), true},
		{ean13(listPrefix, 0), true},
	} {
		if got := validEAN13(tc.code); got != tc.want {
			t.Errorf("validEAN13(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// FuzzEAN13 checks that every generated code is valid and that the check
// digit catches every single-digit error.
func FuzzEAN13(f *testing.F) {
	f.Add(uint32(0), uint8(0), uint8(1))
	f.Add(uint32(999_999_999), uint8(12), uint8(9))
	f.Fuzz(func(t *testing.T, n uint32, pos, delta uint8) {
		code := ean13(listPrefix, int(n%1_000_000_000))
		if !validEAN13(code) {
			t.Fatalf("generated %q is not a valid EAN-13", code)
		}
		b := []byte(code)
		i, d := int(pos)%13, int(delta)%9+1
		b[i] = byte('0' + (int(b[i]-'0')+d)%10)
		if validEAN13(string(b)) {
			t.Fatalf("%q with digit %d changed to %q still valid", code, i, b)
		}
	})
}

// TestMembersMatrix checks the segment-matrix cells: one in every category
// a member buys and none elsewhere; loyalty about 40/30/30 and following
// the segment; usage by thirds of the category's buyers, rising with
// estimated spend; deterministic in the seed; drawn apart from the rest of
// the member.
func TestMembersMatrix(t *testing.T) {
	now := time.Date(2025, 6, 13, 8, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		n    int
		seed uint64
	}{
		{"small base", 30, 1},
		{"demo base", 10000, 1},
		{"other seed", 4000, 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := Members(tc.n, tc.seed, now)
			if !reflect.DeepEqual(ms, Members(tc.n, tc.seed, now)) {
				t.Fatal("same seed gave different matrices")
			}
			if reflect.DeepEqual(ms, Members(tc.n, tc.seed+1, now)) {
				t.Fatal("different seeds gave the same members")
			}
			loyalty := map[edge.Loyalty]int{}
			usage := map[string]map[edge.Usage]int{}
			follows, cells := 0, 0
			type spent struct {
				spend float64
				u     edge.Usage
			}
			byCat := map[string][]spent{}
			for _, rec := range ms {
				m := rec.Member
				if len(m.Matrix) != len(m.Affinity) {
					t.Fatalf("%s: %d cells for %d categories", m.ID, len(m.Matrix), len(m.Affinity))
				}
				seg, intensity := splitSegment(m.Segment)
				for c, cell := range m.Matrix {
					if _, ok := m.Affinity[c]; !ok {
						t.Fatalf("%s: cell in %s, which they do not buy", m.ID, c)
					}
					if !slices.Contains([]edge.Loyalty{edge.LoyalNational, edge.LoyalStore, edge.LoyalSwitcher}, cell.Loyalty) ||
						!slices.Contains([]edge.Usage{edge.UsageLight, edge.UsageMedium, edge.UsageHeavy}, cell.Usage) {
						t.Fatalf("%s: bad cell %+v in %s", m.ID, cell, c)
					}
					cells++
					loyalty[cell.Loyalty]++
					if segmentLoyalty[seg] == cell.Loyalty {
						follows++
					}
					if usage[c] == nil {
						usage[c] = map[edge.Usage]int{}
					}
					usage[c][cell.Usage]++
					byCat[c] = append(byCat[c], spent{m.Affinity[c] * intensitySpend[intensity], cell.Usage})
				}
			}
			rank := map[edge.Usage]int{edge.UsageLight: 0, edge.UsageMedium: 1, edge.UsageHeavy: 2}
			for c, ss := range byCat {
				slices.SortStableFunc(ss, func(a, b spent) int { return cmpFloat(a.spend, b.spend) })
				for i := 1; i < len(ss); i++ {
					if ss[i].spend > ss[i-1].spend && rank[ss[i].u] < rank[ss[i-1].u] {
						t.Fatalf("%s: spend %.3f is %s but %.3f is %s", c, ss[i].spend, ss[i].u, ss[i-1].spend, ss[i-1].u)
					}
				}
				n := len(ss)
				for _, u := range []edge.Usage{edge.UsageLight, edge.UsageMedium, edge.UsageHeavy} {
					if k := usage[c][u]; k < n/3-1 || k > n/3+2 {
						t.Errorf("%s: %d of %d buyers %s, want a third", c, k, n, u)
					}
				}
			}
			if tc.n < 1000 {
				return
			}
			share := func(k int) float64 { return float64(k) / float64(cells) }
			for _, c := range []struct {
				what   string
				got    float64
				lo, hi float64
			}{
				{"national", share(loyalty[edge.LoyalNational]), 0.36, 0.44},
				{"store", share(loyalty[edge.LoyalStore]), 0.26, 0.34},
				{"switcher", share(loyalty[edge.LoyalSwitcher]), 0.26, 0.34},
				{"following the segment", share(follows), 0.6, 0.8},
			} {
				if c.got < c.lo || c.got > c.hi {
					t.Errorf("%s share %.3f outside %.2f..%.2f", c.what, c.got, c.lo, c.hi)
				}
			}
		})
	}

	// The matrix draws from its own stream: the rest of a member does not
	// depend on it, nor on how many members there are.
	a, b := Members(50, 5, now), Members(80, 5, now)
	for i := range a {
		a[i].Member.Matrix, b[i].Member.Matrix = nil, nil
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("member %d differs between bases of 50 and 80", i)
		}
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
