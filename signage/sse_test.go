package signage

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// waitTimeout bounds every wait for something the server should do soon.
const waitTimeout = 10 * time.Second

// Test tokens: lane 1 and lane 2 terminals and the admin.
const (
	testLane1Token = "lane-1-token-0123456789"
	testLane2Token = "lane-2-token-0123456789"
	testAdminToken = "admin-token-0123456789ab"
)

// adminTransport sends the admin token with every request, as the
// checkout pages and streams need a token.
type adminTransport struct{}

func (adminTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+testAdminToken)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// client is the tests' HTTP client: the admin token, no redirects followed.
var client = &http.Client{Transport: adminTransport{}, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

func testOptions() Options {
	return Options{
		LaneTokens: map[string]string{"1": testLane1Token, "2": testLane2Token},
		AdminToken: testAdminToken,
		StoreName:  "Lyon Part-Dieu",
		Zones:      []configs.Place{{ID: "fresh", Name: "Fresh produce"}, {ID: "bakery", Name: "Bakery"}},
		Lanes:      []configs.Place{{ID: "1", Name: "Lane 1"}, {ID: "2", Name: "Lane 2"}},
		Slides: []configs.Slide{
			{Title: "Spring market", Body: "Local strawberries are here", ShowFor: configs.D(6 * time.Second)},
			{Title: "Fresh bread", Image: "/media/bread.jpg"},
		},
	}
}

// newTestServer serves New(o) over real TCP with NewHTTPServer's settings.
// setup, if not nil, adjusts the Server and the http.Server before the
// first request.
func newTestServer(t *testing.T, o Options, setup func(*Server, *http.Server)) (*Server, *httptest.Server) {
	t.Helper()
	s := New(o)
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = NewHTTPServer(s.Handler())
	if setup != nil {
		setup(s, ts.Config)
	}
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(s.CloseStreams) // before ts.Close, which waits for the streams
	return s, ts
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// event is one dispatched server-sent event.
type event struct{ name, data string }

// sseClient reads an event stream the way EventSource does.
type sseClient struct {
	events chan event // closed when the stream ends
}

// openEvents opens the event stream at url. When it returns, the server has
// subscribed the client: every frame published from then on reaches it.
func openEvents(t *testing.T, url string) *sseClient {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("GET %s: %s = %q, want %q", url, k, got, want)
		}
	}
	c := &sseClient{events: make(chan event, 64)}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch {
			case line == "":
				if ev.data != "" {
					if ev.name == "" {
						ev.name = "message"
					}
					select {
					case c.events <- ev:
					case <-stop:
						return
					}
				}
				ev = event{}
			case field == "event":
				ev.name = value
			case field == "data":
				ev.data += value
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		resp.Body.Close()
		<-done
	})
	return c
}

// next returns the next event other than a ping.
func (c *sseClient) next(t *testing.T) event {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.name != "ping" {
				return ev
			}
		case <-timeout:
			t.Fatal("timed out waiting for an event")
		}
	}
}

// clock is a settable Options.Now.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) set(t time.Time)     { c.t.Store(&t) }
func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

func testOffer(title string) edge.SignageView {
	return edge.SignageView{
		Greeting:  "Welcome back!",
		Offer:     edge.OfferView{ID: "of-" + title, Title: title, Body: "Only this week", DiscountPct: 20, ValidTo: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)},
		ShowForMS: 10000,
		At:        time.Date(2026, 4, 20, 10, 30, 0, 0, time.UTC),
	}
}
