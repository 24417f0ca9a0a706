package signage

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// quarter is the 15-minute store interval starting at start.
func quarter(start time.Time, visitors, baskets int, spend edge.Money) edge.Traffic {
	return edge.Traffic{Start: start, End: start.Add(15 * time.Minute), Day: start.Format(time.DateOnly),
		In: visitors, Visitors: visitors, Baskets: baskets, Spend: spend, Currency: "EUR"}
}

// keep commits intervals and days to the outbox as the engine does, so
// they are in its history.
func keep(t *testing.T, ob *outbox.Outbox, ts []edge.Traffic, days ...edge.TrafficDay) {
	t.Helper()
	var evs []edge.Event
	for i := range ts {
		evs = append(evs, edge.Event{Kind: edge.KindTraffic, Source: "engine", Time: ts[i].End, Traffic: &ts[i]})
	}
	for i := range days {
		evs = append(evs, edge.Event{Kind: edge.KindTrafficDay, Source: "engine", Time: days[i].End, Day: &days[i]})
	}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
}

func getDashboard(t *testing.T, url string) (dashboard, map[string]any) {
	t.Helper()
	resp, body := get(t, url+"/api/v1/dashboard")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/api/v1/dashboard: %s %s\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var d dashboard
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	return d, raw
}

func ptr[T any](v T) *T { return &v }

type hourWant struct {
	label           string
	today, lastWeek *int
	now             bool
}

