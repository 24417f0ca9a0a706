package signage

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestUnknownPlaceIs404(t *testing.T) {
	_, ts := newTestServer(t, testOptions(), nil)
	for _, tc := range []struct{ path, reason string }{
		{"/signage/dairy", `unknown zone "dairy" (zones configured: bakery, fresh)`},
		{"/signage/dairy/events", `unknown zone "dairy"`},
		{"/signage/dairy/loop", `unknown zone "dairy"`},
		{"/checkout/9", `unknown lane "9" (lanes configured: 1, 2)`},
		{"/checkout/9/events", `unknown lane "9"`},
		{"/nowhere", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, ts.URL+tc.path)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %s, want 404", resp.Status)
			}
			if !strings.Contains(body, tc.reason) {
				t.Errorf("body %q, want it to say %q", body, tc.reason)
			}
		})
	}
}

func TestOnlyGET(t *testing.T) {
	_, ts := newTestServer(t, testOptions(), nil)
	for _, path := range []string{
		"/", "/api/overview", "/signage/fresh", "/signage/fresh/loop", "/signage/fresh/events",
		"/checkout/1", "/checkout/1/events", "/healthz", "/readyz", "/metrics", "/assets/style.css",
	} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %s, want 405", method, path, resp.Status)
			}
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var notReady error
	o := testOptions()
	o.Ready = func() error { return notReady }
	_, ts := newTestServer(t, o, nil)

	if resp, body := get(t, ts.URL+"/healthz"); resp.StatusCode != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %s %q", resp.Status, body)
	}
	if resp, _ := get(t, ts.URL+"/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz while ready: %s", resp.Status)
	}
	notReady = errors.New("outbox not open")
	resp, body := get(t, ts.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "outbox not open") {
		t.Errorf("/readyz while not ready: %s %q, want 503 with the reason", resp.Status, body)
	}

	// Without a Ready func the gateway is always ready.
	_, ts = newTestServer(t, testOptions(), nil)
	if resp, _ := get(t, ts.URL+"/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz without Ready: %s", resp.Status)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "redcarpet_test_events_total", Help: "Test."})
	reg.MustRegister(c)
	c.Add(3)
	o := testOptions()
	o.Registry = reg
	s, ts := newTestServer(t, o, nil)
	openEvents(t, ts.URL+"/signage/fresh/events")
	s.ShowSignage("dairy", testOffer("x"))

	_, body := get(t, ts.URL+"/metrics")
	for _, want := range []string{
		"redcarpet_test_events_total 3",
		`redcarpet_signage_stream_clients{channel="signage",place="fresh"} 1`,
		`redcarpet_signage_frames_dropped_total{channel="checkout",place="2"} 0`,
		`redcarpet_signage_unknown_place_total{channel="signage"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "go_goroutines") {
		t.Error("/metrics serves the default registry")
	}

	// Without a registry, /metrics still serves the stream metrics.
	_, ts = newTestServer(t, testOptions(), nil)
	if resp, body := get(t, ts.URL+"/metrics"); resp.StatusCode != 200 || !strings.Contains(body, "redcarpet_signage_stream_clients") {
		t.Errorf("/metrics without a registry: %s\n%s", resp.Status, body)
	}
}

func TestOverviewJSON(t *testing.T) {
	stats := edge.Stats{
		At:            time.Date(2026, 4, 20, 10, 30, 0, 0, time.UTC),
		IntervalStart: time.Date(2026, 4, 20, 10, 30, 0, 0, time.UTC),
		Occupancy:     42,
		Doors:         []edge.DoorStats{{Door: "main", In: 5, Out: 3, InToday: 120, OutToday: 78}},
		Devices:       []edge.DeviceStatus{{Device: "door-main", Kind: "ir_beams", State: edge.DeviceUp}},
		Recognised:    17, UnknownCards: 2, OffersShown: 9, Committed: 31,
	}
	status := map[string]any{"outbox_backlog": 4.0, "uplink_connected": true, "broker": "tcp://hq:1883"}
	o := testOptions()
	o.Stats = func() edge.Stats { return stats }
	o.Status = func() map[string]any { return status }
	_, ts := newTestServer(t, o, nil)

	resp, body := get(t, ts.URL+"/api/overview")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got struct {
		Store   string         `json:"store"`
		Stats   edge.Stats     `json:"stats"`
		Status  map[string]any `json:"status"`
		Screens Stats          `json:"screens"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Store != "Lyon Part-Dieu" {
		t.Errorf("store %q", got.Store)
	}
	if !reflect.DeepEqual(got.Stats, stats) {
		t.Errorf("stats\n got %+v\nwant %+v", got.Stats, stats)
	}
	if !reflect.DeepEqual(got.Status, status) {
		t.Errorf("status %v, want %v", got.Status, status)
	}
	if _, ok := got.Screens.Zones["fresh"]; !ok {
		t.Errorf("screens %+v lack zone fresh", got.Screens)
	}

	// Without Stats and Status the document is still complete.
	_, ts = newTestServer(t, testOptions(), nil)
	_, body = get(t, ts.URL+"/api/overview")
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"screens", "stats", "status", "store"}) {
		t.Errorf("overview keys %v", keys)
	}
	if _, ok := raw["status"].(map[string]any); !ok {
		t.Errorf("status %v, want an object", raw["status"])
	}
}

