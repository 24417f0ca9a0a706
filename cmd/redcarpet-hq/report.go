package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// reportDays is the default period of the report: the last week, today
// included.
const reportDays = 7

// cmdReport implements `redcarpet-hq report`: per store, traffic and sales
// over a period of trading days, then the lift of each offer shown in it.
// now is the clock of the default period.
func cmdReport(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	path := fs.String("config", DefaultConfig, "configuration `file` (its sink and downlink.timezone are read)")
	fromFlag := fs.String("from", "", "first trading `day` (YYYY-MM-DD); default: 6 days before -to")
	toFlag := fs.String("to", "", "last trading `day` (YYYY-MM-DD), included; default: today in downlink.timezone")
	storeFlag := fs.String("store", "", "report only this `tenant/store`")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, stderr); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	// The flags are checked before anything opens.
	for _, f := range []struct{ name, v string }{{"-from", *fromFlag}, {"-to", *toFlag}} {
		if f.v == "" {
			continue
		}
		if _, err := time.Parse(hq.DayLayout, f.v); err != nil {
			return usageError(fmt.Sprintf("report: %s %q is not a day (YYYY-MM-DD)", f.name, f.v))
		}
	}
	var only []hq.StoreID
	if *storeFlag != "" {
		id, err := hq.ParseStoreID(*storeFlag)
		if err != nil {
			return usageError("report: -store: " + err.Error())
		}
		only = []hq.StoreID{id}
	}
	cfg, err := configs.LoadHQ(*path)
	if err != nil {
		return err
	}
	loc := cfg.Downlink.Location()
	from, to, err := reportPeriod(*fromFlag, *toFlag, now.In(loc))
	if err != nil {
		return usageError("report: " + err.Error())
	}
	be, err := openBackend(context.Background(), cfg, true, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer be.close()
	rep, err := buildReport(be.reports, reportOptions{Sink: be.name, From: from, To: to, Location: loc, Stores: only})
	if err != nil {
		return err
	}
	return output(stdout, *asJSON, rep, func() { printRetailReport(stdout, rep) })
}

// reportPeriod resolves the -from and -to flags (checked days or "") to
// the period's first and last day; today is the default last day.
func reportPeriod(from, to string, today time.Time) (string, string, error) {
	if to == "" {
		to = today.Format(hq.DayLayout)
	}
	if from == "" {
		t, _ := time.Parse(hq.DayLayout, to)
		from = t.AddDate(0, 0, 1-reportDays).Format(hq.DayLayout)
	}
	if from > to {
		return "", "", fmt.Errorf("-from %s is after -to %s", from, to)
	}
	return from, to, nil
}

// reportOptions is what buildReport reports on.
type reportOptions struct {
	Sink     string // named in the report
	From, To string // trading days, YYYY-MM-DD, both included
	// Location reads the period for events that have no trading day
	// (exposures, baskets): from From's midnight to the midnight after To.
	Location *time.Location
	Stores   []hq.StoreID // nil: every store with events
}

// retailReport is what report prints; -json prints it as is.
type retailReport struct {
	Sink     string `json:"sink"`
	From     string `json:"from"`
	To       string `json:"to"`
	Days     int    `json:"days"`
	TimeZone string `json:"timezone"` // of the event-time period of offers and baskets
	// PeriodStart and PeriodEnd bound the event-time period: [start, end).
	PeriodStart time.Time      `json:"period_start"`
	PeriodEnd   time.Time      `json:"period_end"`
	Stores      []storeFigures `json:"stores"`
	Total       *figures       `json:"total,omitempty"` // over every store, when there are several
	Offers      []offerLift    `json:"offers"`
	// Undecodable counts stored events whose data the report could not
	// read (left out).
	Undecodable int `json:"undecodable_events,omitempty"`
}

// storeFigures is one store over the period, and day by day.
type storeFigures struct {
	Tenant string `json:"tenant"`
	Store  string `json:"store"`
	figures
	Days []dayFigures `json:"days"`
}

