package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Browser tests: the signage and checkout pages run in real headless
// Chromium (driven over the DevTools protocol by chromedp) against a daemon
// on a loopback port, with card reads and scans injected into its inbox as
// the drivers would send them.
//
// REDCARPET_TEST_CHROMIUM names the Chromium binary (.ci/run sets
// /usr/bin/chromium). Unset, the tests skip; set to a binary that is missing
// or does not start, they fail.
//
// REDCARPET_SCREENSHOTS=<dir> also writes the README's screenshots,
// <dir>/signage.png (1920x1080, a member's offer) and <dir>/checkout.png
// (1280x800, a basket with an applied offer); without it nothing is
// captured (a full-HD capture takes seconds on a loaded machine). The
// directory is relative to the package: from the repository root,
//
//	REDCARPET_TEST_CHROMIUM=/usr/bin/chromium REDCARPET_SCREENSHOTS=$PWD/docs/screenshots \
//	  go test -count=1 -run TestBrowser ./cmd/redcarpet/
const (
	chromiumEnv    = "REDCARPET_TEST_CHROMIUM"
	screenshotsEnv = "REDCARPET_SCREENSHOTS"

	// pageWait bounds each wait for a page to show something. The event
	// streams reconnect 3 s after losing the gateway; the rest is room for
	// a loaded CI machine.
	pageWait = 15 * time.Second
)

// chromium starts the headless Chromium named by REDCARPET_TEST_CHROMIUM
// with a fresh profile and returns its browser context: each tab is a
// child context. The browser is closed when the test ends.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv(chromiumEnv)
	if path == "" {
		t.Skipf("%s is not set: the browser tests need headless Chromium (.ci/run sets it)", chromiumEnv)
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("%s=%s: %v (Debian: apt-get install chromium)", chromiumEnv, path, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		// The machine may have no internet: nothing but the pages may go
		// on the network.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"), // money and dates as the assertions expect
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		// Close gracefully (the profile directory is removed next), then
		// wait for the process.
		ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		_ = chromedp.Cancel(ctx)
		cancelBrowser()
		cancelAlloc()
	})
	// The first action starts the browser; its context must not have a
	// timeout (it would end the browser), so the launch is bounded here.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("%s=%s does not start: %v", chromiumEnv, path, err)
		}
	case <-time.After(30 * time.Second):
		cancelBrowser()
		<-started
		t.Fatalf("%s=%s did not start within 30s", chromiumEnv, path)
	}
	return bctx
}

// tab is one page in the browser. JavaScript exceptions and console errors
// of the page fail the test.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context

	console  sync.WaitGroup // reads the page's console until ctx ends
	mu       sync.Mutex
	problems []string
}

// screen is a page to open: its URL and viewport.
type screen struct {
	name, url string
	w, h      int64
}

