package edge

import (
	"reflect"
	"testing"
	"time"
)

// dayOfIntervals returns the 15-minute intervals of the local day of date
// in loc, as the engine closes them, each with one visitor, one basket of
// 10.00 and occupancy counting up.
func dayOfIntervals(t *testing.T, loc *time.Location, date string) []Traffic {
	t.Helper()
	day, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		t.Fatal(err)
	}
	end := day.AddDate(0, 0, 1)
	var ts []Traffic
	for start := IntervalStart(day, loc, 15*time.Minute); start.Before(end); {
		next := NextInterval(start, loc, 15*time.Minute)
		ts = append(ts, Traffic{Start: start, End: next, Day: date, In: 1, Visitors: 1, Baskets: 1, Spend: 1000,
			Currency: "EUR", Occupancy: len(ts) + 1, Peak: len(ts) + 1})
		start = next
	}
	return ts
}

func TestByHourOnDaysClocksChange(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, date string
		hours      int      // hour entries
		readings   []string // local clock readings of hours 1 to 4 (index 1..4)
		zones      []string // their zone abbreviations
	}{
		{"ordinary day", "2026-03-28", 24, []string{"01", "02", "03", "04"}, []string{"CET", "CET", "CET", "CET"}},
		{"spring: 02:00 is skipped", "2026-03-29", 23, []string{"01", "03", "04", "05"}, []string{"CET", "CEST", "CEST", "CEST"}},
		{"autumn: 02:00 is repeated", "2026-10-25", 25, []string{"01", "02", "02", "03"}, []string{"CEST", "CEST", "CET", "CET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := dayOfIntervals(t, berlin, tc.date)
			hours := ByHour(ts, berlin)
			if len(hours) != tc.hours {
				t.Fatalf("%d hours, want %d", len(hours), tc.hours)
			}
			for i, h := range hours {
				if h.Visitors != 4 || h.Spend != 4000 || h.Day != tc.date {
					t.Errorf("hour %d (%s): %d visitors, spend %s, day %q; want 4, 40.00, %s",
						i, h.Start.Format("15:04 MST"), h.Visitors, h.Spend, h.Day, tc.date)
				}
				if i > 0 && h.Start.Sub(hours[i-1].Start) != time.Hour {
					t.Errorf("hour %d starts %s after the previous one, want 1h", i, h.Start.Sub(hours[i-1].Start))
				}
				if h.Start.Minute() != 0 || h.Start.Location() != berlin {
					t.Errorf("hour %d starts at %s, want a whole hour in Europe/Berlin", i, h.Start)
				}
				if want := ts[4*i+3]; h.End != want.End || h.Occupancy != want.Occupancy || h.Peak != want.Peak {
					t.Errorf("hour %d: end %s occupancy %d peak %d, want those of its last interval (%s, %d, %d)",
						i, h.End, h.Occupancy, h.Peak, want.End, want.Occupancy, want.Peak)
				}
			}
			for i := range tc.readings {
				h := hours[i+1]
				if got, zone := h.Start.Format("15"), h.Start.Format("MST"); got != tc.readings[i] || zone != tc.zones[i] {
					t.Errorf("hour %d reads %s %s, want %s %s", i+1, got, zone, tc.readings[i], tc.zones[i])
				}
			}
			if sum := SumTraffic(hours); sum.Visitors != len(ts) || !sum.Start.Equal(ts[0].Start) || !sum.End.Equal(ts[len(ts)-1].End) {
				t.Errorf("the hours add up to %d visitors over %s–%s, want %d over the day", sum.Visitors, sum.Start, sum.End, len(ts))
			}
		})
	}
}

func TestByHourOrdersAndSkipsEmptyInput(t *testing.T) {
	if h := ByHour(nil, time.UTC); len(h) != 0 {
		t.Errorf("ByHour(nil) = %v", h)
	}
	at := func(h, m int) time.Time { return time.Date(2026, 11, 24, h, m, 0, 0, time.UTC) }
	ts := []Traffic{
		{Start: at(10, 15), End: at(10, 30), Visitors: 3},
		{Start: at(9, 45), End: at(10, 0), Visitors: 1},
		{Start: at(10, 0), End: at(10, 15), Visitors: 2},
	}
	hours := ByHour(ts, time.UTC)
	if len(hours) != 2 || !hours[0].Start.Equal(at(9, 0)) || hours[0].Visitors != 1 ||
		!hours[1].Start.Equal(at(10, 0)) || hours[1].Visitors != 5 || !hours[1].End.Equal(at(10, 30)) {
		t.Errorf("hours %+v", hours)
	}
}

