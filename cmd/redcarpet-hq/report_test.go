package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/pgtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The scripted period: two trading days in UTC.
var (
	day1 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
)

func at(day time.Time, hhmm string) time.Time {
	d, err := time.ParseDuration(strings.Replace(hhmm, ":", "h", 1) + "m")
	if err != nil {
		panic(err)
	}
	return day.Add(d)
}

// script collects events per store and numbers them as an outbox would.
type script struct {
	evs map[string][]edge.Event
}

func (s *script) add(store string, t time.Time, e edge.Event) {
	if s.evs == nil {
		s.evs = map[string][]edge.Event{}
	}
	e.ID = fmt.Sprintf("ep%s-%d", store, len(s.evs[store])+1)
	e.Source, e.Time = "engine", t
	s.evs[store] = append(s.evs[store], e)
}

func (s *script) day(store string, d edge.TrafficDay) {
	day, _ := time.Parse(hq.DayLayout, d.Day)
	d.Start, d.End, d.Currency = day, day.AddDate(0, 0, 1), "EUR"
	s.add(store, d.End.Add(time.Minute), edge.Event{Kind: edge.KindTrafficDay, Day: &d})
}

func (s *script) interval(store string, start time.Time, tr edge.Traffic) {
	tr.Start, tr.End, tr.Day, tr.Currency = start, start.Add(time.Hour), start.Format(hq.DayLayout), "EUR"
	s.add(store, tr.End, edge.Event{Kind: edge.KindTraffic, Traffic: &tr})
}

func (s *script) shown(store string, t time.Time, offer, member string) {
	s.add(store, t, edge.Event{Kind: edge.KindOfferShown,
		Exposure: &edge.Exposure{OfferID: offer, MemberID: member, Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1, DiscountPct: 20}})
}

func (s *script) withheld(store string, t time.Time, offer, member string) {
	s.add(store, t, edge.Event{Kind: edge.KindWithheld,
		Withheld: &edge.Exposure{OfferID: offer, MemberID: member, Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1}})
}

func (s *script) basket(store string, t time.Time, member string, cats ...string) {
	n := len(s.evs[store]) + 1
	s.add(store, t, edge.Event{Kind: edge.KindBasket, Basket: &edge.BasketClosed{BasketID: fmt.Sprintf("b-%s-%d", store, n),
		Lane: "1", MemberID: member, Items: 3, Subtotal: 1200, Total: 1200, Currency: "EUR", Categories: cats}})
}

func (s *script) redeemed(store string, t time.Time, offer, member string) {
	s.add(store, t, edge.Event{Kind: edge.KindRedeemed, Redemption: &edge.Redemption{OfferID: offer, MemberID: member,
		Lane: "1", BasketID: "b-r", Discount: 120}})
}

