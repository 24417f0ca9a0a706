package outbox_test

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// interval is the closed 15-minute store interval starting at start.
func interval(start time.Time, visitors int) edge.Event {
	return edge.Event{Kind: edge.KindTraffic, Source: "engine", Time: start.Add(15 * time.Minute),
		Traffic: &edge.Traffic{Start: start, End: start.Add(15 * time.Minute), Day: start.Format(time.DateOnly),
			In: visitors + 1, StaffIn: 1, Visitors: visitors, Baskets: visitors / 2, Spend: edge.Money(visitors) * 1250, Currency: "EUR"}}
}

func tradingDay(start time.Time, visitors int) edge.Event {
	return edge.Event{Kind: edge.KindTrafficDay, Source: "engine", Time: start.AddDate(0, 0, 1),
		Day: &edge.TrafficDay{Day: start.Format(time.DateOnly), Start: start, End: start.AddDate(0, 0, 1), Visitors: visitors,
			Doors: []edge.DoorDay{{Door: "main", In: visitors}}, Zones: []edge.ZoneDwell{{Zone: "fresh", Visits: 3, DwellS: 240}}}}
}

func visitorsOf(ts []edge.Traffic) []int {
	var v []int
	for _, t := range ts {
		v = append(v, t.Visitors)
	}
	return v
}

func trafficBetween(t *testing.T, ob *outbox.Outbox, from, to time.Time) []edge.Traffic {
	t.Helper()
	ts, err := ob.TrafficBetween(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestHistoryOutlivesTheQueue: traffic intervals and days stay on the
// gateway after HQ acknowledged them and the sent bucket forgot them;
// other kinds are not kept; the history survives a restart.
func TestHistoryOutlivesTheQueue(t *testing.T) {
	ob, db, path := open(t)
	ob.SetSentKeep(0)
	day := time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC)
	evs := []edge.Event{
		interval(day.Add(9*time.Hour), 10), footfall("main", 3), exposure("o1"),
		interval(day.Add(9*time.Hour+15*time.Minute), 20), tradingDay(day, 30),
	}
	if err := ob.Commit(evs, []byte(`{"checkpoint":1}`)); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, ob)
	keys := make([]outbox.Key, len(recs))
	for i, r := range recs {
		keys[i] = r.Key()
	}
	if err := ob.Delete(keys); err != nil {
		t.Fatal(err)
	}
	if err := ob.Append([]edge.Event{footfall("main", 1)}); err != nil { // prunes the sent bucket (keep 0)
		t.Fatal(err)
	}
	if st := ob.Stats(); st.Backlog != 1 || st.SentN != 0 {
		t.Fatalf("backlog %d, kept %d: want the acknowledged records gone", st.Backlog, st.SentN)
	}

	check := func(ob *outbox.Outbox) {
		t.Helper()
		ts := trafficBetween(t, ob, day, day.AddDate(0, 0, 1))
		if !slices.Equal(visitorsOf(ts), []int{10, 20}) {
			t.Fatalf("intervals %+v, want the two committed", ts)
		}
		if want := *evs[0].Traffic; !reflect.DeepEqual(normalize(ts[0]), normalize(want)) {
			t.Errorf("interval\n got %+v\nwant %+v", ts[0], want)
		}
		days, err := ob.DaysBetween(day, day.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 1 || days[0].Day != "2026-11-17" || days[0].Visitors != 30 || len(days[0].Doors) != 1 || days[0].Zones[0].DwellS != 240 {
			t.Errorf("days %+v, want 2026-11-17 with 30 visitors", days)
		}
	}
	check(ob)

	ob.Close()
	db.Close()
	db = openDB(t, path)
	defer db.Close()
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	check(ob)
}

// normalize drops the monotonic clock and location, which JSON does not
// keep.
func normalize(t edge.Traffic) edge.Traffic {
	t.Start, t.End = t.Start.UTC(), t.End.UTC()
	return t
}

func TestHistoryRanges(t *testing.T) {
	ob, _, _ := open(t)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	// Two days of intervals, committed out of order, some before 1970 and
	// far ahead, so byte order must be time order for every instant.
	day := time.Date(2026, 11, 17, 0, 0, 0, 0, paris)
	var evs []edge.Event
	for i := 2*96 - 1; i >= 0; i-- {
		evs = append(evs, interval(day.Add(time.Duration(i)*15*time.Minute), i))
	}
	evs = append(evs, interval(time.Date(1969, 7, 20, 20, 0, 0, 0, time.UTC), 1000),
		interval(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 2000))
	ob.SetHistoryKeep(math.MaxInt64) // nothing is pruned here
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []int
	}{
		{"one interval", day.Add(15 * time.Minute), day.Add(30 * time.Minute), []int{1}},
		{"from is inclusive, to exclusive", day.Add(9 * time.Hour), day.Add(10 * time.Hour), []int{36, 37, 38, 39}},
		{"a start inside an interval", day.Add(9*time.Hour + time.Minute), day.Add(9*time.Hour + 31*time.Minute), []int{37, 38}},
		{"across midnight", day.Add(23*time.Hour + 30*time.Minute), day.Add(24*time.Hour + 30*time.Minute), []int{94, 95, 96, 97}},
		{"empty range", day.Add(time.Hour), day.Add(time.Hour), nil},
		{"reversed range", day.Add(2 * time.Hour), day.Add(time.Hour), nil},
		{"before 1970", time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), []int{1000}},
		{"far ahead", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC), []int{2000}},
		{"no days are intervals", day.AddDate(0, 0, 5), day.AddDate(0, 0, 6), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := visitorsOf(trafficBetween(t, ob, tc.from, tc.to)); !slices.Equal(got, tc.want) {
				t.Errorf("TrafficBetween(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
			}
		})
	}
	// 192 intervals read in order.
	all := trafficBetween(t, ob, day, day.AddDate(0, 0, 2))
	if len(all) != 192 || !slices.IsSortedFunc(all, func(a, b edge.Traffic) int { return a.Start.Compare(b.Start) }) {
		t.Errorf("%d intervals over two days, sorted: %v", len(all), slices.IsSortedFunc(all, func(a, b edge.Traffic) int { return a.Start.Compare(b.Start) }))
	}
	if days, err := ob.DaysBetween(day, day.AddDate(0, 0, 2)); err != nil || len(days) != 0 {
		t.Errorf("DaysBetween over intervals only: %v, %v", days, err)
	}
}

