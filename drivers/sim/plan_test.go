package sim

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestPlanDeterministic(t *testing.T) {
	first := func(seed uint64) []edge.Event {
		o := demoOpts(t, 1)
		o.Seed = seed
		p := mustPlan(t, o)
		evs := make([]edge.Event, 0, 5000)
		for range 5000 {
			ev, ok := p.Next()
			if !ok {
				t.Fatal("plan ended early")
			}
			evs = append(evs, ev)
		}
		return evs
	}
	a, b := first(42), first(42)
	if !reflect.DeepEqual(a, b) {
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("event %d differs: %+v vs %+v", i, a[i], b[i])
			}
		}
	}
	if reflect.DeepEqual(a, first(43)) {
		t.Fatal("different seeds gave the same events")
	}
}

// TestPlanDay checks a full simulated Friday of the demo store.
func TestPlanDay(t *testing.T) {
	o := demoOpts(t, 1)
	o.Days = 1
	open, close := friday(t)
	p := mustPlan(t, o)
	evs := drain(t, p)
	st := p.Stats()

	kinds := map[string]string{}
	for _, d := range o.Devices {
		kinds[d.Name] = d.Kind
	}
	cards := map[string]bool{}
	codes := map[string]edge.ScanClass{}
	for _, m := range o.Members {
		cards[string(m.Cards[0])] = true
		codes[m.Loyalty] = edge.ScanLoyalty
		codes[m.List] = edge.ScanList
	}
	in, out := map[string]int{}, map[string]int{}
	unknown := 0
	last := open
	for i, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Time.Before(last) {
			t.Fatalf("event %d at %s before the previous one at %s", i, ev.Time, last)
		}
		last = ev.Time
		if ev.Time.After(close.Add(o.Behaviour.DwellMax + busyFor)) {
			t.Fatalf("event %d at %s, after closing %s + max dwell and queue", i, ev.Time, close)
		}
		want := map[edge.Kind]string{edge.KindDoorCrossing: "sim_door", edge.KindCardRead: "sim_rfid", edge.KindScan: "sim_scanner"}[ev.Kind]
		if kinds[ev.Source] != want {
			t.Fatalf("event %d: %s from %q, a %q", i, ev.Kind, ev.Source, kinds[ev.Source])
		}
		switch ev.Kind {
		case edge.KindDoorCrossing:
			if ev.Crossing.Count != 1 {
				t.Fatalf("event %d: crossing of %d", i, ev.Crossing.Count)
			}
			if ev.Crossing.Dir == edge.In {
				in[ev.Source]++
				if ev.Time.Before(open) || !ev.Time.Before(close.Add(-lastCall)) {
					t.Fatalf("event %d: arrival at %s outside opening hours %s-%s", i, ev.Time, open, close)
				}
			} else {
				out[ev.Source]++
			}
		case edge.KindCardRead:
			if !cards[string(ev.Card.UID)] {
				unknown++
			}
		case edge.KindScan:
			if !validEAN13(ev.Scan.Code) || codes[ev.Scan.Code] != ev.Scan.Class || ev.Scan.Symbology != "]E0" {
				t.Fatalf("event %d: scan %+v is not a member's code", i, *ev.Scan)
			}
		}
	}
	for door, n := range in {
		if out[door] != n {
			t.Errorf("door %s: %d in, %d out", door, n, out[door])
		}
	}
	if len(in) != 2 {
		t.Errorf("crossings at %d doors, want 2", len(in))
	}
	if in["main-door-counter"] <= in["car-park-counter"] {
		t.Errorf("main door %d in, car park %d: the first door should be busiest", in["main-door-counter"], in["car-park-counter"])
	}
	if uint64(unknown) != st.UnknownTaps {
		t.Errorf("%d reads of unknown cards, stats say %d", unknown, st.UnknownTaps)
	}
	if st.Events != uint64(len(evs)) || st.Shoppers != st.Left || st.CardReads != st.MemberTaps+st.UnknownTaps+st.StaffBadges {
		t.Errorf("inconsistent stats %+v for %d events", st, len(evs))
	}
	t.Logf("%+v", st)
	ratio := func(a, b uint64) float64 { return float64(a) / float64(b) }
	for _, c := range []struct {
		what   string
		got    float64
		lo, hi float64
	}{
		{"shoppers per day", float64(st.Shoppers), 1500, 2100},
		{"member share", ratio(st.Members, st.Shoppers), 0.30, 0.40},
		{"conversion", ratio(st.Buyers, st.Shoppers), 0.55, 0.70},
		{"anonymous baskets", ratio(st.Anonymous, st.Checkouts), 0.6, 0.75},
		{"unknown taps", ratio(st.UnknownTaps, st.CardReads), 0.01, 0.06},
		{"scans per member", ratio(st.Scans, st.Members), 0.4, 0.8},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s %.3f outside %.3f..%.3f", c.what, c.got, c.lo, c.hi)
		}
	}
}