// reportScript is two stores over two days. s1 has both days closed
// (traffic.day), plus intervals of day 1 that the day replaces and a day
// after the period; s2 has day 1 closed and day 2 partial (two
// intervals). Offers (see reportOffers):
//
//   - o-coffee (category coffee): exposed m1…m10 on day 1 at 10:00, m1
//     again later; m1…m6 buy coffee afterwards, m7 bought coffee before
//     its exposure only, m8 buys bread only: 6 of 10 respond; m1…m3
//     redeem it. Held out h1…h4 at 11:00; h1 buys coffee on day 2, h2
//     only after the period: 1 of 4 respond. x1 was both shown it and
//     held out of it: in neither group. m20 was shown it after the
//     period. Lift 0.6 / 0.25 - 1 = 1.4.
//   - o-wine (no categories: any basket): exposed m1, m2 on day 2 at
//     08:00, m2 buys at 09:00 (1 of 2); held out h5, who buys nothing:
//     lift n/a.
//   - o-ghost (not in the change log): exposed m3; no holdout group.
func reportScript() *script {
	s := &script{}
	s.day("s1", edge.TrafficDay{Day: "2026-03-02", In: 210, Out: 210, StaffIn: 10, StaffOut: 10, Visitors: 200,
		Peak: 35, PeakAt: at(day1, "12:30"), Mismatch: 2, Clamped: 1, DwellS: 1200, Members: 40, MemberVisits: 50,
		MemberDwellS: 1500, Baskets: 80, MemberBaskets: 30, Spend: 240000, MemberSpend: 120000,
		OffersShown: 60, OffersRedeemed: 8, OffersWithheld: 12,
		Doors: []edge.DoorDay{{Door: "main", In: 210, Out: 210, StaffIn: 10, StaffOut: 10}},
		Zones: []edge.ZoneDwell{{Zone: "fresh", Visits: 30, DwellS: 240}}})
	s.interval("s1", at(day1, "09:00"), edge.Traffic{In: 999, Visitors: 999, Baskets: 999}) // replaced by the day
	s.day("s1", edge.TrafficDay{Day: "2026-03-03", In: 105, Out: 104, StaffIn: 5, StaffOut: 4, Visitors: 100,
		Peak: 20, DwellS: 900, Members: 25, MemberVisits: 25, Baskets: 30, MemberBaskets: 10,
		Spend: 100000, MemberSpend: 40000, OffersShown: 20, OffersRedeemed: 2, OffersWithheld: 5})
	s.day("s1", edge.TrafficDay{Day: "2026-03-04", In: 5000, Visitors: 5000, Baskets: 5000}) // after the period

	s.day("s2", edge.TrafficDay{Day: "2026-03-02", In: 156, Out: 156, StaffIn: 6, StaffOut: 6, Visitors: 150,
		Peak: 25, Mismatch: 1, Clamped: 3, DwellS: 600, Members: 20, MemberVisits: 30, Baskets: 60, MemberBaskets: 20,
		Spend: 150000, MemberSpend: 60000, OffersShown: 30, OffersRedeemed: 4, OffersWithheld: 6})
	s.interval("s2", at(day2, "09:00"), edge.Traffic{In: 22, Out: 10, StaffIn: 2, Visitors: 20, Occupancy: 10,
		Peak: 12, MemberVisits: 4, Baskets: 8, MemberBaskets: 3, Spend: 24000, MemberSpend: 9000,
		OffersShown: 5, OffersRedeemed: 1, OffersWithheld: 1})
	s.interval("s2", at(day2, "10:00"), edge.Traffic{In: 31, Out: 25, StaffIn: 1, StaffOut: 1, Visitors: 30,
		Occupancy: 15, Peak: 18, Clamped: 1, MemberVisits: 6, Baskets: 12, MemberBaskets: 5, Spend: 36000,
		MemberSpend: 15000, OffersShown: 7, OffersRedeemed: 2, OffersWithheld: 2})

	for i := 1; i <= 10; i++ {
		store := "s1"
		if i > 6 {
			store = "s2"
		}
		m := fmt.Sprintf("m%d", i)
		s.shown(store, at(day1, "10:00"), "o-coffee", m)
		switch {
		case i <= 6:
			s.basket(store, at(day1, "10:20"), m, "bread", "coffee")
		case i == 7:
			s.basket(store, at(day1, "09:00"), m, "coffee")
		case i == 8:
			s.basket(store, at(day1, "10:20"), m, "bread")
		}
		if i <= 3 {
			s.redeemed(store, at(day1, "10:20"), "o-coffee", m)
		}
	}
	s.shown("s2", at(day2, "15:00"), "o-coffee", "m1")
	for i := 1; i <= 4; i++ {
		s.withheld("s1", at(day1, "11:00"), "o-coffee", fmt.Sprintf("h%d", i))
	}
	s.basket("s2", at(day2, "17:00"), "h1", "coffee")
	s.basket("s1", day2.AddDate(0, 0, 2), "h2", "coffee") // after the period
	s.shown("s1", at(day1, "12:00"), "o-coffee", "x1")
	s.withheld("s2", at(day2, "12:00"), "o-coffee", "x1")
	s.shown("s1", day2.AddDate(0, 0, 1), "o-coffee", "m20") // after the period

	s.shown("s1", at(day2, "08:00"), "o-wine", "m1")
	s.shown("s1", at(day2, "08:00"), "o-wine", "m2")
	s.basket("s1", at(day2, "09:00"), "m2", "bread")
	s.withheld("s2", at(day2, "08:30"), "o-wine", "h5")
	s.basket("s2", at(day2, "12:00"), "", "wine") // no member

	s.shown("s2", at(day1, "16:00"), "o-ghost", "m3")
	return s
}

