package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // Europe/Berlin wherever the tests run

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/redcarpet-retail/redcarpet/drivers/door/beams"
	"github.com/redcarpet-retail/redcarpet/drivers/door/counter"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/edge"
)

var update = flag.Bool("update", false, "rewrite testdata/traffic/*.golden from the current output")

var berlin = func() *time.Location { l, _ := time.LoadLocation("Europe/Berlin"); return l }()

// A traffic script (testdata/traffic/*.txt) drives an edge.Tracker through
// a scripted day inside a synctest bubble whose clock follows the script.
// Header lines configure the tracker:
//
//	tz Europe/Berlin      the store's time zone
//	interval 15m          counting interval
//	daystart 04:00        trading day start
//	closing 21:30         closing reset
//	window 5s             staff window
//	gap 2h                visit gap
//	doors a b             doors
//	beams b               door b is counted by an IR beam pair (drivers/door/beams)
//	counter c             door c is counted by a people counter's pushes (drivers/door/counter)
//
// Timed lines are "[DATE ]TIME[OFFSET] COMMAND ARGS": DATE (YYYY-MM-DD)
// changes the current date, TIME is HH:MM or HH:MM:SS on it, OFFSET
// (+02:00) picks one of the two times of the hour the clocks repeat. The
// bubble's clock moves to the time, the tracker advances to it, then:
//
//	advance                       nothing more
//	cross DOOR in|out N [at=TIME] N people cross (stamped at TIME, else now)
//	badge DOOR                    a staff card read at DOOR
//	seen MEMBER zone=Z|lane=L|door=D  a member recognised there
//	basket [MEMBER] AMOUNT        a basket closed (a member's, or anonymous)
//	shown | redeemed | withheld   an offer exposure, redemption, holdout
//	forget MEMBER                 the member was erased
//	beams DOOR STEP...            beam edges through the real driver: A+ breaks
//	                              beam A, B- clears B, a duration waits
//	counter DOOR in=N out=M       the door's counter pushes its registers
//	restart                       the tracker goes through a checkpoint and
//	                              resumes (it was off since the previous line)
//
// Lines starting with # are comments.
type script struct {
	opts    edge.TrafficOptions
	beams   map[string]bool
	counter map[string]bool
	lines   []string // timed lines
}