func checkHours(t *testing.T, got []dashHour, want []hourWant) {
	t.Helper()
	var g []hourWant
	for _, h := range got {
		g = append(g, hourWant{h.Label, h.Today, h.LastWeek, h.Now})
	}
	if !reflect.DeepEqual(g, want) {
		show := func(hs []hourWant) string {
			var b strings.Builder
			for _, h := range hs {
				v := func(p *int) string {
					if p == nil {
						return "-"
					}
					return strconv.Itoa(*p)
				}
				b.WriteString(h.label + "=" + v(h.today) + "/" + v(h.lastWeek))
				if h.now {
					b.WriteString("(now)")
				}
				b.WriteString(" ")
			}
			return b.String()
		}
		t.Errorf("hours (label=today/last week)\n got %s\nwant %s", show(g), show(want))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestDashboardFigures: today so far, from the engine's intervals and the
// history, against the same Tuesday last week up to the same time of day
// and in full.
func TestDashboardFigures(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	_, ob := openTestDB(t)
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, paris) }

	// Last Tuesday, 08:00 to 20:00: ten visitors, two baskets of 25.00,
	// four offers shown and one redeemed per quarter; the 10:00 quarter
	// had fifteen visitors and three baskets; the peak came at 14:00.
	var lastWeek []edge.Traffic
	for s := at(17, 8, 0); s.Before(at(17, 20, 0)); s = s.Add(15 * time.Minute) {
		q := quarter(s, 10, 2, 5000)
		q.OffersShown, q.OffersRedeemed, q.MemberBaskets, q.MemberSpend, q.Occupancy, q.Peak = 4, 1, 1, 2000, 20, 30
		switch s {
		case at(17, 9, 45):
			q.Occupancy = 25
		case at(17, 10, 0):
			q.Visitors, q.Baskets, q.Spend = 15, 3, 7500
		case at(17, 14, 0):
			q.Peak = 60
		}
		lastWeek = append(lastWeek, q)
	}
	keep(t, ob, lastWeek, edge.TrafficDay{Day: "2026-11-17", Start: at(17, 0, 0), End: at(18, 0, 0), Visitors: 485, Peak: 77, Members: 42, Currency: "EUR"})

	// Today: the history holds 09:00 and an old copy of 09:15; the engine
	// holds 09:15 to 10:00 and the open quarter since 10:00.
	h0900, stale := quarter(at(24, 9, 0), 12, 3, 3600), quarter(at(24, 9, 15), 999, 99, 99900)
	h0900.OffersShown, h0900.OffersRedeemed = 2, 1
	keep(t, ob, []edge.Traffic{h0900, stale})
	live := []edge.Traffic{
		quarter(at(24, 9, 15), 20, 5, 10000), quarter(at(24, 9, 30), 8, 2, 2000),
		quarter(at(24, 9, 45), 10, 0, 0), quarter(at(24, 10, 0), 5, 1, 1234),
	}
	live[0].MemberBaskets, live[0].MemberSpend, live[0].MemberVisits = 2, 4000, 3
	for i := range live {
		live[i].OffersShown, live[i].OffersRedeemed, live[i].Peak = 2, 1, 35
	}
	now := at(24, 10, 7)
	live[3].End = now // the open interval so far
	stats := edge.Stats{At: now, Occupancy: 30,
		Devices: []edge.DeviceStatus{
			{Device: "door-main", Kind: "ir_beams", State: edge.DeviceUp},
			{Device: "lane-2-scanner", Kind: "hid_scanner", State: edge.DeviceDown, Detail: "open /dev/hidraw2: no such device"},
		},
		Today: &edge.TrafficToday{Day: "2026-11-24", Intervals: live, Occupancy: 33, Peak: 41, Members: 6},
	}
	o := testOptions()
	o.Location, o.History = paris, ob
	o.Stats = func() edge.Stats { return stats }
	_, ts := newTestServer(t, o, nil)
	d, raw := getDashboard(t, ts.URL)

	if d.Store != "Lyon Part-Dieu" || d.TimeZone != "Europe/Paris" || d.Clock != "Tue 24 Nov, 10:07" || d.Time != "10:07" ||
		!d.At.Equal(now) || d.Currency != "EUR" || d.RefreshS != 15 || d.HistoryError != "" {
		t.Errorf("header: store %q, zone %q, clock %q, time %q, at %s, currency %q, refresh %d, error %q",
			d.Store, d.TimeZone, d.Clock, d.Time, d.At, d.Currency, d.RefreshS, d.HistoryError)
	}
	if d.Today.Day != "2026-11-24" || d.Today.Label != "Tue 24 Nov" || !d.Today.HasData || !d.Today.Until.Equal(now) {
		t.Errorf("today: %q %q has data %v until %s", d.Today.Day, d.Today.Label, d.Today.HasData, d.Today.Until)
	}
	if d.LastWeek.Day != "2026-11-17" || d.LastWeek.Label != "Tue 17 Nov" || !d.LastWeek.HasData || !d.LastWeek.Until.Equal(at(17, 10, 7)) {
		t.Errorf("last week: %q %q has data %v until %s", d.LastWeek.Day, d.LastWeek.Label, d.LastWeek.HasData, d.LastWeek.Until)
	}

	// Today: 55 visitors, 11 baskets, 168.34 taken.
	want := dashFigures{
		Visitors: 55, Baskets: 11, Conversion: ptr(11.0 / 55), Spend: 16834, SpendPerVisitor: ptr(edge.Money(306)),
		OffersShown: 10, OffersRedeemed: 5, RedemptionRate: ptr(5.0 / 10), MemberVisits: 3, MemberBaskets: 2, MemberSpend: 4000,
		MemberShare: ptr(2.0 / 11), MemberSpendShare: ptr(4000.0 / 16834), Members: ptr(6), Occupancy: 33, Peak: 41,
	}
	if !reflect.DeepEqual(d.Today.SoFar, want) {
		t.Errorf("today so far\n got %s\nwant %s", must(json.Marshal(d.Today.SoFar)), must(json.Marshal(want)))
	}
	// Last week up to 10:07: eight quarters, and 7/15 of the 10:00 one.
	want = dashFigures{
		Visitors: 87, Baskets: 17, Conversion: ptr(17.0 / 87), Spend: 43500, SpendPerVisitor: ptr(edge.Money(500)),
		OffersShown: 34, OffersRedeemed: 8, RedemptionRate: ptr(8.0 / 34), MemberBaskets: 8, MemberSpend: 16933,
		MemberShare: ptr(8.0 / 17), MemberSpendShare: ptr(16933.0 / 43500), Occupancy: 25, Peak: 30,
	}
	if !reflect.DeepEqual(d.LastWeek.SoFar, want) {
		t.Errorf("last week up to the same time\n got %s\nwant %s", must(json.Marshal(d.LastWeek.SoFar)), must(json.Marshal(want)))
	}
	// The whole day, with the trading day's peak and members.
	want = dashFigures{
		Visitors: 485, Baskets: 97, Conversion: ptr(97.0 / 485), Spend: 242500, SpendPerVisitor: ptr(edge.Money(500)),
		OffersShown: 192, OffersRedeemed: 48, RedemptionRate: ptr(48.0 / 192), MemberBaskets: 48, MemberSpend: 96000,
		MemberShare: ptr(48.0 / 97), MemberSpendShare: ptr(96000.0 / 242500), Members: ptr(42), Occupancy: 20, Peak: 77,
	}
	if d.LastWeek.WholeDay == nil || !reflect.DeepEqual(*d.LastWeek.WholeDay, want) {
		t.Errorf("last week's whole day\n got %s\nwant %s", must(json.Marshal(d.LastWeek.WholeDay)), must(json.Marshal(want)))
	}
	if _, ok := raw["today"].(map[string]any)["whole_day"]; ok {
		t.Error("today has a whole day")
	}
	if got := raw["today"].(map[string]any)["so_far"].(map[string]any)["spend_per_visitor"]; got != 3.06 {
		t.Errorf("spend per visitor in JSON: %v, want 3.06 (major units)", got)
	}

	hours := []hourWant{{"08:00", nil, ptr(40), false}, {"09:00", ptr(50), ptr(40), false}, {"10:00", ptr(5), ptr(45), true}}
	for h := 11; h < 20; h++ {
		hours = append(hours, hourWant{time.Date(0, 1, 1, h, 0, 0, 0, time.UTC).Format("15:04"), nil, ptr(40), false})
	}
	checkHours(t, d.Hours, hours)

	wantDevices := []dashDevice{
		{Device: "door-main", Kind: "ir_beams", State: "up"},
		{Device: "lane-2-scanner", Kind: "hid_scanner", State: "down", Detail: "open /dev/hidraw2: no such device"},
	}
	if !reflect.DeepEqual(d.Devices, wantDevices) {
		t.Errorf("devices %+v", d.Devices)
	}
}

