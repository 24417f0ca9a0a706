package signage

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// The store dashboard: today against the same weekday last week.
//
// Today's intervals are the engine's (Stats.Today: the closed ones and the
// open one so far) completed by the history for what the engine no longer
// holds; last week's come from the history (Options.History). Days and
// hours are the store's (Options.Location), whatever the browser's zone.
// Like the overview, the dashboard is open on the store LAN: it shows
// counts, amounts and device health, never a member.

// History is the traffic history the dashboard compares with: the
// outbox's copy of the engine's intervals and trading days
// (outbox.Outbox).
type History interface {
	// TrafficBetween returns the intervals that start in [from, to), in
	// time order.
	TrafficBetween(from, to time.Time) ([]edge.Traffic, error)
	// DaysBetween returns the trading days that start in [from, to), in
	// time order.
	DaysBetween(from, to time.Time) ([]edge.TrafficDay, error)
}

const (
	// dashboardRefresh is how often the dashboard page asks for new
	// figures (a page may ask for another period with ?refresh=seconds).
	dashboardRefresh = 15 * time.Second
	oneDay           = 24 * time.Hour
)

// dashboard is the /api/v1/dashboard document.
type dashboard struct {
	Store    string `json:"store"`
	TimeZone string `json:"timezone"`
	// At is the engine clock (the demo's simulated time), in the store's
	// zone; Clock and Time say it as the store's wall clock reads.
	At       time.Time `json:"at"`
	Clock    string    `json:"clock"` // "Tue 24 Nov, 15:40"
	Time     string    `json:"time"`  // "15:40"
	Currency string    `json:"currency,omitempty"`
	RefreshS int       `json:"refresh_s"`
	// Today is today so far; LastWeek the same weekday a week ago, up to
	// the same time of day (so_far) and in full (whole_day).
	Today    dashDay `json:"today"`
	LastWeek dashDay `json:"last_week"`
	// Hours are the visitors per local hour of both days, from the first
	// to the last hour that saw visitors on either.
	Hours   []dashHour   `json:"hours"`
	Devices []dashDevice `json:"devices"`
	// HistoryError says why last week could not be read, if it could not.
	HistoryError string `json:"history_error,omitempty"`
}

type dashDay struct {
	Day     string `json:"day"`   // YYYY-MM-DD
	Label   string `json:"label"` // "Tue 17 Nov"
	HasData bool   `json:"has_data"`
	// Until is where so_far ends: now, or the same time of day last week.
	Until    time.Time    `json:"until"`
	SoFar    dashFigures  `json:"so_far"`
	WholeDay *dashFigures `json:"whole_day,omitempty"`
}

// dashFigures are a day's figures. Ratios are null when their denominator
// is zero.
type dashFigures struct {
	Visitors        int         `json:"visitors"`
	Baskets         int         `json:"baskets"`
	Conversion      *float64    `json:"conversion"` // baskets per visitor
	Spend           edge.Money  `json:"spend"`
	SpendPerVisitor *edge.Money `json:"spend_per_visitor"`
	OffersShown     int         `json:"offers_shown"`
	OffersRedeemed  int         `json:"offers_redeemed"`
	RedemptionRate  *float64    `json:"redemption_rate"` // redeemed per offer shown
	MemberVisits    int         `json:"member_visits"`
	MemberBaskets   int         `json:"member_baskets"`
	MemberSpend     edge.Money  `json:"member_spend"`
	// MemberShare and MemberSpendShare are the members' share of the
	// baskets and of the spend.
	MemberShare      *float64 `json:"member_share"`
	MemberSpendShare *float64 `json:"member_spend_share"`
	// Members counts distinct members, when known (today from the engine,
	// a whole past day from its trading-day record).
	Members *int `json:"members,omitempty"`
	// Occupancy is the visitors inside at the end (now, for today), Peak
	// the most at once.
	Occupancy int `json:"occupancy"`
	Peak      int `json:"peak"`
}