var assetRE = regexp.MustCompile(`(?:src|href)="(/assets/[^"?]+)\?v=[0-9a-f]+"`)

func TestPages(t *testing.T) {
	o := testOptions()
	o.StoreName = `Lyon <Part-Dieu>`
	_, ts := newTestServer(t, o, nil)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{"Lyon &lt;Part-Dieu&gt;", `href="/signage/fresh"`, `href="/checkout/2"`}},
		{"/signage/fresh", []string{"Lyon &lt;Part-Dieu&gt;", "Fresh produce", `data-events="/signage/fresh/events"`, `data-loop="/signage/fresh/loop"`, "Spring market"}},
		{"/checkout/2", []string{"Lyon &lt;Part-Dieu&gt;", "Lane 2", `data-events="/checkout/2/events"`}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, ts.URL+tc.path)
			if resp.StatusCode != 200 {
				t.Fatalf("%s", resp.Status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(body, "<Part-Dieu>") {
				t.Error("store name is not escaped")
			}
			if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Error("page refers to another host; the gateway has no internet")
			}
			assets := assetRE.FindAllStringSubmatch(body, -1)
			if len(assets) < 2 {
				t.Errorf("page links %d assets, want the stylesheet and its scripts", len(assets))
			}
			for _, m := range assets {
				resp, _ := get(t, ts.URL+m[1])
				if resp.StatusCode != 200 {
					t.Errorf("%s: %s", m[1], resp.Status)
				}
			}
		})
	}
	if resp, _ := get(t, ts.URL+"/assets/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/assets/ lists files: %s", resp.Status)
	}
}