// TestDashboardEmpty: a new gateway: no engine figures, no history. The
// document is complete, ratios are null and last week says it has no data.
func TestDashboardEmpty(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	_, ob := openTestDB(t)
	o := testOptions()
	o.TimeZone, o.History = "Europe/Paris", ob // Location from TimeZone
	o.Now = func() time.Time { return time.Date(2026, 11, 24, 8, 59, 0, 0, paris) }
	_, ts := newTestServer(t, o, nil)
	d, raw := getDashboard(t, ts.URL)
	if d.Today.HasData || d.LastWeek.HasData || d.LastWeek.Label != "Tue 17 Nov" || d.Clock != "Tue 24 Nov, 08:59" {
		t.Errorf("today has data %v, last week (%s) %v, clock %q", d.Today.HasData, d.LastWeek.Label, d.LastWeek.HasData, d.Clock)
	}
	if len(d.Hours) != 0 || d.Devices == nil || d.LastWeek.WholeDay != nil {
		t.Errorf("hours %v, devices %v, last week's whole day %v", d.Hours, d.Devices, d.LastWeek.WholeDay)
	}
	soFar := raw["today"].(map[string]any)["so_far"].(map[string]any)
	for _, k := range []string{"conversion", "spend_per_visitor", "redemption_rate", "member_share", "member_spend_share"} {
		if v, ok := soFar[k]; !ok || v != nil {
			t.Errorf("%s: %v (present %v), want null", k, v, ok)
		}
	}
	if h, ok := raw["hours"].([]any); !ok || len(h) != 0 {
		t.Errorf("hours %v, want []", raw["hours"])
	}

	// Without a history, today comes from the engine alone.
	o = testOptions()
	o.Location = paris
	o.Stats = func() edge.Stats {
		return edge.Stats{At: time.Date(2026, 11, 24, 9, 20, 0, 0, paris), Occupancy: 4, Today: &edge.TrafficToday{Day: "2026-11-24",
			Intervals: []edge.Traffic{quarter(time.Date(2026, 11, 24, 9, 15, 0, 0, paris), 4, 1, 500)}, Occupancy: 4, Peak: 4}}
	}
	_, ts = newTestServer(t, o, nil)
	d, _ = getDashboard(t, ts.URL)
	if !d.Today.HasData || d.Today.SoFar.Visitors != 4 || d.LastWeek.HasData || len(d.Hours) != 1 || !d.Hours[0].Now {
		t.Errorf("without history: today %+v, last week has data %v, hours %+v", d.Today.SoFar, d.LastWeek.HasData, d.Hours)
	}
}