// Where a day's figures come from.
const (
	sourceDay       = "day"       // the store's traffic.day event
	sourceIntervals = "intervals" // the sum of its traffic.interval events: partial
	sourceNone      = "none"      // no traffic event
)

type dayFigures struct {
	Day       string `json:"day"`
	Source    string `json:"source"`              // day, intervals (partial) or none
	Intervals int    `json:"intervals,omitempty"` // traffic.interval events summed
	figures
}

// figures are the traffic and sales of a store or of several, over one
// day or more. Ratios are null when their denominator is 0.
type figures struct {
	CompleteDays   int    `json:"complete_days"` // from traffic.day events
	PartialDays    int    `json:"partial_days"`  // summed from traffic.interval events
	Visitors       int    `json:"visitors"`      // entries that were not staff
	Entries        int    `json:"entries"`       // every entry, staff included
	StaffCrossings int    `json:"staff_crossings"`
	Peak           int    `json:"peak"` // the highest occupancy
	PeakDay        string `json:"peak_day,omitempty"`
	// MeanDwellS is the mean visitor dwell of the complete days, weighted
	// by their visitors, in seconds.
	MeanDwellS    *float64   `json:"mean_dwell_s"`
	Members       int        `json:"members"` // distinct members per complete day, summed
	MemberVisits  int        `json:"member_visits"`
	Baskets       int        `json:"baskets"`
	MemberBaskets int        `json:"member_baskets"`
	Spend         edge.Money `json:"spend"`
	MemberSpend   edge.Money `json:"member_spend"`
	// Currency is the stores' currency; "mixed" when they differ, and then
	// the amounts are not summed.
	Currency       string `json:"currency"`
	OffersShown    int    `json:"offers_shown"`
	OffersRedeemed int    `json:"offers_redeemed"`
	OffersWithheld int    `json:"offers_withheld"`
	Mismatch       int    `json:"mismatch"` // occupancy cleared by the closing resets
	Clamped        int    `json:"clamped"`  // exits that found the store empty

	Conversion       *float64    `json:"conversion"`         // baskets / visitors
	SpendPerVisitor  *edge.Money `json:"spend_per_visitor"`  // spend / visitors
	MemberVisitShare *float64    `json:"member_visit_share"` // member visits / visitors
	MemberSpendShare *float64    `json:"member_spend_share"` // member spend / spend

	dwellSum      float64 // Σ dwell × visitors of complete days
	dwellVisitors int
}

// add adds g's counts to f.
func (f *figures) add(g *figures, day string) {
	f.CompleteDays += g.CompleteDays
	f.PartialDays += g.PartialDays
	f.Visitors += g.Visitors
	f.Entries += g.Entries
	f.StaffCrossings += g.StaffCrossings
	if g.Peak > f.Peak {
		f.Peak, f.PeakDay = g.Peak, cmp.Or(day, g.PeakDay)
	}
	f.Members += g.Members
	f.MemberVisits += g.MemberVisits
	f.Baskets += g.Baskets
	f.MemberBaskets += g.MemberBaskets
	switch {
	case g.Currency == "" && g.Spend == 0 && g.MemberSpend == 0:
	case f.Currency == "" || f.Currency == g.Currency:
		f.Currency = g.Currency
		f.Spend += g.Spend
		f.MemberSpend += g.MemberSpend
	default:
		f.Currency, f.Spend, f.MemberSpend = "mixed", 0, 0
	}
	f.OffersShown += g.OffersShown
	f.OffersRedeemed += g.OffersRedeemed
	f.OffersWithheld += g.OffersWithheld
	f.Mismatch += g.Mismatch
	f.Clamped += g.Clamped
	f.dwellSum += g.dwellSum
	f.dwellVisitors += g.dwellVisitors
}