func reportOffers() []wire.Change {
	offer := func(id string, cats []string, holdout float64) wire.Change {
		return wire.Change{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{ID: id, Title: id, Channels: []edge.Channel{edge.ChannelSignage},
			Categories: cats, ValidFrom: day1, ValidTo: day1.AddDate(0, 1, 0), DiscountPct: 20, HoldoutPct: holdout}}
	}
	return []wire.Change{offer("o-coffee", []string{"coffee"}, 20), offer("o-wine", nil, 10)}
}

// fill stores the script, each store's events once by kind and then all
// of them again (every one a duplicate), and appends the offers.
func fill(t *testing.T, sink hq.Sink, cl hq.ChangeLog) {
	t.Helper()
	ctx := context.Background()
	for store, evs := range reportScript().evs {
		byKind := map[edge.Kind][]edge.Event{}
		for _, e := range evs {
			byKind[e.Kind] = append(byKind[e.Kind], e)
		}
		for _, kevs := range byKind {
			ces, err := wire.Encode("acme", store, kevs)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := sink.Store(ctx, "acme", store, ces); err != nil {
				t.Fatal(err)
			}
		}
		ces, err := wire.Encode("acme", store, evs)
		if err != nil {
			t.Fatal(err)
		}
		if ins, dup, err := sink.Store(ctx, "acme", store, ces); err != nil || ins != 0 || dup != len(ces) {
			t.Fatalf("storing %s again: %d inserted, %d duplicates, %v", store, ins, dup, err)
		}
	}
	if _, err := cl.Append(ctx, "acme", reportOffers()); err != nil {
		t.Fatal(err)
	}
}

func reportConfig(t *testing.T, sink string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hq.toml")
	cfg := "[broker]\nurl = \"tcp://127.0.0.1:9\"\nclient_id = \"hq-report\"\n\n[sink]\n" + sink + "\n[downlink]\ntenants = [\"acme\"]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// reportSinks fills an embedded sink and, when REDCARPET_TEST_POSTGRES is
// set, a PostgreSQL schema with the script, and returns their configs.
func reportSinks(t *testing.T) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hq.db")
	b, err := hq.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := b.ChangeLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, b, cl)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cfgs := map[string]string{"embedded": reportConfig(t, fmt.Sprintf("path = %q\n", path))}
	if os.Getenv(pgtest.Env) != "" {
		dsn := pgtest.Schema(t)
		db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fill(t, db.Sink, db.ChangeLog)
		db.Close()
		cfgs["postgres"] = reportConfig(t, fmt.Sprintf("kind = \"postgres\"\ndsn = %q\n", dsn))
	} else {
		t.Logf("%s is not set: the report runs on the embedded sink only", pgtest.Env)
	}
	return cfgs
}