// TestDashboardLateTradingDay: a store whose trading day starts at 04:00
// (edge.Options.DayStart). At 02:00 on Wednesday the engine still counts
// Tuesday; its small hours come after its evening, and last week's
// records are those of Tuesday's trading day.
func TestDashboardLateTradingDay(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, paris) }
	tuesday := func(q edge.Traffic, day string) edge.Traffic { q.Day = day; return q }
	_, ob := openTestDB(t)
	keep(t, ob, []edge.Traffic{
		tuesday(quarter(at(17, 3, 0), 70, 0, 0), "2026-11-16"), // Monday's night
		tuesday(quarter(at(17, 20, 0), 4, 0, 0), "2026-11-17"),
		tuesday(quarter(at(17, 22, 0), 6, 0, 0), "2026-11-17"),
		tuesday(quarter(at(18, 0, 30), 2, 0, 0), "2026-11-17"),
		tuesday(quarter(at(18, 3, 45), 1, 0, 0), "2026-11-17"),
		tuesday(quarter(at(18, 4, 0), 50, 0, 0), "2026-11-18"), // Wednesday's
	}, edge.TrafficDay{Day: "2026-11-17", Start: at(17, 4, 0), End: at(18, 4, 0), Visitors: 13})
	live := []edge.Traffic{
		tuesday(quarter(at(24, 22, 0), 5, 0, 0), "2026-11-24"), tuesday(quarter(at(24, 23, 0), 3, 0, 0), "2026-11-24"),
		tuesday(quarter(at(25, 0, 0), 2, 0, 0), "2026-11-24"), tuesday(quarter(at(25, 1, 0), 1, 0, 0), "2026-11-24"),
		tuesday(quarter(at(25, 2, 0), 1, 0, 0), "2026-11-24"),
	}
	o := testOptions()
	o.Location, o.History = paris, ob
	o.Stats = func() edge.Stats {
		return edge.Stats{At: at(25, 2, 5), Today: &edge.TrafficToday{Day: "2026-11-24", Intervals: live}}
	}
	_, ts := newTestServer(t, o, nil)
	d, _ := getDashboard(t, ts.URL)
	if d.Today.Label != "Tue 24 Nov" || d.LastWeek.Label != "Tue 17 Nov" || d.Clock != "Wed 25 Nov, 02:05" {
		t.Errorf("today %q, last week %q, clock %q", d.Today.Label, d.LastWeek.Label, d.Clock)
	}
	if d.Today.SoFar.Visitors != 12 || d.LastWeek.SoFar.Visitors != 12 || d.LastWeek.WholeDay.Visitors != 13 {
		t.Errorf("visitors: today %d, last week so far %d, whole day %d; want 12, 12, 13",
			d.Today.SoFar.Visitors, d.LastWeek.SoFar.Visitors, d.LastWeek.WholeDay.Visitors)
	}
	checkHours(t, d.Hours, []hourWant{
		{"20:00", nil, ptr(4), false}, {"21:00", nil, nil, false}, {"22:00", ptr(5), ptr(6), false}, {"23:00", ptr(3), nil, false},
		{"00:00", ptr(2), ptr(2), false}, {"01:00", ptr(1), nil, false}, {"02:00", ptr(1), nil, true}, {"03:00", nil, ptr(1), false},
	})
}