// TestPlanCurve checks the time-of-day curve: the evening is busier than
// the morning and lunch busier than mid-afternoon.
func TestPlanCurve(t *testing.T) {
	o := demoOpts(t, 5)
	o.Days = 1
	perHour := map[int]int{}
	for _, ev := range drain(t, mustPlan(t, o)) {
		if ev.Kind == edge.KindDoorCrossing && ev.Crossing.Dir == edge.In {
			perHour[ev.Time.Hour()]++
		}
	}
	t.Logf("arrivals per hour: %v", perHour)
	if !(perHour[8] < perHour[10] && perHour[15] < perHour[12] && perHour[12] < perHour[17] && perHour[20] < perHour[18]) {
		t.Errorf("arrivals per hour %v do not follow the curve", perHour)
	}
}

// TestShopperStory checks many stories directly: each is ordered, starts
// with an In and ends with an Out at the same door; a buyer pays at a lane,
// once, before leaving.
func TestShopperStory(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Opts)
	}{
		{"members", func(o *Opts) { o.Behaviour.MemberShare = 1 }},
		{"anonymous", func(o *Opts) { o.Behaviour.MemberShare = 0 }},
		{"door readers", func(o *Opts) {
			o.Devices = withDoorReaders(o.Devices)
			o.Behaviour.MemberShare = 0.5
			o.Behaviour.DoorTap = 0.8
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := demoOpts(t, 1)
			o.Behaviour.DwellMin = time.Minute // the tightest stories
			tc.edit(&o)
			p := mustPlan(t, o)
			r := rand.New(rand.NewPCG(1, 2))
			t0 := p.Start()
			arrivals := make([]time.Time, 20000)
			for i := range arrivals {
				arrivals[i] = t0.Add(time.Duration(i) * 2 * time.Second)
			}
			lanes := map[string]string{}
			for _, d := range o.Devices {
				lanes[d.Name] = d.Lane
			}
			buyers := 0
			for i, s := range p.shoppers(r, arrivals) {
				if len(s) < 2 {
					t.Fatalf("story %d has %d items", i, len(s))
				}
				first, last := s[0].ev, s[len(s)-1].ev
				if first.Kind != edge.KindDoorCrossing || first.Crossing.Dir != edge.In || s[0].tag&tagArrive == 0 ||
					last.Kind != edge.KindDoorCrossing || last.Crossing.Dir != edge.Out || s[len(s)-1].tag&tagLeave == 0 ||
					first.Source != last.Source {
					t.Fatalf("story %d does not go in and out by one door: %+v", i, s)
				}
				var co *Checkout
				for j := 1; j < len(s); j++ {
					if !s[j].ev.Time.After(s[j-1].ev.Time) {
						t.Fatalf("story %d: item %d at %s not after %s", i, j, s[j].ev.Time, s[j-1].ev.Time)
					}
					if c := s[j].co; c != nil {
						if co != nil {
							t.Fatalf("story %d: two checkouts", i)
						}
						co = c
						if s[j].ev.Time != c.Start || !c.End.After(c.Start) || !c.End.Before(last.Time) || len(c.Lines) == 0 {
							t.Fatalf("story %d: checkout %s-%s with %d lines at %s, leaving at %s", i, c.Start, c.End, len(c.Lines), s[j].ev.Time, last.Time)
						}
					}
				}
				for _, it := range s {
					// Lane events belong to the checkout: the identifying
					// read follows its start, an unknown card precedes it.
					if l := lanes[it.ev.Source]; l != "" && (co == nil || l != co.Lane ||
						it.ev.Time.Before(co.Start.Add(-10*time.Second)) || it.ev.Time.After(co.End)) {
						t.Fatalf("story %d: %s at lane %s outside its checkout %+v", i, it.ev.Kind, l, co)
					}
				}
				if bought := s[len(s)-1].tag&tagBought != 0; bought != (co != nil) {
					t.Fatalf("story %d: bought %v, checkout %+v", i, bought, co)
				}
				if co != nil {
					buyers++
				}
				if d := last.Time.Sub(first.Time); len(s) > 2 && (d < time.Minute || d > o.Behaviour.DwellMax+busyFor) {
					t.Fatalf("story %d: dwell %s", i, d)
				}
			}
			if buyers == 0 {
				t.Fatal("nobody bought")
			}
		})
	}
}

