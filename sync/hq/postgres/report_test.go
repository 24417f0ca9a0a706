package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/pgtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// retailEvents returns one event of each retail kind for store s1 (and a
// played offer and a kind this build does not know, which PostgreSQL
// keeps in other_events), and a basket for s2. Times are around
// hqtest.T0 (2026-03-02 09:00 UTC).
func retailEvents(tb testing.TB) map[string][]wire.CloudEvent {
	tb.Helper()
	t0 := hqtest.T0
	reset := 3
	ev := func(id string, k edge.Kind, t time.Time) edge.Event {
		return edge.Event{ID: id, Kind: k, Source: "engine", Time: t}
	}
	shown := ev("ep-1", edge.KindOfferShown, t0)
	shown.Exposure = &edge.Exposure{OfferID: "o-1", MemberID: "m-1", Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1,
		DiscountPct: 25.5, Cell: "switcher/heavy"}
	held := ev("ep-2", edge.KindWithheld, t0.Add(time.Hour))
	held.Withheld = &edge.Exposure{OfferID: "o-1", MemberID: "m-2", Channel: edge.ChannelCheckout, Screen: "lane-2", Rank: 2}
	basket := ev("ep-3", edge.KindBasket, t0.Add(2*time.Hour)) // at the end of the period queried: out
	basket.Basket = &edge.BasketClosed{BasketID: "b-1", Lane: "1", MemberID: "m-2", Items: 2, Subtotal: 1000, Total: 1000,
		Currency: "EUR", Categories: []string{"coffee"}}
	interval := ev("ep-4", edge.KindTraffic, t0)
	interval.Traffic = &edge.Traffic{Start: t0.Add(-15 * time.Minute), End: t0, Day: "2026-03-02", In: 12, Out: 4,
		StaffIn: 2, StaffOut: 1, Visitors: 10, Occupancy: 30, Peak: 31, Clamped: 1, Reset: &reset, MemberVisits: 3,
		Baskets: 5, MemberBaskets: 2, Spend: 12345, MemberSpend: 4500, Currency: "EUR", OffersShown: 4, OffersRedeemed: 1,
		OffersWithheld: 1}
	day := ev("ep-5", edge.KindTrafficDay, t0.Add(15*time.Hour))
	day.Day = &edge.TrafficDay{Day: "2026-03-02", Start: t0.Add(-9 * time.Hour), End: t0.Add(15 * time.Hour), In: 210,
		Out: 209, StaffIn: 10, StaffOut: 9, Visitors: 200, Peak: 35, PeakAt: t0.Add(3 * time.Hour), Mismatch: 1, Clamped: 2,
		DwellS: 1200, Members: 40, MemberVisits: 50, MemberDwellS: 1500, Baskets: 80, MemberBaskets: 30, Spend: 240050,
		MemberSpend: 120000, Currency: "EUR", OffersShown: 60, OffersRedeemed: 8, OffersWithheld: 12,
		Doors: []edge.DoorDay{{Door: "main", In: 210, Out: 209, StaffIn: 10, StaffOut: 9}},
		Zones: []edge.ZoneDwell{{Zone: "fresh", Visits: 30, DwellS: 240}}}
	later := ev("ep-6", edge.KindTrafficDay, t0.Add(87*time.Hour))
	later.Day = &edge.TrafficDay{Day: "2026-03-05", Currency: "EUR"}
	visit := ev("ep-7", edge.KindVisit, t0.Add(30*time.Minute))
	visit.Visit = &edge.Visit{MemberID: "m-1", Start: t0.Add(-10 * time.Minute), End: t0.Add(30 * time.Minute), DwellS: 2400,
		EntryDoor: "main", Zones: []edge.ZoneVisit{{Zone: "fresh", First: t0, Last: t0.Add(5 * time.Minute), DwellS: 600}},
		Lanes: []string{"1"}, Baskets: 1, Spend: 2350, Ended: "gap"}
	ff := hqtest.Footfall("ep-8")
	ff.Footfall.StaffIn, ff.Footfall.StaffOut = 1, 2
	played := ev("ep-9", edge.KindPlayed, t0.Add(time.Minute))
	played.Played = &edge.Played{OfferID: "o-1", Zone: "fresh", Screen: "scr-1", Started: t0, DurationMS: 8000}

	s1 := encode(tb, "acme", "s1", shown, held, basket, interval, day, later, visit, ff, played)
	s1 = append(s1, raw("acme", "s1", "ep-10", "future.kind", `{"x":1}`))
	s1[len(s1)-1].Time = t0.Add(90 * time.Minute)
	b2 := ev("ep-1", edge.KindBasket, t0)
	b2.Basket = &edge.BasketClosed{BasketID: "b-2", Lane: "1", Currency: "EUR"}
	return map[string][]wire.CloudEvent{"s1": s1, "s2": encode(tb, "acme", "s2", b2)}
}