// dayQuarters returns the quarters of date in loc from local midnight
// until until (or the day's end), one visitor each, as the engine closes
// them (edge.IntervalStart).
func dayQuarters(loc *time.Location, date string, until time.Time) []edge.Traffic {
	start, _ := time.ParseInLocation(time.DateOnly, date, loc)
	end := edge.NextInterval(start, loc, oneDay)
	if !until.IsZero() && until.Before(end) {
		end = until
	}
	var ts []edge.Traffic
	for s := start; s.Before(end); s = edge.NextInterval(s, loc, 15*time.Minute) {
		q := quarter(s, 1, 0, 0)
		q.End = edge.NextInterval(s, loc, 15*time.Minute)
		ts = append(ts, q)
	}
	return ts
}

// TestDashboardDaysClocksChange: hours are labelled by the store's clock;
// the repeated autumn hour is two hours, the skipped spring hour is none
// today; last week is lined up by the clock's reading, up to the same
// reading.
func TestDashboardDaysClocksChange(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	four := ptr(4)
	for _, tc := range []struct {
		name, today, lastWeek string
		now                   time.Time
		soFar, lastWeekSoFar  int
		hours                 []hourWant
	}{
		{
			name: "autumn", today: "2026-10-25", lastWeek: "2026-10-18", now: time.Date(2026, 10, 25, 12, 0, 0, 0, berlin),
			soFar: 13 * 4, lastWeekSoFar: 12 * 4,
			hours: []hourWant{{"00:00", four, four, false}, {"01:00", four, four, false},
				{"02:00 CEST", four, four, false}, {"02:00 CET", four, nil, false}},
		},
		{
			name: "spring", today: "2026-03-29", lastWeek: "2026-03-22", now: time.Date(2026, 3, 29, 12, 0, 0, 0, berlin),
			soFar: 11 * 4, lastWeekSoFar: 12 * 4,
			hours: []hourWant{{"00:00", four, four, false}, {"01:00", four, four, false}, {"02:00", nil, four, false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ob := openTestDB(t)
			keep(t, ob, dayQuarters(berlin, tc.lastWeek, time.Time{}))
			keep(t, ob, dayQuarters(berlin, tc.today, tc.now))
			o := testOptions()
			o.Location, o.History = berlin, ob
			o.Stats = func() edge.Stats { return edge.Stats{At: tc.now} }
			_, ts := newTestServer(t, o, nil)
			d, _ := getDashboard(t, ts.URL)
			if d.Today.SoFar.Visitors != tc.soFar || d.LastWeek.SoFar.Visitors != tc.lastWeekSoFar {
				t.Errorf("so far: today %d, last week %d; want %d, %d", d.Today.SoFar.Visitors, d.LastWeek.SoFar.Visitors, tc.soFar, tc.lastWeekSoFar)
			}
			want := tc.hours
			for h := 3; h < 24; h++ {
				var today *int
				if h < 12 {
					today = four
				}
				want = append(want, hourWant{time.Date(0, 1, 1, h, 0, 0, 0, time.UTC).Format("15:04"), today, four, false})
			}
			checkHours(t, d.Hours, want)
		})
	}
}

// failingHistory is a history whose disk failed.
type failingHistory struct{}

var errDisk = errors.New("read-only file system")

func (failingHistory) TrafficBetween(_, _ time.Time) ([]edge.Traffic, error) { return nil, errDisk }
func (failingHistory) DaysBetween(_, _ time.Time) ([]edge.TrafficDay, error) { return nil, errDisk }

func TestDashboardHistoryError(t *testing.T) {
	o := testOptions()
	o.History = failingHistory{}
	o.Stats = func() edge.Stats {
		return edge.Stats{At: time.Date(2026, 11, 24, 9, 20, 0, 0, time.UTC), Today: &edge.TrafficToday{Day: "2026-11-24",
			Intervals: []edge.Traffic{quarter(time.Date(2026, 11, 24, 9, 15, 0, 0, time.UTC), 4, 1, 500)}}}
	}
	_, ts := newTestServer(t, o, nil)
	d, _ := getDashboard(t, ts.URL)
	if !strings.Contains(d.HistoryError, "read-only file system") || d.Today.SoFar.Visitors != 4 || d.LastWeek.HasData {
		t.Errorf("history error %q, today %d visitors, last week has data %v", d.HistoryError, d.Today.SoFar.Visitors, d.LastWeek.HasData)
	}
}

func TestDashboardPage(t *testing.T) {
	o := testOptions()
	o.StoreName = `Lyon <Part-Dieu>`
	_, ts := newTestServer(t, o, nil)
	resp, body := get(t, ts.URL+"/dashboard")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, w := range []string{"Lyon &lt;Part-Dieu&gt;", `id="chart"`, `id="visitors"`, `<script id="initial" type="application/json">{`, `"last_week":`} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("page refers to another host; the gateway has no internet")
	}
	assets := assetRE.FindAllStringSubmatch(body, -1)
	var names []string
	for _, m := range assets {
		names = append(names, m[1])
		resp, js := get(t, ts.URL+m[1])
		if resp.StatusCode != 200 {
			t.Errorf("%s: %s", m[1], resp.Status)
		}
		// The chart is drawn here: no library, nothing fetched but the
		// dashboard's own figures.
		for _, u := range regexp.MustCompile(`https?://[^"' )]+`).FindAllString(js, -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to %s", m[1], u)
			}
		}
	}
	for _, w := range []string{"/assets/style.css", "/assets/dashboard.css", "/assets/shared.js", "/assets/dashboard.js"} {
		if !slices.Contains(names, w) {
			t.Errorf("page links %v, want %s", names, w)
		}
	}
	for _, path := range []string{"/dashboard", "/api/v1/dashboard"} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %s, want 405", path, resp.Status)
		}
	}
}