// TestPlanLateStart checks that a simulation starting mid-day has exactly
// the shoppers of the full day who arrive from then on.
func TestPlanLateStart(t *testing.T) {
	o := demoOpts(t, 9)
	o.Days = 1
	full := drain(t, mustPlan(t, o))
	o.Start = o.Start.Add(5*time.Hour + 30*time.Minute) // 14:00
	late := drain(t, mustPlan(t, o))
	if len(late) == 0 || late[0].Time.Before(o.Start) {
		t.Fatalf("late plan starts with %+v", late[:min(1, len(late))])
	}
	in, out := 0, 0
	for _, ev := range late {
		if ev.Kind == edge.KindDoorCrossing {
			if ev.Crossing.Dir == edge.In {
				in++
			} else {
				out++
			}
		}
	}
	if in != out {
		t.Errorf("late start: %d in, %d out", in, out)
	}
	j := 0 // late must be a subsequence of full
	for _, ev := range full {
		if j < len(late) && reflect.DeepEqual(ev, late[j]) {
			j++
		}
	}
	if j != len(late) {
		t.Fatalf("only %d of %d late-start events are in the full day, in order", j, len(late))
	}
}

func TestPlanDefaults(t *testing.T) {
	o := Opts{Devices: []configs.Device{{Name: "door", Kind: "sim_door", Door: "d"}}}
	before := time.Now().UTC()
	p := mustPlan(t, o)
	after := time.Now().UTC()
	want := func(now time.Time) time.Time {
		y, m, d := now.Date()
		return time.Date(y, m, d, 8, 0, 0, 0, time.UTC)
	}
	if s := p.Start(); !s.Equal(want(before)) && !s.Equal(want(after)) {
		t.Errorf("zero start resolved to %s, want today 08:00 UTC", s)
	}
	ev, ok := p.Next()
	if !ok || ev.Kind != edge.KindDoorCrossing || ev.Source != "door" || ev.Time.Before(p.Start()) {
		t.Fatalf("first event %+v, %v", ev, ok)
	}
	if ev.Time.Location() != time.UTC {
		t.Errorf("event time in %s, want UTC", ev.Time.Location())
	}
}