func TestReport(t *testing.T) {
	for name, cfg := range reportSinks(t) {
		t.Run(name, func(t *testing.T) {
			args := []string{"report", "-config", cfg, "-from", "2026-03-02", "-to", "2026-03-03"}
			var out bytes.Buffer
			if err := run(context.Background(), args, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			if first, _, _ := strings.Cut(text, "\n"); strings.Contains(first, "sink ") {
				// The sink's name (a temporary path, or postgres) varies.
				sink := first[strings.Index(first, "sink ")+5 : strings.LastIndex(first, ",")]
				text = strings.Replace(text, "sink "+sink+",", "sink SINK,", 1)
			}
			golden(t, filepath.Join("testdata", "report.golden"), text)

			out.Reset()
			if err := run(context.Background(), append(args, "-json"), &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			var rep retailReport
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("report -json: %v\n%s", err, out.String())
			}
			checkReport(t, &rep)

			out.Reset()
			if err := run(context.Background(), append(args, "-store", "acme/s2", "-json"), &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			rep = retailReport{}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Stores) != 1 || rep.Stores[0].Store != "s2" || rep.Total != nil {
				t.Fatalf("-store acme/s2: stores %+v, total %v", rep.Stores, rep.Total)
			}
			// s2 alone: m7…m10 and m1 were shown o-coffee there and x1 was
			// held out of it; none of them bought coffee there afterwards.
			if l := findOffer(t, rep.Offers, "o-coffee"); l.Exposed != 5 || l.Holdout != 1 || l.ExposedResponders != 0 || l.Lift != nil {
				t.Errorf("o-coffee at s2: %+v", l)
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func near(a *float64, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-9 }

func findOffer(t *testing.T, ls []offerLift, id string) offerLift {
	t.Helper()
	for _, l := range ls {
		if l.OfferID == id {
			return l
		}
	}
	t.Fatalf("no offer %s in %+v", id, ls)
	return offerLift{}
}

// checkReport asserts the key figures of reportScript.
func checkReport(t *testing.T, rep *retailReport) {
	t.Helper()
	if rep.From != "2026-03-02" || rep.To != "2026-03-03" || rep.Days != 2 || len(rep.Stores) != 2 || rep.Total == nil {
		t.Fatalf("report %+v", rep)
	}
	s1, s2 := rep.Stores[0], rep.Stores[1]
	if s1.Store != "s1" || s2.Store != "s2" {
		t.Fatalf("stores %s, %s", s1.Store, s2.Store)
	}
	// s1: two closed days.
	if s1.Visitors != 300 || s1.Baskets != 110 || s1.Spend != 340000 || s1.CompleteDays != 2 || s1.PartialDays != 0 {
		t.Errorf("s1 = %+v", s1.figures)
	}
	if !near(s1.Conversion, 110.0/300) || s1.SpendPerVisitor == nil || *s1.SpendPerVisitor != 1133 {
		t.Errorf("s1 conversion %v, spend per visitor %v; want 0.3667, 11.33", s1.Conversion, s1.SpendPerVisitor)
	}
	if !near(s1.MeanDwellS, 1100) || !near(s1.MemberVisitShare, 0.25) || !near(s1.MemberSpendShare, 160000.0/340000) {
		t.Errorf("s1 dwell %v, member visits %v, member spend %v", s1.MeanDwellS, s1.MemberVisitShare, s1.MemberSpendShare)
	}
	if s1.Peak != 35 || s1.PeakDay != "2026-03-02" || s1.Entries != 315 || s1.StaffCrossings != 29 || s1.Mismatch != 2 || s1.Clamped != 1 {
		t.Errorf("s1 traffic %+v", s1.figures)
	}
	// s2: day 2 summed from its intervals.
	if d := s2.Days[1]; d.Source != sourceIntervals || d.Intervals != 2 || d.Visitors != 50 || d.Baskets != 20 || d.Peak != 18 || d.MeanDwellS != nil {
		t.Errorf("s2 day 2 = %+v", d)
	}
	if s2.CompleteDays != 1 || s2.PartialDays != 1 || s2.Visitors != 200 || !near(s2.Conversion, 0.4) ||
		s2.SpendPerVisitor == nil || *s2.SpendPerVisitor != 1050 || !near(s2.MeanDwellS, 600) {
		t.Errorf("s2 = %+v", s2.figures)
	}
	if tot := rep.Total; tot.Visitors != 500 || !near(tot.Conversion, 190.0/500) || *tot.SpendPerVisitor != 1100 {
		t.Errorf("total = %+v", tot)
	}

	coffee := findOffer(t, rep.Offers, "o-coffee")
	if coffee.Exposed != 10 || coffee.Holdout != 4 || coffee.InBoth != 1 || coffee.Redeemed != 3 ||
		coffee.ExposedResponders != 6 || coffee.HoldoutResponders != 1 || coffee.Response != responseCategories {
		t.Errorf("o-coffee = %+v", coffee)
	}
	if !near(coffee.ExposedResponse, 0.6) || !near(coffee.HoldoutResponse, 0.25) || !near(coffee.Lift, 1.4) || !near(coffee.RedemptionRate, 0.3) {
		t.Errorf("o-coffee rates %v %v lift %v", coffee.ExposedResponse, coffee.HoldoutResponse, coffee.Lift)
	}
	wine := findOffer(t, rep.Offers, "o-wine")
	if wine.Exposed != 2 || wine.ExposedResponders != 1 || wine.Holdout != 1 || wine.HoldoutResponders != 0 ||
		wine.Lift != nil || wine.Response != responseNoCategory {
		t.Errorf("o-wine = %+v", wine)
	}
	ghost := findOffer(t, rep.Offers, "o-ghost")
	if ghost.Exposed != 1 || ghost.Holdout != 0 || ghost.Lift != nil || ghost.Response != responseOfferAbsent {
		t.Errorf("o-ghost = %+v", ghost)
	}
}

func TestReportFlags(t *testing.T) {
	cfg := reportSinks(t)["embedded"]
	var ue usageError
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-from", "2026-3-2"}, `-from "2026-3-2" is not a day (YYYY-MM-DD)`},
		{[]string{"-to", "yesterday"}, `-to "yesterday" is not a day`},
		{[]string{"-from", "2026-03-04", "-to", "2026-03-02"}, "-from 2026-03-04 is after -to 2026-03-02"},
		{[]string{"-store", "s1"}, `-store: store "s1" is not tenant/store`},
		{[]string{"-store", "acme/S1"}, "is not tenant/store"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		err := run(context.Background(), append([]string{"report", "-config", cfg}, tc.args...), io.Discard, io.Discard)
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("report %q = %v; want a usage error with %q", tc.args, err, tc.want)
		}
	}
	err := run(context.Background(), []string{"report", "-config", cfg, "-store", "acme/s9"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no events of store acme/s9") {
		t.Errorf("report of an unknown store = %v", err)
	}
	if err := run(context.Background(), []string{"report", "-h"}, io.Discard, io.Discard); err != nil {
		t.Errorf("report -h = %v", err)
	}
}

// TestReportDefaultPeriod: without -from and -to, the report covers the
// last seven days up to today in downlink.timezone.
func TestReportDefaultPeriod(t *testing.T) {
	cfg := reportSinks(t)["embedded"]
	var out bytes.Buffer
	now := time.Date(2026, 3, 3, 23, 30, 0, 0, time.FixedZone("X", -2*3600)) // 2026-03-04 in UTC
	if err := cmdReport([]string{"-config", cfg, "-json"}, &out, io.Discard, now); err != nil {
		t.Fatal(err)
	}
	var rep retailReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.From != "2026-02-26" || rep.To != "2026-03-04" || rep.Days != 7 || rep.TimeZone != "UTC" {
		t.Errorf("default period %s .. %s (%d days, %s)", rep.From, rep.To, rep.Days, rep.TimeZone)
	}
	// The day after the scripted period is in it now.
	if s1 := rep.Stores[0]; s1.CompleteDays != 3 || s1.Visitors != 5300 {
		t.Errorf("s1 over the default period: %+v", s1.figures)
	}
	if err := cmdReport([]string{"-config", cfg, "-from", "2026-03-05"}, io.Discard, io.Discard, now); err == nil ||
		!strings.Contains(err.Error(), "-from 2026-03-05 is after -to 2026-03-04") {
		t.Errorf("-from after the default -to: %v", err)
	}
}