// ratios computes the ratios from the counts.
func (f *figures) ratios() {
	f.Conversion = ratio(f.Baskets, f.Visitors)
	f.MemberVisitShare = ratio(f.MemberVisits, f.Visitors)
	f.MeanDwellS, f.SpendPerVisitor, f.MemberSpendShare = nil, nil, nil
	if f.dwellVisitors > 0 {
		d := f.dwellSum / float64(f.dwellVisitors)
		f.MeanDwellS = &d
	}
	if f.Currency == "mixed" {
		return
	}
	if f.Visitors > 0 {
		m := divRound(f.Spend, f.Visitors)
		f.SpendPerVisitor = &m
	}
	f.MemberSpendShare = ratio(int(f.MemberSpend), int(f.Spend))
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// divRound divides an amount, rounding half away from zero to a minor unit.
func divRound(m edge.Money, n int) edge.Money {
	q := float64(m) / float64(n)
	return edge.Money(math.Round(q))
}

func fromDay(d *edge.TrafficDay) figures {
	f := figures{CompleteDays: 1, Visitors: d.Visitors, Entries: d.In, StaffCrossings: d.StaffIn + d.StaffOut,
		Peak: d.Peak, Members: d.Members, MemberVisits: d.MemberVisits, Baskets: d.Baskets,
		MemberBaskets: d.MemberBaskets, Spend: d.Spend, MemberSpend: d.MemberSpend, Currency: d.Currency,
		OffersShown: d.OffersShown, OffersRedeemed: d.OffersRedeemed, OffersWithheld: d.OffersWithheld,
		Mismatch: d.Mismatch, Clamped: d.Clamped}
	if d.Visitors > 0 {
		f.dwellSum, f.dwellVisitors = float64(d.DwellS)*float64(d.Visitors), d.Visitors
	}
	return f
}

func fromInterval(t *edge.Traffic) figures {
	f := figures{Visitors: t.Visitors, Entries: t.In, StaffCrossings: t.StaffIn + t.StaffOut, Peak: t.Peak,
		MemberVisits: t.MemberVisits, Baskets: t.Baskets, MemberBaskets: t.MemberBaskets, Spend: t.Spend,
		MemberSpend: t.MemberSpend, Currency: t.Currency, OffersShown: t.OffersShown,
		OffersRedeemed: t.OffersRedeemed, OffersWithheld: t.OffersWithheld, Clamped: t.Clamped}
	if t.Reset != nil {
		f.Mismatch = *t.Reset
	}
	return f
}

// offerLift is what one offer did over the period in the selected stores.
type offerLift struct {
	Tenant     string  `json:"tenant"`
	OfferID    string  `json:"offer_id"`
	Title      string  `json:"title,omitempty"`
	HoldoutPct float64 `json:"holdout_pct"` // as HQ's change log has it now
	// Categories are what a response buys: a member basket with one of
	// them. Empty: any member basket (Response says why).
	Categories []string `json:"categories"`
	Response   string   `json:"response"`

	Exposed           int      `json:"exposed"`  // distinct members shown the offer
	Redeemed          int      `json:"redeemed"` // of them, who redeemed it
	RedemptionRate    *float64 `json:"redemption_rate"`
	ExposedResponders int      `json:"exposed_responders"`
	ExposedResponse   *float64 `json:"exposed_response_rate"`
	Holdout           int      `json:"holdout"` // distinct members it was withheld from
	HoldoutResponders int      `json:"holdout_responders"`
	HoldoutResponse   *float64 `json:"holdout_response_rate"`
	// Lift is exposed response rate / holdout response rate − 1; null
	// when the holdout group is empty or none of it responded.
	Lift *float64 `json:"lift"`
	// InBoth counts members both shown the offer and held out of it (the
	// holdout share changed during the period): they are in neither group.
	InBoth int `json:"in_both_groups,omitempty"`
}

// Why a response is any basket.
const (
	responseCategories  = "categories"
	responseNoCategory  = "any basket: the offer has no categories"
	responseOfferAbsent = "any basket: the offer is not in HQ's change log"
)

// buildReport reads the stores' traffic, exposures, redemptions and
// baskets from src and computes the report.
func buildReport(src postgres.Reports, o reportOptions) (*retailReport, error) {
	if err := hq.CheckDays(o.From, o.To); err != nil {
		return nil, err
	}
	first, _ := time.Parse(hq.DayLayout, o.From)
	last, _ := time.Parse(hq.DayLayout, o.To)
	var days []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(hq.DayLayout))
	}
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	start := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc)
	end := time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, loc)
	rep := &retailReport{Sink: o.Sink, From: o.From, To: o.To, Days: len(days), TimeZone: loc.String(),
		PeriodStart: start, PeriodEnd: end, Stores: []storeFigures{}, Offers: []offerLift{}}

	stores := o.Stores
	if stores == nil {
		var err error
		if stores, err = src.Stores(); err != nil {
			return nil, err
		}
	} else {
		have, err := src.Stores()
		if err != nil {
			return nil, err
		}
		for _, s := range stores {
			if !slices.Contains(have, s) {
				return nil, fmt.Errorf("report: the sink holds no events of store %s", s)
			}
		}
	}
	var total figures
	for _, s := range stores {
		sf, bad, err := storeTraffic(src, s, days)
		if err != nil {
			return nil, err
		}
		rep.Undecodable += bad
		total.add(&sf.figures, "")
		rep.Stores = append(rep.Stores, sf)
	}
	if len(stores) > 1 {
		total.ratios()
		total.PeakDay = ""
		rep.Total = &total
	}
	offers, bad, err := lift(src, stores, start, end)
	if err != nil {
		return nil, err
	}
	rep.Offers, rep.Undecodable = offers, rep.Undecodable+bad
	return rep, nil
}