func TestHistoryReplacesAnIntervalCommittedAgain(t *testing.T) {
	ob, _, _ := open(t)
	start := time.Date(2026, 11, 17, 9, 0, 0, 0, time.UTC)
	for _, v := range []int{5, 7} {
		if err := ob.Append([]edge.Event{interval(start, v)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := visitorsOf(trafficBetween(t, ob, start, start.Add(time.Hour))); !slices.Equal(got, []int{7}) {
		t.Errorf("intervals %v, want the last copy only", got)
	}
	if st := ob.Stats(); st.Backlog != 2 {
		t.Errorf("backlog %d: both events still go to HQ", st.Backlog)
	}
}

// TestHistoryIsPrunedBehindTheNewest: records more than the kept window
// behind the newest one committed go, a bounded number per commit.
func TestHistoryIsPrunedBehindTheNewest(t *testing.T) {
	ob, _, _ := open(t)
	first := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var evs []edge.Event
	for d := range 40 {
		day := first.AddDate(0, 0, d)
		evs = append(evs, tradingDay(day, d))
		for i := range 96 {
			evs = append(evs, interval(day.Add(time.Duration(i)*15*time.Minute), d))
		}
	}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	newest := first.AddDate(0, 0, 40).Add(-15 * time.Minute)
	cutoff := newest.Add(-outbox.DefaultHistoryKeep)
	far := first.AddDate(-1, 0, 0)
	// One commit prunes at most 256 intervals: the oldest ones.
	ts := trafficBetween(t, ob, far, cutoff)
	if want := 5*96 - 1 - 256; len(ts) != want || !ts[0].Start.Equal(first.Add(256*15*time.Minute)) {
		t.Fatalf("%d intervals before the cutoff after one commit, want %d, the oldest gone first", len(ts), want)
	}
	days, _ := ob.DaysBetween(far, first.AddDate(1, 0, 0))
	if len(days) != 35 || days[0].Day != "2026-10-06" {
		t.Errorf("%d days kept from %s, want 35 from 2026-10-06", len(days), days[0].Day)
	}

	// The next commits that carry history prune the rest; the window
	// itself is kept whole.
	for i := range 2 {
		if err := ob.Append([]edge.Event{interval(newest.Add(-time.Duration(i)*15*time.Minute), 99)}); err != nil {
			t.Fatal(err)
		}
	}
	if ts := trafficBetween(t, ob, far, cutoff); len(ts) != 0 {
		t.Errorf("%d intervals before the cutoff, want none", len(ts))
	}
	if ts := trafficBetween(t, ob, cutoff, newest.Add(time.Hour)); len(ts) != 35*96+1 {
		t.Errorf("%d intervals in the kept window, want %d", len(ts), 35*96+1)
	}

	// Commits without history prune nothing, however old the records.
	ob.SetHistoryKeep(time.Hour)
	if err := ob.Append([]edge.Event{footfall("main", 1)}); err != nil {
		t.Fatal(err)
	}
	if ts := trafficBetween(t, ob, cutoff, newest.Add(time.Hour)); len(ts) != 35*96+1 {
		t.Errorf("%d intervals after a commit without history, want %d", len(ts), 35*96+1)
	}
}

// TestErasureLeavesHistory: Purge never reaches the history (it holds no
// member ids, see TestHistoryHoldsNoMemberIDs).
func TestErasureLeavesHistory(t *testing.T) {
	ob, _, _ := open(t)
	start := time.Date(2026, 11, 17, 9, 0, 0, 0, time.UTC)
	if err := ob.Append([]edge.Event{interval(start, 4), exposure("o1"), tradingDay(start.Truncate(24*time.Hour), 4)}); err != nil {
		t.Fatal(err)
	}
	n, err := ob.Purge(func(edge.Event) bool { return true })
	if err != nil || n != 3 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if got := visitorsOf(trafficBetween(t, ob, start, start.Add(time.Hour))); !slices.Equal(got, []int{4}) {
		t.Errorf("history after purge %v, want the interval", got)
	}
}

// TestHistoryHoldsNoMemberIDs: every text field of the kept records is
// reviewed. Counts and amounts of members are fine; an identifier is not:
// an erasure would have to reach the history. A new string field fails
// here until it is reviewed and listed.
func TestHistoryHoldsNoMemberIDs(t *testing.T) {
	reviewed := map[string]bool{
		"Traffic.Day": true, "Traffic.Currency": true,
		"TrafficDay.Day": true, "TrafficDay.Currency": true,
		"DoorDay.Door": true, "ZoneDwell.Zone": true,
	}
	var walk func(typ reflect.Type)
	seen := map[reflect.Type]bool{}
	walk = func(typ reflect.Type) {
		held := typ
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
			if typ.Kind() == reflect.Map {
				walk(typ.Key())
			}
			typ = typ.Elem()
		}
		if typ.Kind() == reflect.String && held != typ {
			t.Errorf("strings held in a %s: review them", held)
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeFor[time.Time]() {
			return
		}
		seen[typ] = true
		for f := range typ.Fields() {
			name := typ.Name() + "." + f.Name
			switch k := f.Type.Kind(); {
			case k == reflect.String && !reviewed[name]:
				t.Errorf("%s is text (%s) that no one reviewed: if it can identify a member, it must not be kept", name, f.Type)
			case k == reflect.Interface:
				t.Errorf("%s can hold anything", name)
			default:
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[edge.Traffic]())
	walk(reflect.TypeFor[edge.TrafficDay]())
}

// TestHistorySurvivesAClockJumpingForward: a record dated a year ahead (a
// wrong clock, since corrected) does not prune the real history behind it.
func TestHistorySurvivesAClockJumpingForward(t *testing.T) {
	ob, _, _ := open(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var evs []edge.Event
	for d := range 30 {
		evs = append(evs, tradingDay(today.AddDate(0, 0, -d), d))
	}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	if err := ob.Append([]edge.Event{tradingDay(today.AddDate(1, 0, 0), 1), interval(today.AddDate(1, 0, 0), 1)}); err != nil {
		t.Fatal(err)
	}
	days, err := ob.DaysBetween(today.AddDate(0, 0, -40), today.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 30 {
		t.Errorf("%d of the last 30 days kept after a record a year ahead, want 30", len(days))
	}
}