// reportsSink is a sink with its Reports and its change log.
type reportsSink interface {
	hq.Sink
	Reports
}

// reportsAnswers stores retailEvents in s (twice: the second time all are
// duplicates) and renders what Reports answers, data decoded so that
// jsonb's normal form compares equal.
func reportsAnswers(t *testing.T, s reportsSink, cl hq.ChangeLog) string {
	t.Helper()
	evs := retailEvents(t)
	for _, store := range []string{"s1", "s2"} {
		if ins, dup := mustStore(t, s, "acme", store, evs[store]); ins != len(evs[store]) || dup != 0 {
			t.Fatalf("%s: %d inserted, %d duplicates", store, ins, dup)
		}
		if ins, dup := mustStore(t, s, "acme", store, evs[store]); ins != 0 || dup != len(evs[store]) {
			t.Fatalf("%s again: %d inserted, %d duplicates", store, ins, dup)
		}
	}
	if _, err := cl.Append(context.Background(), "acme", []wire.Change{
		{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{ID: "o-2", Title: "Tea", Categories: []string{"tea"}, HoldoutPct: 10}},
		{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{ID: "o-1", Title: "Coffee", Categories: []string{"coffee"}, HoldoutPct: 20}},
		{Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{ID: "o-3", Title: "Gone"}},
		{Kind: wire.ChangeOfferDelete, OfferID: "o-3"},
	}); err != nil {
		t.Fatal(err)
	}

	var b strings.Builder
	stores, err := s.Stores()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "stores %v\n", stores)
	collect := func(what string, err error, got []wire.CloudEvent) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		fmt.Fprintf(&b, "%s:\n", what)
		for _, e := range got {
			var data any
			if err := json.Unmarshal(e.Data, &data); err != nil {
				t.Fatalf("%s: %s: %v", what, e.ID, err)
			}
			fmt.Fprintf(&b, "  %s %s %s %s %v\n", e.ID, e.Type, e.Source, e.Time.UTC().Format(time.RFC3339Nano), data)
		}
	}
	t0 := hqtest.T0
	var got []wire.CloudEvent
	add := func(e wire.CloudEvent) error { got = append(got, e); return nil }
	err = s.Events("acme", "s1", []string{"basket.closed", "offer.withheld", "offer.shown", "future.kind", "offer.shown"}, t0, t0.Add(2*time.Hour), add)
	collect("events s1 [T0, T0+2h)", err, got)
	got = nil
	err = s.Events("acme", "s1", []string{"offer.played", "visit.closed", "footfall.interval"}, t0.Add(-time.Hour), t0.Add(time.Hour), add)
	collect("events s1 played, visits, footfall", err, got)
	got = nil
	err = s.Events("acme", "s2", []string{"basket.closed"}, t0.Add(time.Hour), t0.Add(2*time.Hour), add)
	collect("events s2 later", err, got)
	got = nil
	err = s.Events("acme", "s9", []string{"basket.closed"}, t0.Add(-time.Hour), t0.Add(time.Hour), add)
	collect("events of a store without events", err, got)
	got = nil
	err = s.Traffic("acme", "s1", "2026-03-01", "2026-03-04", add)
	collect("traffic s1 2026-03-01..04", err, got)
	got = nil
	err = s.Traffic("acme", "s1", "2026-03-05", "2026-03-05", add)
	collect("traffic s1 2026-03-05", err, got)
	for _, bad := range [][2]string{{"2026-03-02", "2026-03-01"}, {"2026-3-1", "2026-03-02"}, {"2026-03-01", ""}} {
		if err := s.Traffic("acme", "s1", bad[0], bad[1], add); err == nil {
			t.Errorf("Traffic(%q, %q) accepted", bad[0], bad[1])
		}
	}
	// fn's error ends the scan and is returned.
	stop := fmt.Errorf("stop")
	n := 0
	if err := s.Traffic("acme", "s1", "2026-03-01", "2026-03-31", func(wire.CloudEvent) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Traffic with a failing fn = %v after %d calls", err, n)
	}
	n = 0
	if err := s.Events("acme", "s1", []string{"offer.shown", "offer.withheld"}, t0, t0.Add(time.Hour*3), func(wire.CloudEvent) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Events with a failing fn = %v after %d calls", err, n)
	}
	for _, tenant := range []string{"acme", "other"} {
		offers, err := s.Offers(tenant)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "offers of %s:", tenant)
		for _, o := range offers {
			fmt.Fprintf(&b, " %s %q %v %g;", o.ID, o.Title, o.Categories, o.HoldoutPct)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// wantAnswers is what both sinks answer for retailEvents.
const wantAnswers = `stores [acme/s1 acme/s2]
events s1 [T0, T0+2h):
  ep-1 com.redcarpet.offer.shown.v1 /redcarpet/v1/acme/s1 2026-03-02T09:00:00Z map[cell:switcher/heavy channel:signage discount_pct:25.5 member_id:m-1 offer_id:o-1 rank:1 screen:fresh]
  ep-2 com.redcarpet.offer.withheld.v1 /redcarpet/v1/acme/s1 2026-03-02T10:00:00Z map[channel:checkout member_id:m-2 offer_id:o-1 rank:2 screen:lane-2]
  ep-10 com.redcarpet.future.kind.v1 /redcarpet/v1/acme/s1 2026-03-02T10:30:00Z map[x:1]
events s1 played, visits, footfall:
  ep-8 com.redcarpet.footfall.interval.v1 /redcarpet/v1/acme/s1 2026-03-02T09:00:00Z map[door:main end:2026-03-02T09:00:00Z in:4 occupancy:9 out:3 staff_in:1 staff_out:2 start:2026-03-02T08:45:00Z]
  ep-9 com.redcarpet.offer.played.v1 /redcarpet/v1/acme/s1 2026-03-02T09:01:00Z map[duration_ms:8000 offer_id:o-1 screen:scr-1 started:2026-03-02T09:00:00Z zone:fresh]
  ep-7 com.redcarpet.visit.closed.v1 /redcarpet/v1/acme/s1 2026-03-02T09:30:00Z map[baskets:1 dwell_s:2400 end:2026-03-02T09:30:00Z ended:gap entry_door:main lanes:[1] member_id:m-1 spend:23.5 start:2026-03-02T08:50:00Z zones:[map[dwell_s:600 first:2026-03-02T09:00:00Z last:2026-03-02T09:05:00Z zone:fresh]]]
events s2 later:
events of a store without events:
traffic s1 2026-03-01..04:
  ep-5 com.redcarpet.traffic.day.v1 /redcarpet/v1/acme/s1 2026-03-03T00:00:00Z map[baskets:80 clamped:2 currency:EUR day:2026-03-02 doors:[map[door:main in:210 out:209 staff_in:10 staff_out:9]] dwell_s:1200 end:2026-03-03T00:00:00Z in:210 member_baskets:30 member_dwell_s:1500 member_spend:1200 member_visits:50 members:40 mismatch:1 offers_redeemed:8 offers_shown:60 offers_withheld:12 out:209 peak:35 peak_at:2026-03-02T12:00:00Z spend:2400.5 staff_in:10 staff_out:9 start:2026-03-02T00:00:00Z visitors:200 zones:[map[dwell_s:240 visits:30 zone:fresh]]]
  ep-4 com.redcarpet.traffic.interval.v1 /redcarpet/v1/acme/s1 2026-03-02T09:00:00Z map[baskets:5 clamped:1 currency:EUR day:2026-03-02 end:2026-03-02T09:00:00Z in:12 member_baskets:2 member_spend:45 member_visits:3 occupancy:30 offers_redeemed:1 offers_shown:4 offers_withheld:1 out:4 peak:31 reset:3 spend:123.45 staff_in:2 staff_out:1 start:2026-03-02T08:45:00Z visitors:10]
traffic s1 2026-03-05:
  ep-6 com.redcarpet.traffic.day.v1 /redcarpet/v1/acme/s1 2026-03-06T00:00:00Z map[baskets:0 clamped:0 currency:EUR day:2026-03-05 doors:<nil> dwell_s:0 end:0001-01-01T00:00:00Z in:0 member_baskets:0 member_dwell_s:0 member_spend:0 member_visits:0 members:0 mismatch:0 offers_redeemed:0 offers_shown:0 out:0 peak:0 spend:0 staff_in:0 staff_out:0 start:0001-01-01T00:00:00Z visitors:0 zones:<nil>]
offers of acme: o-1 "Coffee" [coffee] 20; o-2 "Tea" [tea] 10;
offers of other:
`

// TestReportsConformance stores the same events in the embedded sink and
// in PostgreSQL and checks that both give the same answers (the
// PostgreSQL subtest skips without REDCARPET_TEST_POSTGRES).
func TestReportsConformance(t *testing.T) {
	t.Run("bolt", func(t *testing.T) {
		b, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		cl, err := b.ChangeLog(nil)
		if err != nil {
			t.Fatal(err)
		}
		checkAnswers(t, reportsAnswers(t, b, cl))
	})
	t.Run("postgres", func(t *testing.T) {
		db := openDB(t, Options{})
		checkAnswers(t, reportsAnswers(t, db.Sink, db.ChangeLog))
	})
}

func checkAnswers(t *testing.T, got string) {
	t.Helper()
	if got != wantAnswers {
		t.Errorf("answers:\n%s\nwant:\n%s", got, wantAnswers)
	}
}

// TestSinkTypedColumnsRetail reads the typed columns of the retail kinds
// back.
func TestSinkTypedColumnsRetail(t *testing.T) {
	db := openDB(t, Options{})
	evs := retailEvents(t)
	mustStore(t, db.Sink, "acme", "s1", evs["s1"])
	queries := []struct{ sql, want string }{
		{`SELECT offer_id, member_id, channel, screen, rank, discount_pct, cell FROM exposures`,
			"o-1 m-1 signage fresh 1 25.5 switcher/heavy"},
		{`SELECT offer_id, member_id, channel, screen, rank, coalesce(discount_pct, -1), cell = '' FROM withheld_offers`,
			"o-1 m-2 checkout lane-2 2 -1 true"},
		{`SELECT interval_start, interval_end, trading_day, people_in, people_out, staff_in, staff_out, visitors, occupancy,
			peak, clamped, reset, member_visits, baskets, member_baskets, spend, member_spend, currency,
			offers_shown, offers_redeemed, offers_withheld FROM traffic_intervals`,
			"2026-03-02T08:45:00Z 2026-03-02T09:00:00Z 2026-03-02T00:00:00Z 12 4 2 1 10 30 31 1 3 3 5 2 123.45 45.00 EUR 4 1 1"},
		{`SELECT trading_day, day_start, day_end, people_in, people_out, staff_in, staff_out, visitors, peak, peak_at,
			mismatch, clamped, dwell_s, members, member_visits, member_dwell_s, baskets, member_baskets, spend, member_spend,
			currency, offers_shown, offers_redeemed, offers_withheld, CASE jsonb_typeof(data->'doors') WHEN 'array' THEN jsonb_array_length(data->'doors') END FROM traffic_days ORDER BY trading_day`,
			"2026-03-02T00:00:00Z 2026-03-02T00:00:00Z 2026-03-03T00:00:00Z 210 209 10 9 200 35 2026-03-02T12:00:00Z 1 2 1200 40 50 1500 80 30 2400.50 1200.00 EUR 60 8 12 1|" +
				"2026-03-05T00:00:00Z <nil> <nil> 0 0 0 0 0 0 <nil> 0 0 0 0 0 0 0 0 0 0 EUR 0 0 0 <nil>"},
		{`SELECT member_id, visit_start, visit_end, dwell_s, entry_door, exit_door = '', baskets, spend, ended,
			data->'zones'->0->>'zone' FROM member_visits`,
			"m-1 2026-03-02T08:50:00Z 2026-03-02T09:30:00Z 2400 main true 1 23.50 gap fresh"},
		{`SELECT people_in, staff_in, staff_out FROM footfall_intervals`, "4 1 2"},
		{`SELECT kind FROM other_events ORDER BY kind`, "future.kind|offer.played"},
	}
	for _, q := range queries {
		if got := queryText(t, db, q.sql); got != q.want {
			t.Errorf("%s\n got %q\nwant %q", q.sql, got, q.want)
		}
	}
	// A trading day that is not a date can never be stored.
	bad := raw("acme", "s1", "ep-99", KindTrafficDay, `{"day":"2026-02-30"}`)
	if _, _, err := db.Sink.Store(context.Background(), "acme", "s1", []wire.CloudEvent{bad}); err == nil ||
		!strings.Contains(err.Error(), "not YYYY-MM-DD") {
		t.Errorf("Store of a bad day = %v", err)
	}
}

// TestUpgradeTo3 upgrades a database at migration 2 that an older build
// filled: events of the retail kinds it kept in other_events move to their
// tables (but one whose data does not fit its kind), and the new columns
// of exposures and footfall_intervals are filled from the data.
func TestUpgradeTo3(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		if _, err := conn.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	// As the older build stored them.
	for _, e := range retailEvents(t)["s1"] {
		var err error
		switch k, _ := wire.KindOf(e.Type); k {
		case edge.KindOfferShown:
			_, err = conn.Exec(ctx, `INSERT INTO exposures (tenant, store, event_id, time, offer_id, member_id, channel, screen, rank, data)
				VALUES ('acme', 's1', $1, $2, 'o-1', 'm-1', 'signage', 'fresh', 1, $3::text::jsonb)`, e.ID, e.Time, string(e.Data))
		case edge.KindFootfall:
			_, err = conn.Exec(ctx, `INSERT INTO footfall_intervals (tenant, store, event_id, time, door, people_in, people_out, occupancy, data)
				VALUES ('acme', 's1', $1, $2, 'main', 4, 3, 9, $3::text::jsonb)`, e.ID, e.Time, string(e.Data))
		case edge.KindBasket:
			continue
		default:
			_, err = conn.Exec(ctx, `INSERT INTO other_events (tenant, store, event_id, kind, time, data)
				VALUES ('acme', 's1', $1, $2, $3, $4::text::jsonb)`, e.ID, string(k), e.Time, string(e.Data))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO other_events (tenant, store, event_id, kind, time, data)
		VALUES ('acme', 's1', 'ep-11', 'traffic.interval', now(), '{"in":"twelve"}')`); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []struct{ sql, want string }{
		{`SELECT max(version) FROM schema_migrations`, fmt.Sprint(len(ms))},
		{`SELECT event_id, kind FROM other_events ORDER BY event_id`, "ep-10 future.kind|ep-11 traffic.interval|ep-9 offer.played"},
		{`SELECT event_id, visitors, spend, trading_day FROM traffic_intervals`, "ep-4 10 123.45 2026-03-02T00:00:00Z"},
		{`SELECT event_id, trading_day FROM traffic_days ORDER BY event_id`, "ep-5 2026-03-02T00:00:00Z|ep-6 2026-03-05T00:00:00Z"},
		{`SELECT event_id, discount_pct, cell FROM exposures`, "ep-1 25.5 switcher/heavy"},
		{`SELECT event_id, member_id FROM withheld_offers`, "ep-2 m-2"},
		{`SELECT event_id, dwell_s FROM member_visits`, "ep-7 2400"},
		{`SELECT event_id, staff_in, staff_out FROM footfall_intervals`, "ep-8 1 2"},
	} {
		if got := queryText(t, db, q.sql); got != q.want {
			t.Errorf("%s\n got %q\nwant %q", q.sql, got, q.want)
		}
	}
	var got []string
	err = db.Sink.Traffic("acme", "s1", "2026-03-02", "2026-03-02", func(e wire.CloudEvent) error {
		got = append(got, e.ID)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, []string{"ep-5", "ep-4"}) {
		t.Errorf("Traffic after the upgrade = %v, %v", got, err)
	}
}

// TestIngestRetailKinds publishes the retail kinds on their topics, each
// message twice, through an Ingest worker into the embedded sink and into
// PostgreSQL: every event is stored once and found by Reports.
func TestIngestRetailKinds(t *testing.T) {
	t.Run("bolt", func(t *testing.T) {
		b, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ingestRetail(t, b)
	})
	t.Run("postgres", func(t *testing.T) {
		ingestRetail(t, openDB(t, Options{}).Sink)
	})
}

func ingestRetail(t *testing.T, s reportsSink) {
	b := hqtest.NewBroker(t)
	in := runIngest(t, hq.Options{Broker: b.URL, ClientID: "hq-retail", Sink: s})
	pub := hqtest.NewPublisher(t, b.URL)
	sent := 0
	for store, evs := range retailEvents(t) {
		byKind := map[edge.Kind][]wire.CloudEvent{}
		for _, e := range evs {
			if k, _ := wire.KindOf(e.Type); k.Topic() != "" {
				byKind[k] = append(byKind[k], e)
			}
		}
		for k, ces := range byKind {
			payload, err := wire.MarshalBatch(ces)
			if err != nil {
				t.Fatal(err)
			}
			pub.Publish(t, wire.UplinkTopic("acme", store, k), payload)
			pub.Publish(t, wire.UplinkTopic("acme", store, k), payload)
			sent += len(ces)
		}
	}
	waitFor(t, "every event stored once", func() bool {
		st := in.Stats()
		return st.Inserted == uint64(sent) && st.Duplicates == uint64(sent)
	})
	if st := in.Stats(); st.Rejected != 0 {
		t.Errorf("rejected %d messages", st.Rejected)
	}
	var ids []string
	collect := func(e wire.CloudEvent) error { ids = append(ids, e.ID); return nil }
	t0 := hqtest.T0
	kinds := []string{KindTraffic, KindTrafficDay, KindVisit, KindWithheld, "offer.shown"}
	if err := s.Events("acme", "s1", kinds, t0.Add(-time.Hour), t0.Add(100*time.Hour), collect); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ep-1", "ep-4", "ep-7", "ep-2", "ep-5", "ep-6"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("Events = %v, want %v", ids, want)
	}
}