// storeTraffic sums a store's traffic over days, from its traffic.day
// events and, for a day without one, its traffic.interval events.
func storeTraffic(src postgres.Reports, s hq.StoreID, days []string) (storeFigures, int, error) {
	byDay := map[string]*dayFigures{}
	bad := 0
	err := src.Traffic(s.Tenant, s.Store, days[0], days[len(days)-1], func(ev wire.CloudEvent) error {
		kind, _ := wire.KindOf(ev.Type)
		switch kind {
		case edge.KindTrafficDay:
			var d edge.TrafficDay
			if json.Unmarshal(ev.Data, &d) != nil {
				bad++
				return nil
			}
			// A second day event for a day (a store whose database was
			// replaced) replaces the first: they come in time order.
			byDay[d.Day] = &dayFigures{Day: d.Day, Source: sourceDay, figures: fromDay(&d)}
		case edge.KindTraffic:
			var t edge.Traffic
			if json.Unmarshal(ev.Data, &t) != nil {
				bad++
				return nil
			}
			df := byDay[t.Day]
			if df == nil {
				df = &dayFigures{Day: t.Day, Source: sourceIntervals}
				byDay[t.Day] = df
			}
			if df.Source == sourceIntervals {
				g := fromInterval(&t)
				df.add(&g, "")
				df.Intervals++
			}
		}
		return nil
	})
	if err != nil {
		return storeFigures{}, 0, err
	}
	sf := storeFigures{Tenant: s.Tenant, Store: s.Store, Days: []dayFigures{}}
	for _, day := range days {
		df := byDay[day]
		if df == nil {
			df = &dayFigures{Day: day, Source: sourceNone}
		}
		if df.Source == sourceIntervals {
			df.PartialDays = 1
		}
		df.PeakDay = ""
		df.ratios()
		sf.add(&df.figures, day)
		sf.Days = append(sf.Days, *df)
	}
	sf.ratios()
	return sf, bad, nil
}

// groupMember is a member's place in one offer's exposed or holdout group.
type groupMember struct {
	first     time.Time // first exposure or withholding in the period
	responded bool
	redeemed  bool
}

type offerGroups struct {
	exposed, holdout map[string]*groupMember // by member id
}