// dashHour is one local hour of the chart.
type dashHour struct {
	Hour  int    `json:"hour"`  // the local clock's hour, 0-23
	Label string `json:"label"` // "09:00"; "02:00 CET" when the clocks repeat it
	// Today and LastWeek are the hour's visitors; null when nothing was
	// counted (an hour still to come, or the gateway was off).
	Today    *int `json:"today"`
	LastWeek *int `json:"last_week"`
	Now      bool `json:"now,omitempty"` // the hour running now: today's figure so far
}

// dashDevice is the device health shown. Its fields are listed by hand, as
// the signage frames are: a field added to edge.DeviceStatus does not reach
// the open dashboard unless it is added here.
type dashDevice struct {
	Device string `json:"device"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// storeLocation is the store's time zone: o.Location, else o.TimeZone,
// else UTC.
func storeLocation(o Options) *time.Location {
	if o.Location != nil {
		return o.Location
	}
	if o.TimeZone != "" {
		if loc, err := time.LoadLocation(o.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

func (s *Server) dashboard() dashboard {
	var st edge.Stats
	if s.o.Stats != nil {
		st = s.o.Stats()
	}
	loc := s.loc
	now := st.At
	if now.IsZero() {
		now = s.now()
	}
	now = now.In(loc)
	y, m, d := now.Date()
	live := st.Today
	// Today is the engine's trading day, which may start after midnight
	// (edge.Options.DayStart); without the engine's, the calendar day.
	// Records belong to the trading day they name.
	todayDate := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if live != nil {
		if t, err := time.Parse(time.DateOnly, live.Day); err == nil {
			todayDate = t
		} else {
			live = nil
		}
	}
	lwDate := todayDate.AddDate(0, 0, -7)
	sameTime := time.Date(y, m, d-7, now.Hour(), now.Minute(), now.Second(), now.Nanosecond(), loc)

	doc := dashboard{
		Store: s.o.StoreName, TimeZone: loc.String(), At: now, Clock: now.Format("Mon 2 Jan, 15:04"), Time: now.Format("15:04"),
		RefreshS: int(dashboardRefresh / time.Second),
		Today:    dashDay{Day: todayDate.Format(time.DateOnly), Label: todayDate.Format("Mon 2 Jan"), Until: now},
		LastWeek: dashDay{Day: lwDate.Format(time.DateOnly), Label: lwDate.Format("Mon 2 Jan"), Until: sameTime},
		Hours:    []dashHour{},
		Devices:  []dashDevice{},
	}
	for _, dev := range st.Devices {
		doc.Devices = append(doc.Devices, dashDevice{Device: dev.Device, Kind: dev.Kind, State: string(dev.State), Detail: dev.Detail})
	}

	// Today: the engine's intervals, and the history's for the rest of
	// the day (the engine restarted, or has not published them yet).
	var today, lastWeek []edge.Traffic
	var lwDay *edge.TrafficDay
	if s.o.History != nil {
		var err error
		if today, err = s.tradingDay(todayDate, doc.Today.Day); err == nil {
			lastWeek, err = s.tradingDay(lwDate, doc.LastWeek.Day)
		}
		var days []edge.TrafficDay
		if err == nil {
			from, to := s.dayRange(lwDate)
			days, err = s.o.History.DaysBetween(from, to)
		}
		if err != nil {
			s.log.Error("read traffic history", "err", err)
			doc.HistoryError = err.Error()
			today, lastWeek = nil, nil
		}
		if i := slices.IndexFunc(days, func(t edge.TrafficDay) bool { return t.Day == doc.LastWeek.Day }); i >= 0 {
			lwDay = &days[i]
		}
	}
	if live != nil {
		today = merge(today, live.Intervals)
	}

	sum := edge.SumTraffic(today)
	doc.Today.HasData = len(today) > 0
	doc.Today.SoFar = figures(sum)
	doc.Today.SoFar.Occupancy = st.Occupancy
	if live != nil {
		doc.Today.SoFar.Occupancy, doc.Today.SoFar.Peak = live.Occupancy, max(live.Peak, sum.Peak)
		members := live.Members
		doc.Today.SoFar.Members = &members
	}
	doc.Today.SoFar.Peak = max(doc.Today.SoFar.Peak, doc.Today.SoFar.Occupancy)

	doc.LastWeek.HasData = len(lastWeek) > 0 || lwDay != nil
	doc.LastWeek.SoFar = figures(edge.SumUntil(lastWeek, sameTime))
	whole := figures(edge.SumTraffic(lastWeek))
	if lwDay != nil {
		whole.Peak = max(whole.Peak, lwDay.Peak)
		members := lwDay.Members
		whole.Members = &members
		if len(lastWeek) == 0 {
			whole = dayFigures(*lwDay)
		}
	}
	if doc.LastWeek.HasData {
		doc.LastWeek.WholeDay = &whole
	}
	doc.Currency = cmp.Or(sum.Currency, edge.SumTraffic(lastWeek).Currency)
	if doc.Currency == "" && lwDay != nil {
		doc.Currency = lwDay.Currency
	}
	doc.Hours = hours(edge.ByHour(today, loc), edge.ByHour(lastWeek, loc), todayDate, lwDate, edge.IntervalStart(now, loc, time.Hour))
	return doc
}

// dayRange is a time range that holds every interval of the trading day
// named by date (a UTC midnight), wherever in the next day it ends.
func (s *Server) dayRange(date time.Time) (from, to time.Time) {
	y, m, d := date.Date()
	loc := s.loc
	return time.Date(y, m, d, 0, 0, 0, 0, loc).Add(-time.Hour), time.Date(y, m, d+2, 0, 0, 0, 0, loc)
}

// tradingDay reads the kept intervals of the trading day name.
func (s *Server) tradingDay(date time.Time, name string) ([]edge.Traffic, error) {
	from, to := s.dayRange(date)
	ts, err := s.o.History.TrafficBetween(from, to)
	if err != nil {
		return nil, err
	}
	loc := s.loc
	return slices.DeleteFunc(ts, func(t edge.Traffic) bool {
		day := t.Day
		if day == "" {
			day = t.Start.In(loc).Format(time.DateOnly)
		}
		return day != name
	}), nil
}

// merge returns the intervals of history and live, live's replacing
// history's of the same start, in time order.
func merge(history, live []edge.Traffic) []edge.Traffic {
	byStart := make(map[int64]edge.Traffic, len(history)+len(live))
	for _, t := range history {
		byStart[t.Start.UnixNano()] = t
	}
	for _, t := range live {
		byStart[t.Start.UnixNano()] = t
	}
	out := make([]edge.Traffic, 0, len(byStart))
	for _, t := range byStart {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b edge.Traffic) int { return a.Start.Compare(b.Start) })
	return out
}

func ratio(n, d float64) *float64 {
	if d <= 0 {
		return nil
	}
	r := n / d
	return &r
}

func figures(t edge.Traffic) dashFigures {
	f := dashFigures{
		Visitors: t.Visitors, Baskets: t.Baskets, Spend: t.Spend,
		OffersShown: t.OffersShown, OffersRedeemed: t.OffersRedeemed,
		MemberVisits: t.MemberVisits, MemberBaskets: t.MemberBaskets, MemberSpend: t.MemberSpend,
		Occupancy: t.Occupancy, Peak: t.Peak,
	}
	if c, ok := t.Conversion(); ok {
		f.Conversion = &c
	}
	if spv, ok := t.SpendPerVisitor(); ok {
		f.SpendPerVisitor = &spv
	}
	f.RedemptionRate = ratio(float64(t.OffersRedeemed), float64(t.OffersShown))
	f.MemberShare = ratio(float64(t.MemberBaskets), float64(t.Baskets))
	f.MemberSpendShare = ratio(float64(t.MemberSpend), float64(t.Spend))
	return f
}

// dayFigures are the figures of a trading day whose intervals are gone.
func dayFigures(d edge.TrafficDay) dashFigures {
	f := figures(edge.Traffic{
		Visitors: d.Visitors, Baskets: d.Baskets, Spend: d.Spend, OffersShown: d.OffersShown,
		OffersRedeemed: d.OffersRedeemed, MemberVisits: d.MemberVisits, MemberBaskets: d.MemberBaskets,
		MemberSpend: d.MemberSpend, Peak: d.Peak,
	})
	members := d.Members
	f.Members = &members
	return f
}

// hours lines up today's and last week's hours by the local clock's
// reading: the first 09:00 of one day with the first of the other, the
// repeated 02:00 of an autumn day with nothing. A trading day that runs
// past midnight has its small hours after its evening. It keeps the hours
// from the first to the last one with visitors on either day, and always
// the current one (nowHour) when today has it. todayDate and lwDate are
// the days' dates (UTC midnights).
func hours(today, lastWeek []edge.Traffic, todayDate, lwDate time.Time, nowHour time.Time) []dashHour {
	// A slot is an hour's position from the trading day's date's midnight
	// by the clock's reading (25 is 01:00 the next day), and which of the
	// day's hours with that reading it is.
	type key struct{ pos, n int }
	type slot struct{ today, lastWeek *edge.Traffic }
	slots := map[key]*slot{}
	pos := func(t time.Time, date time.Time) int {
		y, m, d := t.Date()
		days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(date) / oneDay
		return int(days)*24 + t.Hour()
	}
	count := func(hs []edge.Traffic, date time.Time, set func(*slot, *edge.Traffic)) map[int]int {
		seen := map[int]int{}
		for i := range hs {
			p := pos(hs[i].Start, date)
			k := key{p, seen[p]}
			seen[p]++
			if slots[k] == nil {
				slots[k] = &slot{}
			}
			set(slots[k], &hs[i])
		}
		return seen
	}
	inToday := count(today, todayDate, func(s *slot, t *edge.Traffic) { s.today = t })
	inLastWeek := count(lastWeek, lwDate, func(s *slot, t *edge.Traffic) { s.lastWeek = t })

	first, last := math.MaxInt, math.MinInt
	for k, s := range slots {
		busy := (s.today != nil && (s.today.Visitors > 0 || s.today.Start.Equal(nowHour))) ||
			(s.lastWeek != nil && s.lastWeek.Visitors > 0)
		if busy {
			first, last = min(first, k.pos), max(last, k.pos)
		}
	}
	// Hours within the range that neither day counted (the gateway was
	// off) still get their place on the axis.
	for p := first; p <= last; p++ {
		if slots[key{p, 0}] == nil {
			slots[key{p, 0}] = &slot{}
		}
	}
	keys := slices.Collect(maps.Keys(slots))
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(a.n, b.n)) })
	out := []dashHour{}
	for _, k := range keys {
		if k.pos < first || k.pos > last {
			continue
		}
		s := slots[k]
		hour := (k.pos%24 + 24) % 24
		h := dashHour{Hour: hour, Label: fmt.Sprintf("%02d:00", hour)}
		if s.today != nil {
			v := s.today.Visitors
			h.Today, h.Now = &v, s.today.Start.Equal(nowHour)
		}
		if s.lastWeek != nil {
			v := s.lastWeek.Visitors
			h.LastWeek = &v
		}
		// A repeated reading says which one it is, in the zone of the day
		// that repeats it.
		switch {
		case inToday[k.pos] > 1 && s.today != nil:
			h.Label += " " + s.today.Start.Format("MST")
		case inLastWeek[k.pos] > 1 && s.lastWeek != nil:
			h.Label += " " + s.lastWeek.Start.Format("MST")
		}
		out = append(out, h)
	}
	return out
}

func (s *Server) serveDashboard(w http.ResponseWriter, _ *http.Request) {
	p := s.newPage("Store dashboard")
	p.Data = s.dashboard()
	s.render(w, "dashboard.html", p)
}

func (s *Server) serveDashboardJSON(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, s.dashboard())
}