func readScript(t *testing.T, path string) *script {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &script{beams: map[string]bool{}, counter: map[string]bool{}, opts: edge.TrafficOptions{Location: time.UTC, Currency: "EUR"}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line[0] >= '0' && line[0] <= '9' {
			s.lines = append(s.lines, line)
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		var err error
		switch key {
		case "tz":
			s.opts.Location, err = time.LoadLocation(val)
		case "interval":
			s.opts.Interval, err = time.ParseDuration(val)
		case "window":
			s.opts.StaffWindow, err = time.ParseDuration(val)
		case "gap":
			s.opts.VisitGap, err = time.ParseDuration(val)
		case "daystart":
			s.opts.DayStart, err = clockOffset(val)
		case "closing":
			s.opts.Closing, err = clockOffset(val)
			if s.opts.Closing == 0 {
				s.opts.Closing = 24 * time.Hour
			}
		case "doors":
			s.opts.Doors = strings.Fields(val)
		case "beams":
			s.beams[val] = true
		case "counter":
			s.counter[val] = true
		default:
			err = fmt.Errorf("unknown setting %q", key)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func clockOffset(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

var stampRE = regexp.MustCompile(`^(?:(\d{4}-\d\d-\d\d) )?(\d\d:\d\d(?::\d\d)?)([+-]\d\d:\d\d)? +(.*)$`)

// at resolves TIME[OFFSET] on date in loc.
func at(date, clock, offset string, loc *time.Location) (time.Time, error) {
	if len(clock) == 5 {
		clock += ":00"
	}
	if offset != "" {
		t, err := time.Parse(time.RFC3339, date+"T"+clock+offset)
		return t.In(loc), err
	}
	return time.ParseInLocation(time.DateTime, date+" "+clock, loc)
}

// rig plays a script inside the bubble.
type rig struct {
	t       *testing.T
	s       *script
	tr      *edge.Tracker
	loc     *time.Location
	evs     []edge.Event
	counter *counter.Handler
	mu      sync.Mutex
	pushed  []edge.Event
}

const counterToken = "0123456789abcdef0123456789abcdef"

func newRig(t *testing.T, s *script) *rig {
	r := &rig{t: t, s: s, tr: edge.NewTracker(s.opts), loc: s.opts.Location}
	var counters []counter.Counter
	for door := range s.counter {
		counters = append(counters, counter.Counter{Name: door, CounterID: door, Token: counterToken})
	}
	if len(counters) > 0 {
		h, err := counter.NewHandler(counters, &counter.MemoryBaselines{}, func(_ context.Context, ev edge.Event) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.pushed = append(r.pushed, ev)
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.counter = h
	}
	return r
}

// beams plays steps on an IR beam pair of door through drivers/door/beams
// and returns the crossings it sent. The driver runs only meanwhile: its
// test pins poll every 250 ms, too often for a day of fake time.
func (r *rig) beams(door string, steps []string) []edge.Event {
	t := r.t
	// As drivers/door/beams tests do: gpiotest pins whose edges the
	// source reads, the sensors high while a beam is broken.
	a := &gpiotest.Pin{N: door + "-A", L: gpio.Low, EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	b := &gpiotest.Pin{N: door + "-B", L: gpio.Low, EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	src, err := gpiopair.FromPins(a, b, gpio.Float, gpio.BothEdges)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c, err := beams.New(src, &beams.Opts{Name: door})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan edge.Event, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	for _, step := range steps {
		if d, err := time.ParseDuration(step); err == nil {
			time.Sleep(d)
			continue
		}
		p := map[byte]*gpiotest.Pin{'A': a, 'B': b}[step[0]]
		if p == nil || len(step) != 2 || (step[1] != '+' && step[1] != '-') {
			t.Fatalf("bad beam step %q", step)
		}
		p.EdgesChan <- gpio.Level(step[1] == '+')
	}
	time.Sleep(100 * time.Millisecond) // beyond the debounce
	synctest.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var evs []edge.Event
	for len(out) > 0 {
		if ev := <-out; ev.Kind == edge.KindDoorCrossing {
			evs = append(evs, ev)
		}
	}
	return evs
}

// run plays the script and returns every event the tracker emitted.
func (r *rig) run() []edge.Event {
	t := r.t
	date := ""
	for _, line := range r.s.lines {
		m := stampRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad line %q", line)
		}
		if m[1] != "" {
			date = m[1]
		}
		when, err := at(date, m[2], m[3], r.loc)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if d := time.Until(when); d < 0 {
			t.Fatalf("%q: the script went back in time (now %s)", line, time.Now().In(r.loc))
		} else {
			time.Sleep(d)
		}
		now := time.Now()
		f := strings.Fields(m[4])
		if f[0] == "restart" {
			raw, err := json.Marshal(r.tr)
			if err != nil {
				t.Fatal(err)
			}
			r.tr = edge.NewTracker(r.s.opts)
			if err := json.Unmarshal(raw, r.tr); err != nil {
				t.Fatal(err)
			}
			r.evs = append(r.evs, r.tr.Resume(now)...)
			continue
		}
		r.evs = append(r.evs, r.tr.Advance(now)...)
		r.do(line, f, now)
	}
	return r.evs
}

func (r *rig) do(line string, f []string, now time.Time) {
	t := r.t
	bad := func() { t.Fatalf("bad command %q", line) }
	switch f[0] {
	case "advance":
	case "cross":
		if len(f) < 4 {
			bad()
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			bad()
		}
		stamp := now
		if len(f) == 5 && strings.HasPrefix(f[4], "at=") {
			ymd := now.In(r.loc).Format(time.DateOnly)
			if stamp, err = at(ymd, strings.TrimPrefix(f[4], "at="), "", r.loc); err != nil {
				bad()
			}
		}
		if !r.tr.Cross(stamp, f[1], edge.Direction(f[2]), n) {
			t.Errorf("%q: crossing refused", line)
		}
	case "badge":
		if !r.tr.Badge(now, f[1]) {
			t.Errorf("%q: badge refused", line)
		}
	case "seen":
		zone, lane, door := "", "", ""
		k, v, _ := strings.Cut(f[2], "=")
		switch k {
		case "zone":
			zone = v
		case "lane":
			lane = v
		case "door":
			door = v
		default:
			bad()
		}
		r.tr.Seen(now, f[1], zone, lane, door)
	case "basket":
		member, amount := "", f[1]
		if len(f) == 3 {
			member, amount = f[1], f[2]
		}
		total, err := edge.ParseMoney(amount)
		if err != nil {
			bad()
		}
		r.tr.Observe(&edge.Event{Kind: edge.KindBasket, Time: now, Basket: &edge.BasketClosed{MemberID: member, Total: total}})
	case "shown":
		r.tr.Observe(&edge.Event{Kind: edge.KindOfferShown, Time: now, Exposure: &edge.Exposure{}})
	case "redeemed":
		r.tr.Observe(&edge.Event{Kind: edge.KindRedeemed, Time: now, Redemption: &edge.Redemption{}})
	case "withheld":
		r.tr.Observe(&edge.Event{Kind: edge.KindWithheld, Time: now, Withheld: &edge.Exposure{}})
	case "forget":
		r.tr.Forget(f[1])
	case "beams":
		if !r.s.beams[f[1]] {
			bad()
		}
		crossings := r.beams(f[1], f[2:])
		r.evs = append(r.evs, r.tr.Advance(time.Now())...) // as the engine does, at each batch
		for _, ev := range crossings {
			r.tr.Cross(ev.Time, ev.Source, ev.Crossing.Dir, ev.Crossing.Count)
		}
	case "counter":
		if r.counter == nil || len(f) != 4 {
			bad()
		}
		regs := map[string]int{}
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.Atoi(v)
			if err != nil {
				bad()
			}
			regs[k] = n
		}
		body, _ := json.Marshal(map[string]any{"time": now.UTC().Format(time.RFC3339), "registers": regs})
		req := httptest.NewRequest(http.MethodPost, "/api/v1/counters/"+f[1], bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+counterToken)
		w := httptest.NewRecorder()
		r.counter.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%q: counter push answered %d %s", line, w.Code, w.Body)
		}
		r.mu.Lock()
		pushed := r.pushed
		r.pushed = nil
		r.mu.Unlock()
		for _, ev := range pushed {
			r.tr.Cross(ev.Time, ev.Source, ev.Crossing.Dir, ev.Crossing.Count)
		}
	default:
		bad()
	}
}

// encode writes one event per line.
func encode(t *testing.T, evs []edge.Event) []byte {
	var b bytes.Buffer
	for _, ev := range evs {
		line, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func ofKind(evs []edge.Event, k edge.Kind) []edge.Event {
	var out []edge.Event
	for _, ev := range evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

func traffics(evs []edge.Event) []edge.Traffic {
	var out []edge.Traffic
	for _, ev := range ofKind(evs, edge.KindTraffic) {
		out = append(out, *ev.Traffic)
	}
	return out
}

func dayReports(evs []edge.Event) []edge.TrafficDay {
	var out []edge.TrafficDay
	for _, ev := range ofKind(evs, edge.KindTrafficDay) {
		out = append(out, *ev.Day)
	}
	return out
}

// interval returns the interval starting at start, failing if not one.
func interval(t *testing.T, ts []edge.Traffic, start string) edge.Traffic {
	t.Helper()
	at, err := time.Parse(time.RFC3339, start)
	if err != nil {
		t.Fatal(err)
	}
	var found []edge.Traffic
	for _, tr := range ts {
		if tr.Start.Equal(at) {
			found = append(found, tr)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d intervals start at %s, want 1", len(found), start)
	}
	return found[0]
}

func resetOf(tr edge.Traffic) int {
	if tr.Reset == nil {
		return -1
	}
	return *tr.Reset
}

// TestTrafficGolden plays each script in testdata/traffic, compares the
// events with its golden file (go test ./edge -run Golden -update rewrites
// them), and checks the key figures in code.
func TestTrafficGolden(t *testing.T) {
	checks := map[string]func(t *testing.T, evs []edge.Event){
		"staff":     checkStaffDay,
		"latenight": checkLateNight,
		"spring":    checkSpring,
		"autumn":    checkAutumn,
		"restart":   checkRestart,
	}
	paths, err := filepath.Glob(filepath.Join("testdata", "traffic", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			check := checks[name]
			if check == nil {
				t.Fatalf("no checks for %s: add them to TestTrafficGolden", name)
			}
			s := readScript(t, path)
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, s)
				evs := r.run()
				for i, ev := range evs {
					if err := ev.Validate(); err != nil {
						t.Errorf("event %d: %v", i, err)
					}
					if i > 0 && ev.Time.Before(evs[i-1].Time) {
						t.Errorf("event %d (%s at %s) before the one ahead of it (%s)", i, ev.Kind, ev.Time, evs[i-1].Time)
					}
				}
				got := encode(t, evs)
				golden := filepath.Join("testdata", "traffic", name+".golden")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (go test ./edge -run Golden -update creates it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("events differ from %s (go test ./edge -run Golden -update to accept):\n%s", golden, firstDiff(got, want))
				}
				check(t, evs)
			})
		})
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, a, b)
		}
	}
	return ""
}

// checkStaffDay: see testdata/traffic/staff.txt for the story.
func checkStaffDay(t *testing.T, evs []edge.Event) {
	ts := traffics(evs)
	if len(ts) != 18 { // 06:00 (start) to 24:00, hourly
		t.Errorf("%d intervals, want 18", len(ts))
	}
	days := dayReports(evs)
	if len(days) != 1 {
		t.Fatalf("%d days, want 1", len(days))
	}
	d := days[0]
	type fig struct {
		name      string
		got, want any
	}
	for _, f := range []fig{
		{"day", d.Day, "2026-06-15"},
		{"hours", d.End.Sub(d.Start), 24 * time.Hour},
		{"in", d.In, 18}, {"out", d.Out, 11},
		{"staff in", d.StaffIn, 3}, {"staff out", d.StaffOut, 1},
		{"visitors", d.Visitors, 15},
		{"clamped", d.Clamped, 2},
		{"mismatch", d.Mismatch, 7},
		{"peak", d.Peak, 10},
		// The counter's 11:00 push applies its 4 in before its 1 out:
		// 10 inside for an instant, reached again at 13:00:25.
		{"peak at", d.PeakAt.Format("15:04:05"), "11:00:00"},
		// ∫ occupancy dt by hand, 360 266.7 person-seconds (the beam
		// crossings at 09:00:00.32, 09:05:00.32 and 09:30:00.32), over 15
		// visitors.
		{"dwell (Little)", d.DwellS, int64(24018)},
		{"members", d.Members, 2}, {"member visits", d.MemberVisits, 2},
		{"member dwell", d.MemberDwellS, int64(1495)},
		{"baskets", d.Baskets, 2}, {"member baskets", d.MemberBaskets, 1},
		{"spend", d.Spend, edge.Money(3340)}, {"member spend", d.MemberSpend, edge.Money(2340)},
		{"shown", d.OffersShown, 1}, {"redeemed", d.OffersRedeemed, 1}, {"withheld", d.OffersWithheld, 1},
		{"doors", fmt.Sprint(d.Doors), "[{door-a 6 6 3 1} {door-b 2 1 0 0} {door-c 10 4 0 0}]"},
		{"zones", fmt.Sprint(d.Zones), "[{bakery 2 900} {dairy 1 600}]"},
	} {
		if f.got != f.want {
			t.Errorf("day %s = %v, want %v", f.name, f.got, f.want)
		}
	}
	// The badge read of 08:20 found no crossing: the 08:20:08 one, 8 s
	// later, is a visitor.
	if h8 := interval(t, ts, "2026-06-15T08:00:00+02:00"); h8.In != 5 || h8.StaffIn != 3 || h8.Visitors != 2 || h8.Occupancy != 2 {
		t.Errorf("08:00 interval %+v, want 5 in, 3 staff, 2 visitors, occupancy 2", h8)
	}
	if h6 := interval(t, ts, "2026-06-15T06:00:00+02:00"); h6.Out != 2 || h6.Clamped != 2 || h6.Occupancy != 0 {
		t.Errorf("06:00 interval %+v, want 2 out, both clamped", h6)
	}
	// The beams counted two in and one out; the U-turn nothing.
	for _, ev := range ofKind(evs, edge.KindFootfall) {
		f := ev.Footfall
		if f.Door == "door-b" && f.Start.Hour() == 9 && (f.In != 2 || f.Out != 1) {
			t.Errorf("door-b 09:00 %+v, want 2 in 1 out", f)
		}
		if f.Door == "door-c" && f.Start.Hour() == 11 && (f.In != 4 || f.Out != 1) {
			t.Errorf("door-c 11:00 %+v, want 4 in 1 out after the counter restarted", f)
		}
	}
	// The late crossing (stamped 12:59, handled after 12:00 closed) counts
	// in the oldest interval still open.
	if h13 := interval(t, ts, "2026-06-15T13:00:00+02:00"); h13.In != 1 || h13.Peak != 10 {
		t.Errorf("13:00 interval %+v, want the late crossing", h13)
	}
	if h21 := interval(t, ts, "2026-06-15T21:00:00+02:00"); resetOf(h21) != 7 || h21.Occupancy != 0 {
		t.Errorf("21:00 interval reset %d occupancy %d, want 7 and 0", resetOf(h21), h21.Occupancy)
	}
	visits := ofKind(evs, edge.KindVisit)
	if len(visits) != 2 {
		t.Fatalf("%d visits, want 2", len(visits))
	}
	v1, v2 := visits[0].Visit, visits[1].Visit
	if v1.MemberID != "m1" || v1.Ended != "door" || v1.EntryDoor != "door-a" || v1.ExitDoor != "door-a" || v1.DwellS != 1790 ||
		v1.Baskets != 1 || v1.Spend != 2340 || !slices.Equal(v1.Lanes, []string{"1"}) || len(v1.Zones) != 2 ||
		v1.Zones[0].Zone != "dairy" || v1.Zones[0].DwellS != 600 || v1.Zones[1].DwellS != 600 {
		t.Errorf("m1's visit %+v", v1)
	}
	if v2.MemberID != "m2" || v2.Ended != "gap" || v2.DwellS != 1200 || visits[1].Time.Format("15:04") != "13:20" {
		t.Errorf("m2's visit %+v at %s", v2, visits[1].Time)
	}
}

// checkLateNight: a store closing at 01:00 with trading days from 04:00.
func checkLateNight(t *testing.T, evs []edge.Event) {
	ts := traffics(evs)
	n := 0
	for _, tr := range ts {
		if tr.Day == "2026-06-19" {
			n++
		}
	}
	if n != 96 {
		t.Errorf("%d intervals in the trading day, want 96", n)
	}
	for _, start := range []string{"2026-06-19T23:45:00+02:00", "2026-06-20T00:30:00+02:00", "2026-06-20T03:45:00+02:00"} {
		if tr := interval(t, ts, start); tr.Day != "2026-06-19" {
			t.Errorf("interval %s in trading day %s, want 2026-06-19", start, tr.Day)
		}
	}
	if tr := interval(t, ts, "2026-06-20T00:45:00+02:00"); resetOf(tr) != 2 || tr.Occupancy != 0 {
		t.Errorf("00:45 interval reset %d, occupancy %d; want 2 and 0", resetOf(tr), tr.Occupancy)
	}
	days := dayReports(evs)
	if len(days) != 1 {
		t.Fatalf("%d days, want 1", len(days))
	}
	d := days[0]
	if d.Day != "2026-06-19" || d.Start.Format(time.RFC3339) != "2026-06-19T04:00:00+02:00" || d.End.Format(time.RFC3339) != "2026-06-20T04:00:00+02:00" ||
		d.In != 6 || d.Out != 4 || d.Mismatch != 2 || d.Peak != 6 || d.PeakAt.Format("15:04") != "00:30" {
		t.Errorf("day %+v", d)
	}
}

// checkSpring: 29 March 2026 in Berlin, 23 hours, clocks skip 02:00-03:00.
func checkSpring(t *testing.T, evs []edge.Event) {
	ts := traffics(evs)
	if len(ts) != 92 {
		t.Errorf("%d intervals, want 92", len(ts))
	}
	for _, tr := range ts {
		if h := tr.Start.Hour(); h == 2 {
			t.Errorf("an interval starts at %s: the clocks skip 02:xx", tr.Start)
		}
		if tr.Day != "2026-03-29" {
			t.Errorf("interval %s in day %s", tr.Start, tr.Day)
		}
	}
	// The closing time 02:30 does not exist: the reset happens when the
	// clocks jump, 03:00 CEST, the end of the 01:45 interval.
	if tr := interval(t, ts, "2026-03-29T01:45:00+01:00"); resetOf(tr) != 3 || !tr.End.Equal(time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("01:45 interval %+v, want reset 3, end 03:00 CEST", tr)
	}
	days := dayReports(evs)
	if len(days) != 1 {
		t.Fatalf("%d days, want 1", len(days))
	}
	d := days[0]
	if d.End.Sub(d.Start) != 23*time.Hour || d.In != 4 || d.Out != 2 || d.Clamped != 1 || d.Mismatch != 3 || d.Peak != 3 {
		t.Errorf("day %+v", d)
	}
}

// checkAutumn: 25 October 2026 in Berlin, 25 hours, 02:00-03:00 twice.
func checkAutumn(t *testing.T, evs []edge.Event) {
	ts := traffics(evs)
	if len(ts) != 100 {
		t.Errorf("%d intervals, want 100", len(ts))
	}
	twice := map[string][]string{}
	for _, tr := range ts {
		if tr.Start.Hour() == 2 {
			k := tr.Start.Format("15:04")
			twice[k] = append(twice[k], tr.Start.Format("-07:00"))
		}
	}
	for _, k := range []string{"02:00", "02:15", "02:30", "02:45"} {
		if !slices.Equal(twice[k], []string{"+02:00", "+01:00"}) {
			t.Errorf("intervals at %s have offsets %v, want +02:00 then +01:00", k, twice[k])
		}
	}
	// The closing time 02:30 happens twice: the reset only the first time.
	resets := 0
	for _, tr := range ts {
		if tr.Reset != nil {
			resets++
		}
	}
	if tr := interval(t, ts, "2026-10-25T02:15:00+02:00"); resets != 1 || resetOf(tr) != 3 {
		t.Errorf("%d resets, first-02:15 interval reset %d; want 1 and 3", resets, resetOf(tr))
	}
	if tr := interval(t, ts, "2026-10-25T02:30:00+01:00"); tr.In != 1 || tr.Occupancy != 4 {
		t.Errorf("second 02:30 interval %+v, want 1 in, occupancy 4 (no second reset)", tr)
	}
	days := dayReports(evs)
	if len(days) != 1 {
		t.Fatalf("%d days, want 1", len(days))
	}
	d := days[0]
	if d.End.Sub(d.Start) != 25*time.Hour || d.In != 8 || d.Out != 5 || d.Mismatch != 3 || d.Peak != 4 ||
		d.PeakAt.Format(time.RFC3339) != "2026-10-25T02:40:00+02:00" {
		t.Errorf("day %+v", d)
	}
}

// checkRestart: a restart within the staff window keeps the waiting
// crossing; a night off closes the open interval, invents no intervals,
// reports the day with the closing reset that passed meanwhile.
func checkRestart(t *testing.T, evs []edge.Event) {
	ts := traffics(evs)
	var starts []string
	for _, tr := range ts {
		starts = append(starts, tr.Start.Format("01-02 15:04"))
	}
	if len(ts) < 2 || starts[0] != "06-15 09:00" || starts[1] != "06-16 08:00" {
		t.Errorf("intervals start %v, want 06-15 09:00 then 06-16 08:00 onwards", starts)
	}
	if len(ts) > 0 {
		if h9 := ts[0]; h9.In != 6 || h9.StaffIn != 1 || h9.Out != 1 || h9.Occupancy != 4 {
			t.Errorf("09:00 interval %+v, want 6 in (1 staff, marked after the restart), 1 out, occupancy 4", h9)
		}
	}
	days := dayReports(evs)
	if len(days) != 2 {
		t.Fatalf("%d days, want 2", len(days))
	}
	if d := days[0]; d.Day != "2026-06-15" || d.In != 6 || d.Visitors != 5 || d.Mismatch != 4 || d.DwellS != 504 {
		t.Errorf("first day %+v", d)
	}
	if d := days[1]; d.Day != "2026-06-16" || d.In != 1 || d.Mismatch != 1 {
		t.Errorf("second day %+v", d)
	}
}

// TestTrafficTimes covers where inputs are placed in time.
func TestTrafficTimes(t *testing.T) {
	base := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		stamp    time.Duration // the crossing's stamp, from the handling time
		handled  time.Duration // when it is handled, from the start at 10:00
		interval string        // the interval it counts in
	}{
		{"its own time", -4 * time.Second, 15*time.Minute + 2*time.Second, "10:00"},
		{"the future is now", time.Hour, 5 * time.Minute, "10:00"},
		{"older than the open interval", -20 * time.Minute, 31 * time.Minute, "10:30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := edge.NewTracker(edge.TrafficOptions{Doors: []string{"d"}})
			var evs []edge.Event
			evs = append(evs, tr.Advance(base)...)
			now := base.Add(tt.handled)
			evs = append(evs, tr.Advance(now)...)
			tr.Cross(now.Add(tt.stamp), "d", edge.In, 1)
			evs = append(evs, tr.Advance(base.Add(2*time.Hour))...)
			for _, x := range traffics(evs) {
				want := 0
				if x.Start.Format("15:04") == tt.interval {
					want = 1
				}
				if x.In != want {
					t.Errorf("interval %s in %d, want %d", x.Start.Format("15:04"), x.In, want)
				}
			}
		})
	}
}

// TestStaffMatching covers which crossing a staff badge marks.
func TestStaffMatching(t *testing.T) {
	// step is a crossing (n > 0) or a badge (n == 0) stamped at at after
	// 10:00 and handled then, or at handled when later.
	type step struct {
		at, handled time.Duration
		dir         edge.Direction
		n           int
	}
	s := time.Second
	in := func(at time.Duration, n int) step { return step{at: at, dir: edge.In, n: n} }
	out := func(at time.Duration) step { return step{at: at, dir: edge.Out, n: 1} }
	badge := func(at time.Duration) step { return step{at: at} }
	tests := []struct {
		name              string
		steps             []step
		staffIn, staffOut int
	}{
		{"crossing then badge", []step{in(3*s, 1), badge(5 * s)}, 1, 0},
		{"badge then crossing", []step{badge(1 * s), out(3 * s)}, 0, 1},
		{"badge, no crossing", []step{badge(1 * s)}, 0, 0},
		{"crossing after the window", []step{badge(4 * s), in(10*s, 1)}, 0, 0},
		{"crossing before the window", []step{in(1*s, 1), badge(7 * s)}, 0, 0},
		{"the most recent before the read", []step{in(1*s, 1), out(3 * s), badge(4 * s), in(6*s, 1)}, 0, 1},
		{"before the read rather than after", []step{in(1*s, 1), badge(4 * s), out(5 * s)}, 1, 0},
		{"one person of a group", []step{in(2*s, 3), badge(3 * s)}, 1, 0},
		{"two badges, two crossings", []step{in(2*s, 1), in(2*s, 1), badge(3 * s), badge(3 * s)}, 2, 0},
		{"two badges, a crossing of two", []step{badge(1 * s), badge(1 * s), in(2*s, 2)}, 2, 0},
		{"one crossing, two badges", []step{in(1*s, 1), badge(2 * s), badge(3 * s)}, 1, 0},
		{"a crossing handled after the read it precedes", []step{badge(4 * s), {at: 2 * s, handled: 5 * s, dir: edge.In, n: 1}}, 1, 0},
	}
	base := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := edge.NewTracker(edge.TrafficOptions{Doors: []string{"d"}})
			tr.Advance(base)
			wantIn, wantOut := 0, 0
			for _, st := range tt.steps {
				tr.Advance(base.Add(max(st.at, st.handled)))
				switch {
				case st.n == 0:
					tr.Badge(base.Add(st.at), "d")
				case st.dir == edge.In:
					tr.Cross(base.Add(st.at), "d", edge.In, st.n)
					wantIn += st.n
				default:
					tr.Cross(base.Add(st.at), "d", edge.Out, st.n)
					wantOut += st.n
				}
			}
			var in, out, sIn, sOut int
			for _, x := range traffics(tr.Advance(base.Add(time.Hour))) {
				in, out, sIn, sOut = in+x.In, out+x.Out, sIn+x.StaffIn, sOut+x.StaffOut
			}
			if in != wantIn || out != wantOut || sIn != tt.staffIn || sOut != tt.staffOut {
				t.Errorf("in %d out %d staff %d/%d, want %d %d staff %d/%d", in, out, sIn, sOut, wantIn, wantOut, tt.staffIn, tt.staffOut)
			}
		})
	}
}