func TestSignageLoop(t *testing.T) {
	o := testOptions()
	o.TimeZone = "Europe/Paris"
	o.Slides = append(o.Slides,
		configs.Slide{Title: "Breakfast", Days: "mon-fri", From: "07:00", Until: "10:30", Zones: []string{"bakery"}},
		configs.Slide{Title: "Fresh fish on Fridays", Days: "fri", Zones: []string{"fresh"}})
	_, ts := newTestServer(t, o, nil)
	_, body := get(t, ts.URL+"/signage/bakery/loop")
	var got loop
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	every := [7]bool{true, true, true, true, true, true, true}
	want := loop{Store: "Lyon Part-Dieu", Zone: "bakery", Name: "Bakery", TimeZone: "Europe/Paris", Slides: []loopSlide{
		{Title: "Spring market", Body: "Local strawberries are here", ShowForMS: 6000, Days: every, Until: 1440},
		{Title: "Fresh bread", Image: "/media/bread.jpg", ShowForMS: defaultSlide.Milliseconds(), Days: every, Until: 1440},
		{Title: "Breakfast", ShowForMS: defaultSlide.Milliseconds(), Days: [7]bool{false, true, true, true, true, true, false}, From: 7 * 60, Until: 10*60 + 30},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loop\n got %+v\nwant %+v", got, want)
	}
}

// TestSignageShowsNoPersonalData feeds offers for members and checks that
// nothing but the allowed fields reaches a public screen.
func TestSignageShowsNoPersonalData(t *testing.T) {
	s, ts := newTestServer(t, testOptions(), nil)

	private := &edge.Member{ID: "M-000123", FirstName: "Zelda", Tier: "platinum", Segment: "seg-families", Stage: edge.StageLapsing}
	consented := &edge.Member{ID: "M-000456", FirstName: "Ada", Tier: "platinum", Segment: "seg-families", Stage: edge.StageLapsing, GreetByName: true}

	resp, err := client.Get(ts.URL + "/signage/fresh/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, m := range []*edge.Member{private, consented} {
		v := testOffer("Apples")
		v.Greeting = edge.Greeting(m)
		s.ShowSignage("fresh", v)
	}

	var emitted strings.Builder
	var frames []string
	r := bufio.NewReader(resp.Body)
	for len(frames) < 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		emitted.WriteString(line)
		if data, ok := strings.CutPrefix(line, "data: "); ok && data != "{}\n" {
			frames = append(frames, data)
		}
	}
	for _, path := range []string{"/signage/fresh", "/signage/fresh/loop"} {
		_, body := get(t, ts.URL+path)
		emitted.WriteString(body)
	}

	all := emitted.String()
	for _, secret := range []string{"M-000123", "M-000456", "Zelda", "platinum", "seg-families", "lapsing", `"member`} {
		if strings.Contains(all, secret) {
			t.Errorf("signage emitted %q", secret)
		}
	}
	if !strings.Contains(frames[1], "Hello Ada!") {
		t.Errorf("consented greeting missing from %s", frames[1])
	}

	// The exact shape of an offer frame. Adding a key here puts it on every
	// public screen in the chain: it must be offer text, never member data.
	allowed := map[string][]string{
		"":      {"at", "greeting", "offer", "show_for_ms"},
		"offer": {"body", "discount_pct", "id", "title", "valid_to"},
	}
	for _, f := range frames {
		var top map[string]json.RawMessage
		if err := json.Unmarshal([]byte(f), &top); err != nil {
			t.Fatal(err)
		}
		var offer map[string]json.RawMessage
		if err := json.Unmarshal(top["offer"], &offer); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, allowed[""]) {
			t.Errorf("offer frame keys %v, want %v", got, allowed[""])
		}
		if got := slices.Sorted(maps.Keys(offer)); !slices.Equal(got, allowed["offer"]) {
			t.Errorf("offer frame offer keys %v, want %v", got, allowed["offer"])
		}
	}
}

// TestSignageViewFieldsReviewed fails when edge.SignageView or
// edge.OfferView gains a field. publicOffer copies fields by name, so a new
// field never reaches the screens unnoticed; this test makes sure someone
// decides whether it should, and updates publicOffer and this list.
func TestSignageViewFieldsReviewed(t *testing.T) {
	for typ, reviewed := range map[reflect.Type][]string{
		reflect.TypeFor[edge.SignageView](): {"Greeting", "Offer", "ShowForMS", "At"},
		reflect.TypeFor[edge.OfferView]():   {"ID", "Title", "Body", "DiscountPct", "ValidTo"},
	} {
		var fields []string
		for i := range typ.NumField() {
			fields = append(fields, typ.Field(i).Name)
		}
		if !slices.Equal(fields, reviewed) {
			t.Errorf("%v has fields %v; reviewed for public screens: %v", typ, fields, reviewed)
		}
	}
}

func TestReadinessListsDevicesNotUp(t *testing.T) {
	o := testOptions()
	o.Stats = func() edge.Stats {
		return edge.Stats{Devices: []edge.DeviceStatus{
			{Device: "lane-1-scanner", Kind: "serial_scanner", State: edge.DeviceDown, Detail: "open /dev/ttyUSB0: no such file or directory"},
			{Device: "main-door-beams", Kind: "ir_beams", State: edge.DeviceDegraded, Detail: "beam A obstructed for 10s"},
			{Device: "entrance-rfid", Kind: "mfrc522", State: edge.DeviceUp},
		}}
	}
	_, ts := newTestServer(t, o, nil)
	resp, body := get(t, ts.URL+"/readyz")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "ready, degraded\n") {
		t.Errorf("/readyz with devices down: %s %q, want 200 and degraded", resp.Status, body)
	}
	for _, want := range []string{
		"device lane-1-scanner (serial_scanner): down: open /dev/ttyUSB0: no such file or directory",
		"device main-door-beams (ir_beams): degraded: beam A obstructed for 10s",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "entrance-rfid") {
		t.Errorf("/readyz lists a device that is up:\n%s", body)
	}
}