// lift computes the lift of every offer shown or withheld in the period
// [start, end) in the stores: see offerLift.
func lift(src postgres.Reports, stores []hq.StoreID, start, end time.Time) ([]offerLift, int, error) {
	type offerKey struct{ tenant, offer string }
	groups := map[offerKey]*offerGroups{}
	redeemed := map[offerKey]map[string]bool{}
	bad := 0
	get := func(k offerKey) *offerGroups {
		g := groups[k]
		if g == nil {
			g = &offerGroups{exposed: map[string]*groupMember{}, holdout: map[string]*groupMember{}}
			groups[k] = g
		}
		return g
	}
	join := func(m map[string]*groupMember, member string, t time.Time) {
		if gm := m[member]; gm == nil {
			m[member] = &groupMember{first: t}
		} else if t.Before(gm.first) {
			gm.first = t
		}
	}
	kinds := []string{string(edge.KindOfferShown), string(edge.KindWithheld), string(edge.KindRedeemed)}
	for _, s := range stores {
		err := src.Events(s.Tenant, s.Store, kinds, start, end, func(ev wire.CloudEvent) error {
			var p struct {
				OfferID  string `json:"offer_id"`
				MemberID string `json:"member_id"`
			}
			if json.Unmarshal(ev.Data, &p) != nil || p.OfferID == "" || p.MemberID == "" {
				bad++
				return nil
			}
			k := offerKey{s.Tenant, p.OfferID}
			switch kind, _ := wire.KindOf(ev.Type); kind {
			case edge.KindOfferShown:
				join(get(k).exposed, p.MemberID, ev.Time)
			case edge.KindWithheld:
				join(get(k).holdout, p.MemberID, ev.Time)
			case edge.KindRedeemed:
				if redeemed[k] == nil {
					redeemed[k] = map[string]bool{}
				}
				redeemed[k][p.MemberID] = true
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}

	// The offers as HQ publishes them, per tenant.
	offers := map[offerKey]*edge.Offer{}
	tenants := map[string]bool{}
	for k := range groups {
		if !tenants[k.tenant] {
			tenants[k.tenant] = true
			list, err := src.Offers(k.tenant)
			if err != nil {
				return nil, 0, err
			}
			for i := range list {
				offers[offerKey{k.tenant, list[i].ID}] = &list[i]
			}
		}
	}

	out := make([]offerLift, 0, len(groups))
	type membership struct {
		gm   *groupMember
		cats []string // nil: any basket
	}
	byMember := map[offerKey][]membership{} // by tenant and member id
	for k, g := range groups {
		l := offerLift{Tenant: k.tenant, OfferID: k.offer, Categories: []string{}, Response: responseCategories}
		cats := []string(nil)
		switch o := offers[k]; {
		case o == nil:
			l.Response = responseOfferAbsent
		case len(o.Categories) == 0:
			l.Title, l.HoldoutPct, l.Response = o.Title, o.HoldoutPct, responseNoCategory
		default:
			l.Title, l.HoldoutPct, l.Categories, cats = o.Title, o.HoldoutPct, o.Categories, o.Categories
		}
		for m := range g.exposed {
			if g.holdout[m] != nil {
				delete(g.exposed, m)
				delete(g.holdout, m)
				l.InBoth++
			}
		}
		for m, gm := range g.exposed {
			gm.redeemed = redeemed[k][m]
			byMember[offerKey{k.tenant, m}] = append(byMember[offerKey{k.tenant, m}], membership{gm, cats})
		}
		for m, gm := range g.holdout {
			byMember[offerKey{k.tenant, m}] = append(byMember[offerKey{k.tenant, m}], membership{gm, cats})
		}
		out = append(out, l)
	}

	// Responses: member baskets after the member's first exposure or
	// withholding.
	for _, s := range stores {
		err := src.Events(s.Tenant, s.Store, []string{string(edge.KindBasket)}, start, end, func(ev wire.CloudEvent) error {
			var b struct {
				MemberID   string   `json:"member_id"`
				Categories []string `json:"categories"`
			}
			if json.Unmarshal(ev.Data, &b) != nil {
				bad++
				return nil
			}
			if b.MemberID == "" {
				return nil
			}
			for _, ms := range byMember[offerKey{s.Tenant, b.MemberID}] {
				if ms.gm.responded || ev.Time.Before(ms.gm.first) {
					continue
				}
				if ms.cats == nil || slices.ContainsFunc(b.Categories, func(c string) bool { return slices.Contains(ms.cats, c) }) {
					ms.gm.responded = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}

	for i := range out {
		l := &out[i]
		g := groups[offerKey{l.Tenant, l.OfferID}]
		l.Exposed, l.Holdout = len(g.exposed), len(g.holdout)
		for _, gm := range g.exposed {
			if gm.redeemed {
				l.Redeemed++
			}
			if gm.responded {
				l.ExposedResponders++
			}
		}
		for _, gm := range g.holdout {
			if gm.responded {
				l.HoldoutResponders++
			}
		}
		l.RedemptionRate = ratio(l.Redeemed, l.Exposed)
		l.ExposedResponse = ratio(l.ExposedResponders, l.Exposed)
		l.HoldoutResponse = ratio(l.HoldoutResponders, l.Holdout)
		if l.ExposedResponse != nil && l.HoldoutResponse != nil && *l.HoldoutResponse > 0 {
			x := *l.ExposedResponse / *l.HoldoutResponse - 1
			l.Lift = &x
		}
	}
	slices.SortFunc(out, func(a, b offerLift) int {
		return strings.Compare(a.Tenant+"\x00"+a.OfferID, b.Tenant+"\x00"+b.OfferID)
	})
	return out, bad, nil
}

// printRetailReport writes the report as aligned tables.
func printRetailReport(w io.Writer, rep *retailReport) {
	fmt.Fprintf(w, "redcarpet-hq report %s .. %s (%d days), sink %s, %d stores\n", rep.From, rep.To, rep.Days, rep.Sink, len(rep.Stores))
	fmt.Fprintf(w, "Traffic and sales by the stores' trading days (traffic.day events); offers and baskets by event time, %s .. %s (%s).\n",
		rep.PeriodStart.Format("2006-01-02 15:04"), rep.PeriodEnd.Format("2006-01-02 15:04"), rep.TimeZone)
	if rep.Undecodable > 0 {
		fmt.Fprintf(w, "%d stored events could not be read and are left out.\n", rep.Undecodable)
	}
	type row struct {
		name string
		f    *figures
		of   int // days of the period, times the stores
	}
	var rows []row
	for i := range rep.Stores {
		s := &rep.Stores[i]
		rows = append(rows, row{s.Tenant + "/" + s.Store, &s.figures, rep.Days})
	}
	if rep.Total != nil {
		rows = append(rows, row{"all stores", rep.Total, rep.Days * len(rep.Stores)})
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "\nNo store has events.")
	} else {
		// Numbers align right; the store names are padded to align left.
		nameW := len("all stores")
		for _, r := range rows {
			nameW = max(nameW, len(r.name))
		}
		name := func(s string) string { return fmt.Sprintf("%-*s", nameW, s) }
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tDAYS\tVISITORS\tENTRIES\tSTAFF\tPEAK\tMEAN DWELL\tMISMATCH\tCLAMPED\t\n", name("TRAFFIC"))
		for _, r := range rows {
			f := r.f
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t\n", name(r.name), dayCount(f, r.of),
				f.Visitors, f.Entries, f.StaffCrossings, f.Peak, dwell(f.MeanDwellS), f.Mismatch, f.Clamped)
		}
		tw.Flush()
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tBASKETS\tCONVERSION\tSPEND\tPER VISITOR\tMEMBER VISIT SHARE\tMEMBER SPEND SHARE\tSHOWN\tREDEEMED\tWITHHELD\t\n", name("SALES"))
		for _, r := range rows {
			f := r.f
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t\n", name(r.name), f.Baskets, pct(f.Conversion),
				money(f.Spend, f.Currency), moneyPtr(f.SpendPerVisitor), pct(f.MemberVisitShare), pct(f.MemberSpendShare),
				f.OffersShown, f.OffersRedeemed, f.OffersWithheld)
		}
		tw.Flush()
		printDayNotes(w, rep)
	}

	fmt.Fprintln(w, "\nOFFER LIFT over the selected stores. Groups: the distinct members shown the offer (EXPOSED) and those")
	fmt.Fprintln(w, "it was withheld from (HOLDOUT). A member RESPONDED with a basket in one of the offer's categories after")
	fmt.Fprintln(w, "their first exposure or withholding in the period. LIFT = exposed rate / holdout rate - 1; mind the group sizes.")
	if len(rep.Offers) == 0 {
		fmt.Fprintln(w, "No offer was shown or withheld in the period.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tOFFER\tRESPONSE\tEXPOSED\tREDEEMED\tRESPONDED\tHOLDOUT\tRESPONDED\tLIFT")
	var notes []string
	for _, l := range rep.Offers {
		resp := strings.Join(l.Categories, ",")
		if l.Response != responseCategories {
			resp = "any basket*"
			notes = append(notes, fmt.Sprintf("* %s/%s: a response is any basket of the member: %s.",
				l.Tenant, l.OfferID, strings.TrimPrefix(l.Response, "any basket: ")))
		}
		lift := "n/a"
		if l.Lift != nil {
			lift = fmt.Sprintf("%+.1f%%", *l.Lift*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", l.Tenant, l.OfferID, resp, l.Exposed,
			countPct(l.Redeemed, l.RedemptionRate), countPct(l.ExposedResponders, l.ExposedResponse),
			l.Holdout, countPct(l.HoldoutResponders, l.HoldoutResponse), lift)
		if l.InBoth > 0 {
			notes = append(notes, fmt.Sprintf("%s/%s: %d member(s) both shown the offer and held out of it (its holdout share changed) are in neither group.",
				l.Tenant, l.OfferID, l.InBoth))
		}
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

// printDayNotes lists the partial days and the days without traffic.
func printDayNotes(w io.Writer, rep *retailReport) {
	var partial, none []string
	for _, s := range rep.Stores {
		var missing []string
		for _, d := range s.Days {
			switch d.Source {
			case sourceIntervals:
				partial = append(partial, fmt.Sprintf("  %s/%s %s: %d intervals", s.Tenant, s.Store, d.Day, d.Intervals))
			case sourceNone:
				missing = append(missing, d.Day)
			}
		}
		if len(missing) > 0 {
			none = append(none, fmt.Sprintf("  %s/%s: %s", s.Tenant, s.Store, strings.Join(missing, " ")))
		}
	}
	if len(partial) > 0 {
		fmt.Fprintln(w, "\nPartial days (no traffic.day yet; summed from traffic.interval, without dwell or distinct members):")
		for _, p := range partial {
			fmt.Fprintln(w, p)
		}
	}
	if len(none) > 0 {
		fmt.Fprintln(w, "\nDays without traffic events:")
		for _, n := range none {
			fmt.Fprintln(w, n)
		}
	}
}

// dayCount renders complete and partial days: "2", "1+1p", followed by
// the days there are when some have no traffic ("1/2").
func dayCount(f *figures, of int) string {
	s := fmt.Sprint(f.CompleteDays)
	if f.PartialDays > 0 {
		s += fmt.Sprintf("+%dp", f.PartialDays)
	}
	if f.CompleteDays+f.PartialDays < of {
		s += fmt.Sprintf("/%d", of)
	}
	return s
}

func pct(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *r*100)
}

func countPct(n int, r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%d (%.1f%%)", n, *r*100)
}

func dwell(s *float64) string {
	if s == nil {
		return "-"
	}
	return (time.Duration(math.Round(*s)) * time.Second).String()
}

func money(m edge.Money, currency string) string {
	if currency == "mixed" {
		return "mixed currencies"
	}
	return strings.TrimSpace(m.String() + " " + currency)
}

func moneyPtr(m *edge.Money) string {
	if m == nil {
		return "-"
	}
	return m.String()
}
