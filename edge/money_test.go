package edge_test

import (
	"encoding/json"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestParseMoney(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want edge.Money
		ok   bool
	}{
		{"12", 1200, true}, {"12.5", 1250, true}, {"0.99", 99, true}, {"-0.99", -99, true}, {"2.49", 249, true},
		{"12.345", 0, false}, {"1e3", 0, false}, {"", 0, false}, {".5", 0, false}, {"5.", 0, false},
		{"abc", 0, false}, {"99999999999999", 0, false}, {"1-2", 0, false},
	} {
		got, err := edge.ParseMoney(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMoney(%q) = %d, %v", tc.in, got, err)
		}
	}
	var m struct{ P edge.Money }
	if err := json.Unmarshal([]byte(`{"P": 2.49}`), &m); err != nil || m.P != 249 {
		t.Errorf("unmarshal 2.49: %d %v", m.P, err)
	}
	if err := json.Unmarshal([]byte(`{"P": 0.1e1}`), &m); err == nil {
		t.Errorf("unmarshal an exponent: %d", m.P)
	}
	if b, _ := json.Marshal(struct{ P edge.Money }{-1205}); string(b) != `{"P":-12.05}` {
		t.Errorf("marshal: %s", b)
	}
}

func TestMoneyPercent(t *testing.T) {
	for _, tc := range []struct {
		m    edge.Money
		pct  float64
		want edge.Money
	}{
		{498, 20, 100}, {100, 15, 15}, {333, 10, 33}, {335, 10, 34}, {1999, 12.5, 250}, {0, 50, 0}, {-335, 10, -34},
	} {
		if got := tc.m.Percent(tc.pct); got != tc.want {
			t.Errorf("%s × %v%% = %s, want %s", tc.m, tc.pct, got, tc.want)
		}
	}
}