// openTabs opens each screen in a tab of its own, in parallel: creating a
// tab takes Chromium a second or two. Each tab has a browser context of
// its own (cookies, connections), as each screen of a store is a device of
// its own: Chromium opens at most 6 connections to one host per profile,
// and every page holds one for its event stream.
func openTabs(t *testing.T, browser context.Context, screens []screen) map[string]*tab {
	t.Helper()
	tabs := map[string]*tab{}
	errs := make(chan error, len(screens))
	var wg sync.WaitGroup
	for _, s := range screens {
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		b := &tab{t: t, name: s.name, ctx: ctx}
		t.Cleanup(func() {
			cancel()
			b.console.Wait()
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, p := range b.problems {
				t.Errorf("%s: page error: %s", b.name, p)
			}
		})
		tabs[s.name] = b
		wg.Go(func() {
			if err := b.open(s.url, s.w, s.h); err != nil {
				errs <- fmt.Errorf("%s: open %s: %w", s.name, s.url, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return tabs
}

// open creates the tab, starts collecting its console and loads url.
func (b *tab) open(url string, w, h int64) error {
	// Subscribe before navigating, so no message is lost.
	console := chromedp.Console(b.ctx)
	b.console.Go(func() {
		for m, err := range console {
			if err != nil {
				return // the tab is closed
			}
			// Failed requests while the gateway is down are log entries of
			// the network source; only the page's own errors count.
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source == "") {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	})
	ctx, cancel := context.WithTimeout(b.ctx, pageWait)
	defer cancel()
	return chromedp.Do(ctx, chromedp.EmulateViewport(w, h), chromedp.Navigate(url))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// waitFor waits until the JavaScript predicate holds in the page, or fails
// the test with what it waited for and what the page shows.
func (b *tab) waitFor(what, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageWait+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(pageWait)))
	if err != nil {
		b.t.Fatalf("%s: waiting %s for %s: %v\nthe page shows: %q", b.name, pageWait, what, err, b.text())
	}
}

// check fails the test unless the JavaScript predicate holds now.
func (b *tab) check(what, predicate string) {
	b.t.Helper()
	if !eval[bool](b, predicate) {
		b.t.Errorf("%s: want %s\nthe page shows: %q", b.name, what, b.text())
	}
}

// text is the page's visible text, for failure messages.
func (b *tab) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) > 600 {
		return string(r[:600]) + "…"
	}
	return string(r)
}

// screenshot captures the viewport, once every animation has finished, to
// $REDCARPET_SCREENSHOTS/name when that is set.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return
	}
	b.waitFor("animations to finish", `document.getAnimations().every(a => `+
		`a.playState !== "running" || a.effect.getComputedTiming().endTime === Infinity)`)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Fatalf("%s: screenshot: %v (%d bytes)", b.name, err, len(png))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s", filepath.Join(dir, name))
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Page states, as JavaScript predicates over the pages' element ids.
func offerShown(title, greeting string) string {
	return `document.getElementById("offer").classList.contains("show") && ` +
		`document.getElementById("offer-title").textContent === ` + js(title) + ` && ` +
		`document.getElementById("offer-greeting").textContent === ` + js(greeting)
}

// neverOffered: the screen has never been given an offer.
const neverOffered = `!document.getElementById("offer").classList.contains("show") && ` +
	`document.getElementById("offer-title").textContent === "" && document.getElementById("loop").classList.contains("show")`

func memberShown(name string) string {
	return `!document.getElementById("member").hidden && document.getElementById("m-name").textContent === ` + js(name)
}

// noMember: the terminal has never shown a member.
const noMember = `document.getElementById("member").hidden && document.getElementById("m-name").textContent === "" && ` +
	`!document.getElementById("idle").hidden`

func basketShown(total, discount edge.Money, applied string) string {
	return `!document.getElementById("basket").hidden && ` +
		`document.getElementById("b-total").textContent === ` + js(total.String()) + ` && ` +
		`document.getElementById("b-discount").textContent === ` + js("−"+discount.String()) + ` && ` +
		`!!document.querySelector('#m-offers li.applied[data-offer=` + js(applied) + `]')`
}

// notReloaded: the page is the document marked before the restart.
const notReloaded = `window.redcarpetTestMark === 1`

// The browser test's store: two members, three offers.
var (
	anna = edge.MemberRecord{
		Member: edge.Member{ID: "M-1001", FirstName: "Anna", Tier: "gold", Stage: edge.StageActive, GreetByName: true,
			Affinity: map[string]float64{"fruit": 0.6, "dairy": 0.4}},
		Cards: [][]byte{{0x04, 0xA2, 0x3B, 0x91}}, Loyalty: "0410000001233",
	}
	bruno = edge.MemberRecord{
		Member: edge.Member{ID: "M-1002", FirstName: "Bruno", Tier: "silver", Stage: edge.StageActive, GreetByName: true,
			Affinity: map[string]float64{"bakery": 1}},
		Cards: [][]byte{{0x04, 0x5C, 0x77, 0x10}}, Loyalty: "0410000002346",
	}
)

func browserOffers(now time.Time) []edge.Offer {
	both := []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout}
	from, to := now.Add(-time.Hour), now.AddDate(0, 0, 7)
	return []edge.Offer{
		{ID: "apples-20", Title: "20% off Loire valley apples", Body: "Crisp, local and in season this week.",
			Channels: both, Categories: []string{"fruit"}, ValidFrom: from, ValidTo: to, DiscountPct: 20},
		{ID: "cheese-15", Title: "15% off Savoie cheeses", Body: "Comté, Beaufort and Tomme, cut to order.",
			Channels: both, Categories: []string{"dairy"}, ValidFrom: from, ValidTo: to, DiscountPct: 15},
		{ID: "bread-10", Title: "10% off sourdough loaves", Body: "Baked here every morning.",
			Channels: both, Categories: []string{"bakery"}, ValidFrom: from, ValidTo: to, DiscountPct: 10},
	}
}

// browserDaemon starts a daemon for cfg on addr, its devices driven by
// nothing (the test injects their events), seeded on first start.
func browserDaemon(t *testing.T, cfg *configs.Config, addr string) *daemon {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	idle := func(ctx context.Context, _ chan<- edge.Event) error { <-ctx.Done(); return nil }
	d, err := newDaemon(cfg, daemonOpts{logger: slog.New(slog.DiscardHandler), listener: ln,
		drivers: []driver{{devices: cfg.Devices, open: always(idle)}}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	if err := seed(d, []edge.MemberRecord{anna, bruno}, browserOffers(time.Now())); err != nil {
		d.db.Close()
		ln.Close()
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// send injects a device event as the device's driver would.
func send(t *testing.T, d *daemon, ev edge.Event) {
	t.Helper()
	ev.Time = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.inbox.Send(ctx, ev); err != nil {
		t.Fatalf("send %s from %s: %v", ev.Kind, ev.Source, err)
	}
}

func cardRead(device string, m edge.MemberRecord) edge.Event {
	return edge.Event{Kind: edge.KindCardRead, Source: device, Card: &edge.CardRead{UID: m.Cards[0]}}
}

func loyaltyScan(device string, m edge.MemberRecord) edge.Event {
	return edge.Event{Kind: edge.KindScan, Source: device, Scan: &edge.Scan{Code: m.Loyalty, Class: edge.ScanLoyalty}}
}

// putLines sets a lane's basket lines through the POS API, as the till does.
func putLines(t *testing.T, base, lane, token string, lines []edge.Line) edge.CheckoutView {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"lines": lines})
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/lanes/"+lane+"/basket/lines", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v edge.CheckoutView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT basket lines on lane %s: %s (%v)", lane, resp.Status, err)
	}
	return v
}

// currentBasket is the lane's basket as the engine holds it.
func currentBasket(t *testing.T, d *daemon, lane string) edge.CheckoutView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := d.engine.CurrentBasket(ctx, lane)
	if err != nil || v.Basket == nil {
		t.Fatalf("lane %s basket: %+v, %v", lane, v.Basket, err)
	}
	return v
}