// TestTrafficCheckpoint: a tracker restored from its JSON in the middle of
// a day, with waiting crossings, badges and open visits, goes on exactly
// as the original would have, through the closing reset and midnight.
func TestTrafficCheckpoint(t *testing.T) {
	opts := edge.TrafficOptions{Doors: []string{"a", "b"}, Closing: 21 * time.Hour, Currency: "EUR", Location: berlin}
	base := time.Date(2026, 5, 4, 9, 0, 0, 0, berlin)
	play := func(tr *edge.Tracker, from, to int) []edge.Event {
		var evs []edge.Event
		for i := from; i < to; i++ {
			now := base.Add(time.Duration(i) * 30 * time.Second)
			evs = append(evs, tr.Advance(now)...)
			switch i % 6 {
			case 0:
				tr.Cross(now, "a", edge.In, 1+i%3)
			case 1:
				tr.Badge(now, "a")
			case 2:
				tr.Seen(now, fmt.Sprintf("m%d", i%7), fmt.Sprintf("z%d", i%4), "", "")
			case 3:
				tr.Cross(now, "b", edge.Out, 1)
			case 4:
				tr.Observe(&edge.Event{Kind: edge.KindBasket, Time: now, Basket: &edge.BasketClosed{MemberID: "m1", Total: 100}})
			case 5:
				tr.Seen(now, fmt.Sprintf("m%d", i%11), "", "", "a")
			}
		}
		return evs
	}
	end := base.Add(40 * time.Hour)
	whole := edge.NewTracker(opts)
	want := encode(t, append(play(whole, 0, 2000), whole.Advance(end)...))

	a := edge.NewTracker(opts)
	got := play(a, 0, 1001)
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	b := edge.NewTracker(opts)
	if err := json.Unmarshal(raw, b); err != nil {
		t.Fatal(err)
	}
	got = append(got, play(b, 1001, 2000)...)
	got = append(got, b.Advance(end)...)
	if g := encode(t, got); !bytes.Equal(g, want) {
		t.Errorf("restored tracker differs:\n%s", firstDiff(g, want))
	}
	if n := len(ofKind(got, edge.KindTrafficDay)); n != 2 {
		t.Errorf("%d days, want 2", n)
	}
	if n := len(ofKind(got, edge.KindVisit)); n < 10 {
		t.Errorf("%d visits, want more", n)
	}
}