func TestSumTraffic(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 24, h, m, 0, 0, time.UTC) }
	one, two := 1, 2
	ts := []Traffic{
		{Start: at(10, 0), End: at(10, 15), Day: "2026-11-24", In: 10, Out: 4, StaffIn: 2, StaffOut: 1, Visitors: 8,
			Occupancy: 5, Peak: 7, Clamped: 1, Reset: &one, MemberVisits: 3, Baskets: 2, MemberBaskets: 1,
			Spend: 4550, MemberSpend: 1250, Currency: "EUR", OffersShown: 6, OffersRedeemed: 1, OffersWithheld: 1},
		{Start: at(10, 15), End: at(10, 30), Day: "2026-11-24", In: 5, Out: 9, Visitors: 5,
			Occupancy: 1, Peak: 9, Reset: &two, Baskets: 3, Spend: 1000, Currency: "EUR", OffersShown: 1},
	}
	three := 3
	want := Traffic{Start: at(10, 0), End: at(10, 30), Day: "2026-11-24", In: 15, Out: 13, StaffIn: 2, StaffOut: 1, Visitors: 13,
		Occupancy: 1, Peak: 9, Clamped: 1, Reset: &three, MemberVisits: 3, Baskets: 5, MemberBaskets: 1,
		Spend: 5550, MemberSpend: 1250, Currency: "EUR", OffersShown: 7, OffersRedeemed: 1, OffersWithheld: 1}
	if got := SumTraffic(ts); !reflect.DeepEqual(got, want) {
		t.Errorf("sum\n got %+v\nwant %+v", got, want)
	}
	// Order does not matter; days that differ leave Day empty.
	ts[0].Day = "2026-11-23"
	got := SumTraffic([]Traffic{ts[1], ts[0]})
	if got.Occupancy != 1 || !got.Start.Equal(at(10, 0)) || got.Day != "" {
		t.Errorf("reversed: occupancy %d, start %s, day %q", got.Occupancy, got.Start, got.Day)
	}
	if got := SumTraffic(nil); !reflect.DeepEqual(got, Traffic{}) {
		t.Errorf("SumTraffic(nil) = %+v", got)
	}
}

func TestSumUntil(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 17, h, m, 0, 0, time.UTC) }
	ts := []Traffic{
		{Start: at(9, 0), End: at(9, 15), Visitors: 10, Baskets: 2, Spend: 3000, Occupancy: 6, Peak: 8, Currency: "EUR"},
		{Start: at(9, 15), End: at(9, 30), Visitors: 20, Baskets: 4, Spend: 6000, Occupancy: 11, Peak: 12, Currency: "EUR"},
		{Start: at(9, 30), End: at(9, 45), Visitors: 40, Baskets: 8, Spend: 9000, Occupancy: 15, Peak: 30, Currency: "EUR"},
	}
	for _, tc := range []struct {
		name              string
		until             time.Time
		visitors, baskets int
		spend             Money
		occupancy, peak   int
		end               time.Time
	}{
		{"before the first", at(8, 0), 0, 0, 0, 0, 0, time.Time{}},
		{"at an interval's end", at(9, 30), 30, 6, 9000, 11, 12, at(9, 30)},
		{"a fifth into an interval", at(9, 18), 14, 3, 4200, 6, 8, at(9, 18)},
		{"a third into the first", at(9, 5), 3, 1, 1000, 0, 0, at(9, 5)},
		{"after the last", at(18, 0), 70, 14, 18000, 15, 30, at(9, 45)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := SumUntil(ts, tc.until)
			if s.Visitors != tc.visitors || s.Baskets != tc.baskets || s.Spend != tc.spend ||
				s.Occupancy != tc.occupancy || s.Peak != tc.peak || !s.End.Equal(tc.end) {
				t.Errorf("SumUntil(%s) = %d visitors, %d baskets, %s spent, occupancy %d, peak %d, end %s; want %d, %d, %s, %d, %d, %s",
					tc.until.Format("15:04"), s.Visitors, s.Baskets, s.Spend, s.Occupancy, s.Peak, s.End.Format("15:04"),
					tc.visitors, tc.baskets, tc.spend, tc.occupancy, tc.peak, tc.end.Format("15:04"))
			}
			if tc.visitors > 0 && (s.Currency != "EUR" || !s.Start.Equal(at(9, 0))) {
				t.Errorf("currency %q, start %s", s.Currency, s.Start)
			}
		})
	}
}

func TestConversionAndSpendPerVisitor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tr         Traffic
		conversion float64
		spend      Money
		ok         bool
	}{
		{"no visitors", Traffic{Baskets: 3, Spend: 1000}, 0, 0, false},
		{"a quarter", Traffic{Visitors: 8, Baskets: 2, Spend: 5000}, 0.25, 625, true},
		{"rounded half away from zero", Traffic{Visitors: 8, Baskets: 8, Spend: 1004}, 1, 126, true},
		{"refunds", Traffic{Visitors: 8, Baskets: 1, Spend: -1004}, 0.125, -126, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok1 := tc.tr.Conversion()
			s, ok2 := tc.tr.SpendPerVisitor()
			if c != tc.conversion || s != tc.spend || ok1 != tc.ok || ok2 != tc.ok {
				t.Errorf("conversion %v %v, spend per visitor %s %v; want %v, %s, %v", c, ok1, s, ok2, tc.conversion, tc.spend, tc.ok)
			}
		})
	}
}