// streamsConnected waits until every page has its event stream open on d.
func streamsConnected(t *testing.T, d *daemon, cfg *configs.Config) {
	t.Helper()
	eventually(t, pageWait, "every page's event stream to connect", func() bool {
		st := d.web.Stats()
		for _, z := range cfg.Zones {
			if st.Zones[z.ID].Clients != 1 {
				return false
			}
		}
		for _, l := range cfg.Lanes {
			if st.Lanes[l.ID].Clients != 1 {
				return false
			}
		}
		return true
	})
}

// TestBrowserSignageAndCheckout drives the signage page of every zone and
// the checkout page of every lane in headless Chromium: a card read shows
// the member's offer on the signage of that zone only; a loyalty scan at
// lane 2 shows the member on lane 2's terminal only; the cashier applies an
// offer with a key and the basket is repriced; the daemon restarts on the
// same address and data, and the pages, never reloaded, reconnect, show the
// restored basket and react to new events.
func TestBrowserSignageAndCheckout(t *testing.T) {
	browser := chromium(t)

	cfg, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir = t.TempDir()
	l := listen(t)
	hqAddr := l.Addr().String() // HQ is unreachable: the store works without it
	l.Close()
	cfg.HQ.Broker = "tcp://" + hqAddr
	// Short offers and slides, so the loop is seen playing.
	cfg.Offers.SignageShowFor = configs.D(4 * time.Second)
	for i := range cfg.Signage.Slides {
		cfg.Signage.Slides[i].ShowFor = configs.D(time.Second)
	}
	l = listen(t)
	addr := l.Addr().String() // both daemons serve the pages here
	l.Close()
	base := "http://" + addr

	d := browserDaemon(t, cfg, addr)
	defer func() {
		if d != nil {
			d.stop()
		}
	}()

	var screens []screen
	for _, z := range cfg.Zones {
		screens = append(screens, screen{"signage/" + z.ID, base + "/signage/" + z.ID, 1920, 1080})
	}
	for _, l := range cfg.Lanes {
		screens = append(screens, screen{"checkout/" + l.ID, base + "/checkout/" + l.ID + "?token=" + d.laneTokens[l.ID], 1280, 800})
	}
	tabs := openTabs(t, browser, screens)
	signage, checkout := map[string]*tab{}, map[string]*tab{}
	for _, z := range cfg.Zones {
		signage[z.ID] = tabs["signage/"+z.ID]
	}
	for _, l := range cfg.Lanes {
		checkout[l.ID] = tabs["checkout/"+l.ID]
	}
	for _, l := range cfg.Lanes {
		checkout[l.ID].waitFor("the terminal to be logged in and connected",
			`location.search === "" && document.getElementById("link").textContent === "connected"`)
	}
	streamsConnected(t, d, cfg)
	others := func(places []configs.Place, except string) []string {
		var ids []string
		for _, p := range places {
			if p.ID != except {
				ids = append(ids, p.ID)
			}
		}
		return ids
	}

	// A card read at the fresh produce reader: Anna's offer on the fresh
	// produce screen, on no other.
	send(t, d, cardRead("fresh-reader", anna))
	signage["fresh"].waitFor("Anna's apple offer", offerShown("20% off Loire valley apples", "Hello Anna!"))
	signage["fresh"].screenshot("signage.png")
	for _, z := range others(cfg.Zones, "fresh") {
		signage[z].check("no offer on another zone's screen", neverOffered)
		if n := d.web.Stats().Zones[z].Sent; n != 0 {
			t.Errorf("signage/%s was sent %d frames, want none", z, n)
		}
	}

	// Anna's loyalty card scanned at lane 2: Anna on lane 2's terminal
	// only.
	send(t, d, loyaltyScan("lane-2-scanner", anna))
	lane2 := checkout["2"]
	lane2.waitFor("Anna on the member panel", memberShown("Anna"))
	lane2.check("her tier", `document.getElementById("m-tier").textContent === "gold"`)
	for _, l := range others(cfg.Lanes, "2") {
		checkout[l].check("no member on another lane's terminal", noMember)
		if n := d.web.Stats().Lanes[l].Sent; n != 0 {
			t.Errorf("checkout/%s was sent %d frames, want none", l, n)
		}
	}

	// The till sends the basket; the cashier applies the cheese offer with
	// its key; the basket is repriced on the page as in the engine.
	v := putLines(t, base, "2", d.laneTokens["2"], []edge.Line{
		{SKU: "apples-gala-1kg", Category: "fruit", Qty: 1, UnitPrice: 329},
		{SKU: "comte-aop-250g", Category: "dairy", Qty: 1, UnitPrice: 549},
		{SKU: "yogurt-nature-4x125g", Category: "dairy", Qty: 2, UnitPrice: 249},
		{SKU: "baguette-tradition", Category: "bakery", Qty: 2, UnitPrice: 125},
	})
	lane2.waitFor("the basket's lines", `document.querySelectorAll("#b-lines tr").length === 4 && `+
		`document.getElementById("b-total").textContent === `+js(v.Basket.Total.String()))
	i := slices.IndexFunc(v.Offers, func(o edge.BasketOffer) bool { return o.ID == "cheese-15" })
	if i < 0 || v.Offers[i].AppliesTo <= 0 {
		t.Fatalf("lane 2 offers %+v: want cheese-15 applicable", v.Offers)
	}
	lane2.check("the cheese offer under key "+strconv.Itoa(i+1),
		`document.querySelectorAll("#m-offers li")[`+strconv.Itoa(i)+`].dataset.offer === "cheese-15"`)
	if err := chromedp.Do(lane2.ctx, chromedp.KeyEvent(strconv.Itoa(i+1))); err != nil {
		t.Fatal(err)
	}
	var applied edge.CheckoutView
	eventually(t, pageWait, "the engine to apply the offer", func() bool {
		applied = currentBasket(t, d, "2")
		return applied.Basket.Discount > 0
	})
	if b := applied.Basket; b.Subtotal != v.Basket.Subtotal || b.Total != b.Subtotal-b.Discount {
		t.Errorf("basket after applying: subtotal %s, discount %s, total %s (before: %s)", b.Subtotal, b.Discount, b.Total, v.Basket.Subtotal)
	}
	lane2.waitFor("the applied offer and the new total", basketShown(applied.Basket.Total, applied.Basket.Discount, "cheese-15"))
	lane2.screenshot("checkout.png")

	// The daemon stops. The pages stay (they are never reloaded): the
	// signage keeps playing its loop, the terminal says it lost the
	// gateway.
	for _, b := range tabs {
		eval[int](b, `window.redcarpetTestMark = 1`)
	}
	err = d.stop()
	d = nil
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	lane2.waitFor("the terminal to show the outage",
		`!document.getElementById("offline").hidden && document.getElementById("link").textContent === "reconnecting…"`)
	fresh := signage["fresh"]
	fresh.waitFor("the loop after the offer", `document.getElementById("loop").classList.contains("show") && `+
		`!document.getElementById("offer").classList.contains("show")`)
	slide := eval[string](fresh, `document.getElementById("slide-title").textContent`)
	fresh.waitFor("the next slide while the gateway is down", `document.getElementById("slide-title").textContent !== `+js(slide))
	// Blank what the terminal shows of the basket: after the restart it
	// must come from the new daemon.
	eval[bool](lane2, `document.getElementById("b-total").textContent = ""; document.getElementById("m-offers").replaceChildren(); true`)

	// A new daemon on the same address and data directory: the pages
	// reconnect by themselves; the terminal shows the open basket the
	// engine restored.
	d = browserDaemon(t, cfg, addr)
	streamsConnected(t, d, cfg)
	restored := currentBasket(t, d, "2")
	if restored.Basket.ID != applied.Basket.ID || restored.Basket.Total != applied.Basket.Total {
		t.Errorf("basket after restart %s total %s, want %s total %s",
			restored.Basket.ID, restored.Basket.Total, applied.Basket.ID, applied.Basket.Total)
	}
	lane2.waitFor("the restored basket", `document.getElementById("link").textContent === "connected" && `+
		`document.getElementById("offline").hidden && `+memberShown("Anna")+` && `+
		basketShown(applied.Basket.Total, applied.Basket.Discount, "cheese-15"))

	// New events reach the reconnected pages.
	send(t, d, cardRead("fresh-reader", bruno))
	fresh.waitFor("Bruno's bread offer after the restart", offerShown("10% off sourdough loaves", "Hello Bruno!"))
	send(t, d, loyaltyScan("lane-2-scanner", bruno))
	lane2.waitFor("Bruno on the member panel after the restart", memberShown("Bruno"))

	for _, z := range others(cfg.Zones, "fresh") {
		signage[z].check("still no offer on another zone's screen", neverOffered)
	}
	for _, l := range others(cfg.Lanes, "2") {
		checkout[l].check("still no member on another lane's terminal", noMember)
	}
	for _, b := range tabs {
		b.check("the same document as before the restart (never reloaded)", notReloaded)
	}
}
