package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// The store dashboard in headless Chromium (see browser_test.go for the
// set-up): a daemon whose engine clock reads Tuesday 24 November, 15:40 in
// the store, with a traffic history of that Tuesday so far and of Tuesday
// 17 November, shows both days per hour, the figures of today against last
// week, and the devices; a change in the history reaches the page without
// a reload. With REDCARPET_SCREENSHOTS=<dir> it writes <dir>/dashboard.png
// (1280x800):
//
//	REDCARPET_TEST_CHROMIUM=/usr/bin/chromium REDCARPET_SCREENSHOTS=$PWD/docs/screenshots \
//	  go test -count=1 -run TestBrowserDashboard ./cmd/redcarpet/

// dashboardQuarter is a plausible 15-minute interval of the demo store
// starting at start: a late-morning and an evening rush, a quarter of the
// visitors paying, members paying two baskets in five. scale sets the
// day's level.
func dashboardQuarter(start time.Time, loc *time.Location, scale float64) edge.Traffic {
	lt := start.In(loc)
	h := float64(lt.Hour()) + float64(lt.Minute())/60 + 7.5/60
	bump := func(at, width float64) float64 { return math.Exp(-(h - at) * (h - at) / (2 * width * width)) }
	v := int(math.Round(scale * (6 + 26*bump(11.8, 1.3) + 18*bump(17.9, 1.4) + 5*math.Sin(float64(lt.Minute()+lt.Day()*7)))))
	v = max(v, 1)
	baskets := int(math.Round(float64(v) * (0.24 + 0.03*math.Sin(h))))
	spend := edge.Money(baskets) * edge.Money(2150+int(300*math.Cos(h)))
	occ := int(math.Round(float64(v) * 1.4))
	return edge.Traffic{
		Start: start, End: start.Add(15 * time.Minute), Day: lt.Format(time.DateOnly),
		In: v + 1, StaffIn: 1, Out: v, StaffOut: 1, Visitors: v, Occupancy: occ, Peak: occ + 3,
		MemberVisits: v * 3 / 10, Baskets: baskets, MemberBaskets: baskets * 2 / 5,
		Spend: spend, MemberSpend: spend * 9 / 20, Currency: "EUR",
		OffersShown: v * 3 / 10, OffersRedeemed: v / 14,
	}
}

// dashboardHistory returns the quarters of a trading day of the demo
// store, from opening until until.
func dashboardHistory(open, until time.Time, loc *time.Location, scale float64) []edge.Traffic {
	var ts []edge.Traffic
	for s := open; s.Before(until); s = s.Add(15 * time.Minute) {
		ts = append(ts, dashboardQuarter(s, loc, scale))
	}
	return ts
}

func keepTraffic(t *testing.T, d *daemon, ts []edge.Traffic) {
	t.Helper()
	evs := make([]edge.Event, len(ts))
	for i := range ts {
		evs[i] = edge.Event{Kind: edge.KindTraffic, Source: "engine", Time: ts[i].End, Traffic: &ts[i]}
	}
	if err := d.db.outbox.Append(evs); err != nil {
		t.Fatal(err)
	}
}

func visitorsIn(ts []edge.Traffic) int {
	return edge.SumTraffic(ts).Visitors
}