// TestTodaySharedUntilChanged: Today returns the same value until the
// tracker changes or a second passes.
func TestTodaySharedUntilChanged(t *testing.T) {
	tr := edge.NewTracker(edge.TrafficOptions{Doors: []string{"d"}})
	if tr.Today(time.Now()) != nil {
		t.Error("Today before the first Advance is not nil")
	}
	base := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	tr.Advance(base)
	a := tr.Today(base)
	if b := tr.Today(base.Add(100 * time.Millisecond)); b != a {
		t.Error("Today rebuilt without a change")
	}
	tr.Cross(base, "d", edge.In, 1)
	tr.Advance(base.Add(6 * time.Second))
	c := tr.Today(base.Add(6 * time.Second))
	if c == a || c.Occupancy != 1 || len(c.Intervals) != 1 || c.Intervals[0].In != 1 || !c.Intervals[0].End.Equal(base.Add(6*time.Second)) {
		t.Errorf("Today after a crossing: %+v", c)
	}
	tr.Advance(base.Add(16 * time.Minute))
	d := tr.Today(base.Add(16 * time.Minute))
	if len(d.Intervals) != 2 || d.Intervals[0].In != 1 || d.Intervals[1].In != 0 || d.Peak != 1 || d.Day != "2026-05-04" {
		t.Errorf("Today after an interval: %+v", d)
	}
}

