package store

import (
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestNextCycle(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   edge.Cycle
		at   time.Time
		want edge.Cycle
	}{
		{"first purchase", edge.Cycle{}, t0, edge.Cycle{Last: t0, Count: 1}},
		{"second purchase sets the mean", edge.Cycle{Last: t0, Count: 1}, t0.Add(6 * day), edge.Cycle{MeanDays: 6, Last: t0.Add(6 * day), Count: 2}},
		{"running mean", edge.Cycle{MeanDays: 6, Last: t0, Count: 3}, t0.Add(9 * day), edge.Cycle{MeanDays: 7, Last: t0.Add(9 * day), Count: 4}},
		{"same day is one occasion", edge.Cycle{MeanDays: 6, Last: t0, Count: 3}, t0.Add(3 * time.Hour), edge.Cycle{MeanDays: 6, Last: t0.Add(3 * time.Hour), Count: 3}},
		{"HQ's mean without a count", edge.Cycle{MeanDays: 9, Last: t0}, t0.Add(3 * day), edge.Cycle{MeanDays: 6, Last: t0.Add(3 * day), Count: 2}},
	} {
		if got := nextCycle(tc.in, tc.at); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