// thousands formats n as the page does (en: 1,234).
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestBrowserDashboard(t *testing.T) {
	browser := chromium(t)

	cfg, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir = t.TempDir()
	l := listen(t)
	cfg.HQ.Broker = "tcp://" + l.Addr().String() // HQ is unreachable: the dashboard needs none of it
	l.Close()
	loc := cfg.Store.Location()

	// The engine's clock: Tuesday 24 November, 15:40 in the store, going on
	// from there.
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, loc) }
	began, start := time.Now(), at(24, 15, 40)
	clock := func() time.Time { return start.Add(time.Since(began)) }

	ln := listen(t)
	base := "http://" + ln.Addr().String()
	idle := func(ctx context.Context, _ chan<- edge.Event) error { <-ctx.Done(); return nil }
	d, err := newDaemon(cfg, daemonOpts{logger: slog.New(slog.DiscardHandler), listener: ln, now: clock,
		drivers: []driver{{devices: cfg.Devices, open: always(idle)}}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	// Last Tuesday in full; today until the quarter that is running.
	lastWeek := dashboardHistory(at(17, 8, 30), at(17, 20, 30), loc, 1)
	today := dashboardHistory(at(24, 8, 30), at(24, 15, 30), loc, 1.08)
	keepTraffic(t, d, lastWeek)
	keepTraffic(t, d, today)
	if err := d.start(); err != nil {
		d.db.Close()
		t.Fatal(err)
	}
	defer d.stop()

	// Every device reports up; then the car park counter reports a
	// blocked beam, as a degraded device does.
	eventually(t, pageWait, "every device to report", func() bool {
		devs := d.engine.Stats().Devices
		return len(devs) == len(cfg.Devices)
	})
	send(t, d, edge.Event{Kind: edge.KindDeviceStatus, Source: "car-park-counter", Device: &edge.DeviceStatus{
		Device: "car-park-counter", Kind: "sim_door", State: edge.DeviceDegraded, Detail: "beam B blocked for 40 s"}})
	eventually(t, pageWait, "the degraded counter", func() bool {
		for _, dev := range d.engine.Stats().Devices {
			if dev.Device == "car-park-counter" {
				return dev.State == edge.DeviceDegraded
			}
		}
		return false
	})

	// Shoppers come in through both doors during the running quarter.
	for _, c := range []struct {
		door string
		dir  edge.Direction
		n    int
	}{{"main-door-counter", edge.In, 30}, {"car-park-counter", edge.In, 12}, {"main-door-counter", edge.Out, 4}} {
		send(t, d, edge.Event{Kind: edge.KindDoorCrossing, Source: c.door, Crossing: &edge.Crossing{Dir: c.dir, Count: c.n}})
	}
	eventually(t, pageWait, "38 shoppers inside", func() bool {
		st := d.engine.Stats()
		return st.Occupancy == 38 || (st.Today != nil && st.Today.Occupancy == 38)
	})

	tabs := openTabs(t, browser, []screen{{"dashboard", base + "/dashboard?refresh=1", 1280, 800}})
	page := tabs["dashboard"]

	// Today's visitors: the history's, and those of the quarter the
	// engine is counting, once it counts visitors per quarter.
	all := today
	if st := d.engine.Stats(); st.Today != nil {
		for _, q := range st.Today.Intervals {
			if !q.Start.Before(today[len(today)-1].End) {
				all = append(all[:len(all):len(all)], q)
			}
		}
	}
	counted := visitorsIn(all)
	// 08:00 to 20:00 on the axis: today has 08:00 to 15:00, last week
	// every hour.
	visitors := thousands(counted)
	page.waitFor("the chart and today's visitors",
		`document.querySelectorAll("#chart svg g.hour").length === 13 && `+
			`document.querySelectorAll("#chart rect.bar.today").length === 8 && `+
			`document.querySelectorAll("#chart rect.bar.last").length === 13 && `+
			`document.getElementById("visitors").textContent === `+js(visitors))
	page.check("the current hour marked as so far", `document.querySelectorAll("#chart rect.bar.today.now").length === 1 && `+
		`document.querySelector("#chart g.hour.now").dataset.hour === "15:00"`)
	page.check("hour labels in store time", `[...document.querySelectorAll("#chart text.xlab")].map(e => e.textContent).join() === `+
		js("08:00,09:00,10:00,11:00,12:00,13:00,14:00,15:00,16:00,17:00,18:00,19:00,20:00"))
	page.check("the legend", `document.getElementById("legend-today").textContent === "Today, Tue 24 Nov" && `+
		`document.getElementById("legend-last").textContent === "Tue 17 Nov"`)
	page.check("the store clock", `document.getElementById("clock").textContent.startsWith("Tue 24 Nov, 15:4")`)
	lwSoFar := edge.SumUntil(lastWeek, clock().AddDate(0, 0, -7))
	page.check("last week up to the same time", `document.getElementById("visitors-cmp").textContent.includes(`+
		js(thousands(lwSoFar.Visitors)+" by 15:4")+`)`)
	sum := edge.SumTraffic(all)
	conv, _ := sum.Conversion()
	page.check("the conversion", `document.getElementById("conversion").textContent === `+
		js(strconv.FormatFloat(math.Round(conv*1000)/10, 'f', -1, 64)+"%"))
	spv, _ := sum.SpendPerVisitor()
	page.check("the spend per visitor", `document.getElementById("spend").textContent === `+js("€"+spv.String()))
	page.check("offers redeemed and shown", `document.getElementById("offers").textContent === `+
		js(fmt.Sprintf("%d of %d", sum.OffersRedeemed, sum.OffersShown)))
	page.check("the shoppers inside", `document.getElementById("occupancy").textContent === "38"`)
	page.check("the devices, the degraded one first", `document.querySelectorAll("#devices li").length === `+strconv.Itoa(len(cfg.Devices))+` && `+
		`document.querySelector("#devices li").dataset.state === "degraded" && `+
		`document.getElementById("devices-summary").textContent === "1 of `+strconv.Itoa(len(cfg.Devices))+` need attention"`)
	page.check("no member on the page", `!/M-\d|member_id/.test(document.documentElement.outerHTML)`)
	page.screenshot("dashboard.png")

	// On a tablet held upright the page fits the width and the chart is
	// drawn for it.
	tablet := openTabs(t, browser, []screen{{"dashboard on a tablet", base + "/dashboard", 800, 1280}})["dashboard on a tablet"]
	tablet.waitFor("the chart", `document.querySelectorAll("#chart rect.bar.last").length === 13`)
	tablet.check("no sideways scrolling", `document.documentElement.scrollWidth <= window.innerWidth && `+
		`document.querySelector("#chart svg").getBoundingClientRect().right <= window.innerWidth`)

	// The 15:15 quarter is counted again with 40 more visitors: the page,
	// never reloaded, shows them at its next refresh.
	eval[int](page, `window.redcarpetTestMark = 1`)
	late := today[len(today)-1]
	late.Visitors += 40
	late.In += 40
	keepTraffic(t, d, []edge.Traffic{late})
	page.waitFor("the new visitors without a reload", `document.getElementById("visitors").textContent === `+
		js(thousands(counted+40))+` && `+notReloaded)

}