// BenchmarkTrafficCross measures what a crossing costs the engine: placing
// it, matching staff badges, and counting it once it settled, on a busy
// store (a crossing every 100 ms over four doors, a badge every 50
// crossings).
func BenchmarkTrafficCross(b *testing.B) {
	doors := []string{"a", "b", "c", "d"}
	tr := edge.NewTracker(edge.TrafficOptions{Doors: doors, Closing: 21 * time.Hour})
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	tr.Advance(now)
	evs := 0
	for i := 0; b.Loop(); i++ {
		now = now.Add(100 * time.Millisecond)
		dir := edge.In
		if i%2 == 1 {
			dir = edge.Out
		}
		tr.Cross(now, doors[i%4], dir, 1)
		if i%50 == 0 {
			tr.Badge(now, doors[i%4])
		}
		if i%10 == 0 { // the engine's batches
			evs += len(tr.Advance(now))
		}
	}
	_ = evs
}

// TestForgetCountsAMemberOnce: a member erased while a new visit of theirs
// still waits out the staff window is one distinct member of the day, not
// two.
func TestForgetCountsAMemberOnce(t *testing.T) {
	at := time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)
	tr := edge.NewTracker(edge.TrafficOptions{Doors: []string{"main"}})
	seen := func(d time.Duration, zone, door string) {
		tr.Advance(at.Add(d))
		tr.Seen(at.Add(d), "m1", zone, "", door)
	}
	seen(0, "fresh", "")
	seen(10*time.Minute, "", "main") // out by the door
	seen(20*time.Minute, "", "main") // back in: a visit that waits out the staff window
	tr.Forget("m1")
	tr.Advance(at.Add(time.Hour))
	today := tr.Today(at.Add(time.Hour))
	if today.Members != 1 {
		t.Errorf("%d distinct members after the erasure, want 1", today.Members)
	}
	var visits int
	for _, iv := range today.Intervals {
		visits += iv.MemberVisits
	}
	if visits != 2 {
		t.Errorf("%d member visits, want 2", visits)
	}
}
