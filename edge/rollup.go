package edge

import (
	"math"
	"sort"
	"time"
)

// Roll-ups of store traffic intervals, for the store dashboard and reports.
//
// Counts, baskets, spend and offers add up; occupancy does not: a sum
// carries the occupancy at its end and the highest peak of its intervals.

// SumTraffic adds intervals up into one. Start is the earliest Start and End
// the latest End; Occupancy is that of the interval that ended last and Peak
// the highest Peak; Day is the intervals' trading day when they share one,
// else ""; Currency is the first one set (a store trades in one). Reset is
// the sum of the resets, nil when no interval had one. The zero Traffic is
// the sum of no intervals.
func SumTraffic(ts []Traffic) Traffic {
	var s Traffic
	for i, t := range ts {
		if i == 0 {
			s.Start, s.End, s.Day = t.Start, t.End, t.Day
		}
		if t.Start.Before(s.Start) {
			s.Start = t.Start
		}
		if !t.End.Before(s.End) {
			s.End, s.Occupancy = t.End, t.Occupancy
		}
		if t.Day != s.Day {
			s.Day = ""
		}
		if s.Currency == "" {
			s.Currency = t.Currency
		}
		s.Peak = max(s.Peak, t.Peak)
		if t.Reset != nil {
			r := *t.Reset
			if s.Reset != nil {
				r += *s.Reset
			}
			s.Reset = &r
		}
		s.add(t, 1)
	}
	return s
}

// add adds share of t's additive fields to s, rounding each to the nearest
// whole count or minor unit.
func (s *Traffic) add(t Traffic, share float64) {
	n := func(v int) int { return int(math.Round(float64(v) * share)) }
	m := func(v Money) Money { return Money(math.Round(float64(v) * share)) }
	s.In += n(t.In)
	s.Out += n(t.Out)
	s.StaffIn += n(t.StaffIn)
	s.StaffOut += n(t.StaffOut)
	s.Visitors += n(t.Visitors)
	s.Clamped += n(t.Clamped)
	s.MemberVisits += n(t.MemberVisits)
	s.Baskets += n(t.Baskets)
	s.MemberBaskets += n(t.MemberBaskets)
	s.Spend += m(t.Spend)
	s.MemberSpend += m(t.MemberSpend)
	s.OffersShown += n(t.OffersShown)
	s.OffersRedeemed += n(t.OffersRedeemed)
	s.OffersWithheld += n(t.OffersWithheld)
}

// SumUntil adds up what the intervals counted before at: the intervals that
// ended by then in full, and the interval running at at in proportion to
// the part of it that had elapsed (counts rounded to whole ones). It is how
// today so far compares with another day up to the same time of day.
//
// End is at when an interval was running then, else the last End before
// it; Occupancy and Peak come from the intervals that ended by at only
// (when a running interval's peak happened is not known).
func SumUntil(ts []Traffic, at time.Time) Traffic {
	var closed []Traffic
	var running *Traffic
	for i := range ts {
		switch t := &ts[i]; {
		case !t.End.After(at):
			closed = append(closed, *t)
		case t.Start.Before(at):
			running = t
		}
	}
	s := SumTraffic(closed)
	if running != nil {
		if len(closed) == 0 {
			s.Start, s.Day, s.Currency = running.Start, running.Day, running.Currency
		} else if running.Day != s.Day {
			s.Day = ""
		}
		if s.Currency == "" {
			s.Currency = running.Currency
		}
		s.Start = minTime(s.Start, running.Start)
		s.End = at
		s.add(*running, float64(at.Sub(running.Start))/float64(running.End.Sub(running.Start)))
	}
	return s
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// ByHour groups intervals by the local wall-clock hour in loc that their
// Start falls in and sums each hour (SumTraffic), in time order. An hour's
// Start is the hour's first instant, its End the End of its last interval.
//
// Hours are instants, not clock readings: on the autumn day when clocks go
// back, the repeated hour is two hours with the same reading (02:00 CEST
// and 02:00 CET in Europe/Berlin); on the spring day, the skipped hour has
// no intervals and so no entry. Intervals that do not divide an hour count
// in the hour they start in.
func ByHour(ts []Traffic, loc *time.Location) []Traffic {
	groups := map[int64][]Traffic{}
	for _, t := range ts {
		h := IntervalStart(t.Start, loc, time.Hour).Unix()
		groups[h] = append(groups[h], t)
	}
	hours := make([]Traffic, 0, len(groups))
	for h, g := range groups {
		s := SumTraffic(g)
		s.Start = time.Unix(h, 0).In(loc)
		hours = append(hours, s)
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i].Start.Before(hours[j].Start) })
	return hours
}

// Conversion is the share of visitors who paid a basket: baskets per
// visitor. It is false without visitors.
func (t Traffic) Conversion() (float64, bool) {
	if t.Visitors <= 0 {
		return 0, false
	}
	return float64(t.Baskets) / float64(t.Visitors), true
}

// SpendPerVisitor is what the baskets paid per visitor, rounded half away
// from zero to a minor unit. It is false without visitors.
func (t Traffic) SpendPerVisitor() (Money, bool) {
	if t.Visitors <= 0 {
		return 0, false
	}
	return Money(math.Round(float64(t.Spend) / float64(t.Visitors))), true
}
