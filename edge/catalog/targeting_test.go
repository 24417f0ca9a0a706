package catalog

import (
	"maps"
	"strings"
	"testing"
)

// TestOfferTargeting: the segment matrix (depth) and the holdout share, in
// both formats, and the reasons a bad one is refused with.
func TestOfferTargeting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		csv     map[string]string // columns over offerCSV's base
		json    string            // fields over a base line
		depth   map[string]float64
		holdout float64
		field   string // "": good
		reason  string
	}{
		{name: "matrix", csv: map[string]string{"categories": "dairy", "depth": "switcher/heavy=30; store/heavy=10%;Switcher/Light=5"},
			json:  `"categories":["dairy"],"depth":{"switcher/heavy":30,"store/heavy":10,"Switcher/Light":5}`,
			depth: map[string]float64{"switcher/heavy": 30, "store/heavy": 10, "switcher/light": 5}},
		{name: "holdout", csv: map[string]string{"holdout_pct": "10%"}, json: `"holdout_pct":10`, holdout: 10},
		{name: "holdout 50", csv: map[string]string{"holdout_pct": "50"}, json: `"holdout_pct":50`, holdout: 50},
		{name: "holdout above 50", csv: map[string]string{"holdout_pct": "50.5"}, json: `"holdout_pct":50.5`,
			field: "holdout_pct", reason: "50.5 is outside 0..50"},
		{name: "holdout negative", csv: map[string]string{"holdout_pct": "-1"}, json: `"holdout_pct":-1`,
			field: "holdout_pct", reason: "outside 0..50"},
		{name: "unknown cell", csv: map[string]string{"categories": "dairy", "depth": "switcher/huge=30"},
			json:  `"categories":["dairy"],"depth":{"switcher/huge":30}`,
			field: "depth", reason: `"switcher/huge" is not a segment-matrix cell`},
		{name: "segment name as cell", csv: map[string]string{"categories": "dairy", "depth": "switcher-heavy=30"},
			json:  `"categories":["dairy"],"depth":{"switcher-heavy":30}`,
			field: "depth", reason: `"switcher-heavy" is not a segment-matrix cell`},
		{name: "zero depth", csv: map[string]string{"categories": "dairy", "depth": "store/light=0"},
			json:  `"categories":["dairy"],"depth":{"store/light":0}`,
			field: "depth", reason: `"store/light": 0 is not above 0 and at most 100`},
		{name: "depth above 100", csv: map[string]string{"categories": "dairy", "depth": "store/light=101"},
			json:  `"categories":["dairy"],"depth":{"store/light":101}`,
			field: "depth", reason: "101 is not above 0"},
		{name: "cell twice", csv: map[string]string{"categories": "dairy", "depth": "store/light=10;Store/Light=20"},
			json:  `"categories":["dairy"],"depth":{"store/light":10,"Store/Light":20}`,
			field: "depth", reason: "is given twice"},
		{name: "depth without category", csv: map[string]string{"depth": "store/light=10"}, json: `"depth":{"store/light":10}`,
			field: "depth", reason: "needs categories"},
	} {
		for _, f := range []Format{FormatCSV, FormatJSONL} {
			t.Run(tc.name+"/"+string(f), func(t *testing.T) {
				in := offerCSV(tc.csv)
				if f == FormatJSONL {
					in = `{"id":"O1","title":"Butter","channels":["signage"],"valid_from":"2026-11-01","valid_to":"2026-11-30",` + tc.json + "}\n"
				}
				g := offers(f, in)
				if g.err != nil {
					t.Fatal(g.err)
				}
				if tc.field != "" {
					if len(g.bad) != 1 || g.bad[0].Field != tc.field || !strings.Contains(g.bad[0].Err.Error(), tc.reason) {
						t.Fatalf("bad %v, good %d; want %s: %q", g.bad, len(g.good), tc.field, tc.reason)
					}
					return
				}
				if len(g.good) != 1 {
					t.Fatalf("bad: %v", g.bad)
				}
				o := g.good[0]
				if !maps.Equal(o.Depth, tc.depth) || o.HoldoutPct != tc.holdout {
					t.Errorf("depth %v holdout %v, want %v and %v", o.Depth, o.HoldoutPct, tc.depth, tc.holdout)
				}
				if err := o.ValidateTargeting(); err != nil {
					t.Errorf("yielded an offer the engine refuses: %v", err)
				}
			})
		}
	}
	if g := offers(FormatCSV, offerCSV(map[string]string{"categories": "dairy", "depth": "store/light"})); len(g.bad) != 1 ||
		!strings.Contains(g.bad[0].Error(), "item 1 is not cell=percent") {
		t.Errorf("an item without a percent: %v", g.bad)
	}
}