// TestPlanNeverClosing runs a store without hours (open around the clock,
// as configs.Store.OpeningOn says) over two days: shoppers of one day are
// still in the store after midnight when the next day's arrive.
func TestPlanNeverClosing(t *testing.T) {
	o := demoOpts(t, 3)
	o.Hours = configs.Store{}.OpeningOn
	o.Location = time.UTC
	o.Start = time.Date(2025, 6, 13, 0, 0, 0, 0, time.UTC)
	o.Days = 2
	evs := drain(t, mustPlan(t, o))
	balance := 0
	midnight := o.Start.AddDate(0, 0, 1)
	var before, after int // arrivals either side of the second midnight
	for i, ev := range evs {
		if i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Fatalf("event %d goes back in time", i)
		}
		if ev.Kind != edge.KindDoorCrossing {
			continue
		}
		if ev.Crossing.Dir == edge.In {
			balance++
			if ev.Time.Before(midnight) {
				before++
			} else {
				after++
			}
		} else {
			balance--
		}
		if balance < 0 {
			t.Fatalf("event %d: more out than in", i)
		}
	}
	if balance != 0 || before == 0 || after == 0 {
		t.Errorf("balance %d, arrivals %d on day 1 and %d on day 2", balance, before, after)
	}
}

func TestPlanEnds(t *testing.T) {
	o := demoOpts(t, 1)
	o.Hours = func(time.Time) (time.Time, time.Time, bool) { return time.Time{}, time.Time{}, false }
	if ev, ok := mustPlan(t, o).Next(); ok {
		t.Fatalf("a store that never opens produced %+v", ev)
	}

	// A Sunday is short: fewer shoppers, all within 09:00-13:00.
	o = demoOpts(t, 1)
	o.Start = time.Date(2025, 6, 15, 0, 0, 0, 0, o.Location)
	o.Days = 1
	p := mustPlan(t, o)
	evs := drain(t, p)
	if n := p.Stats().Shoppers; n < 200 || n > 900 {
		t.Errorf("%d shoppers on a Sunday morning", n)
	}
	if first := evs[0].Time; first.Hour() < 9 {
		t.Errorf("first Sunday event at %s", first)
	}
}

func TestPlanWithoutMembers(t *testing.T) {
	o := demoOpts(t, 1)
	o.Members = nil
	o.Days = 1
	p := mustPlan(t, o)
	drain(t, p)
	if st := p.Stats(); st.Members != 0 || st.CardReads != 0 || st.Scans != 0 || st.Shoppers == 0 {
		t.Errorf("without members: %+v", st)
	}
}

func TestNewPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Opts)
		want string
	}{
		{"no door", func(o *Opts) { o.Devices = o.Devices[:8] }, "no sim_door"},
		{"negative speed", func(o *Opts) { o.Speed = -1 }, "speed"},
		{"negative days", func(o *Opts) { o.Days = -1 }, "days"},
		{"negative arrivals", func(o *Opts) { o.ArrivalsPerDay = -5 }, "arrivals"},
		{"share above 1", func(o *Opts) { o.Behaviour.MemberShare = 1.5 }, "member share"},
		{"dwell order", func(o *Opts) { o.Behaviour.DwellMax = time.Minute }, "dwell"},
		{"short dwell", func(o *Opts) { o.Behaviour.DwellMin = time.Second }, "dwell"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := demoOpts(t, 1)
			tc.edit(&o)
			_, err := NewPlan(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewPlan: %v, want an error about %q", err, tc.want)
			}
			if _, err := New(o); err == nil {
				t.Fatal("New accepted what NewPlan refused")
			}
		})
	}
}

func BenchmarkPlanDay(b *testing.B) {
	loc := time.UTC
	open := time.Date(2025, 6, 13, 8, 0, 0, 0, loc)
	o := DefaultOpts
	o.Start = open
	o.Days = 1
	o.Devices = demoDevices()
	o.Members = Members(500, 1, open)
	b.ReportAllocs()
	for b.Loop() {
		p, err := NewPlan(o)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, ok := p.Next(); ok; _, ok = p.Next() {
			n++
		}
		b.ReportMetric(float64(n), "events/day")
	}
}