// BenchmarkDashboard measures one /api/v1/dashboard document on a
// gateway holding its full history (35 days of 15-minute intervals and
// days) and a busy day so far.
func BenchmarkDashboard(b *testing.B) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(b.TempDir(), "redcarpet.db"), 0o600, outbox.DBOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	now := time.Date(2026, 11, 24, 15, 40, 0, 0, paris)
	first := time.Date(2026, 10, 20, 0, 0, 0, 0, paris)
	for day := first; day.Before(now); day = day.AddDate(0, 0, 1) {
		var evs []edge.Event
		for q := day; q.Before(day.AddDate(0, 0, 1)) && q.Before(now.Add(-10*time.Minute)); q = q.Add(15 * time.Minute) {
			tr := quarter(q, 20, 5, 10000)
			evs = append(evs, edge.Event{Kind: edge.KindTraffic, Source: "engine", Time: tr.End, Traffic: &tr})
		}
		evs = append(evs, edge.Event{Kind: edge.KindTrafficDay, Source: "engine", Time: day.AddDate(0, 0, 1),
			Day: &edge.TrafficDay{Day: day.Format(time.DateOnly), Start: day, End: day.AddDate(0, 0, 1), Visitors: 1920}})
		if err := ob.Append(evs); err != nil {
			b.Fatal(err)
		}
	}
	o := testOptions()
	o.Location, o.History = paris, ob
	o.Stats = func() edge.Stats { return edge.Stats{At: now} }
	s := New(o)
	b.ReportAllocs()
	for b.Loop() {
		if d := s.dashboard(); !d.LastWeek.HasData || d.Today.SoFar.Visitors == 0 {
			b.Fatalf("dashboard without data: %+v", d.Today.SoFar)
		}
	}
}
