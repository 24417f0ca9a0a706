package signage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestShowSignageReachesOnlyItsZone(t *testing.T) {
	s, ts := newTestServer(t, testOptions(), nil)
	fresh := openEvents(t, ts.URL+"/signage/fresh/events")
	bakery := openEvents(t, ts.URL+"/signage/bakery/events")

	want := testOffer("Strawberries")
	s.ShowSignage("fresh", want)
	ev := fresh.next(t)
	if ev.name != "offer" {
		t.Fatalf("fresh got event %q, want offer", ev.name)
	}
	var got edge.SignageView
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fresh got %+v, want %+v", got, want)
	}

	// Frames reach a client in order: had the fresh offer gone to the
	// bakery too, it would arrive before this one.
	s.ShowSignage("bakery", testOffer("Croissants"))
	if ev := bakery.next(t); !strings.Contains(ev.data, "Croissants") {
		t.Errorf("bakery got %s %s, want only the croissant offer", ev.name, ev.data)
	}
	waitFor(t, "sent counters", func() bool {
		st := s.Stats()
		return st.Zones["fresh"].Sent == 1 && st.Zones["bakery"].Sent == 1
	})
	if st := s.Stats().Zones["fresh"]; st.Clients != 1 || st.Dropped != 0 {
		t.Errorf("fresh stats %+v, want 1 client and no drops", st)
	}
}

func TestShowCheckoutReachesOnlyItsLane(t *testing.T) {
	s, ts := newTestServer(t, testOptions(), nil)
	lane1 := openEvents(t, ts.URL+"/checkout/1/events")
	lane2 := openEvents(t, ts.URL+"/checkout/2/events")

	want := edge.CheckoutView{
		At: time.Date(2026, 4, 20, 10, 31, 0, 0, time.UTC), Known: true, Via: edge.ViaCard,
		Member: &edge.MemberView{ID: "M-1001", FirstName: "Ada", Tier: "gold", Stage: edge.StageActive},
		Offers: []edge.BasketOffer{{OfferView: edge.OfferView{ID: "of-1", Title: "Coffee beans", Body: "Any 1 kg bag", DiscountPct: 15}}},
	}
	s.ShowCheckout("2", want)
	ev := lane2.next(t)
	if ev.name != "member" {
		t.Fatalf("lane 2 got event %q, want member", ev.name)
	}
	var got edge.CheckoutView
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lane 2 got %+v, want %+v", got, want)
	}

	unknown := edge.CheckoutView{At: want.At, Known: false, Via: edge.ViaBarcode}
	s.ShowCheckout("1", unknown)
	ev = lane1.next(t)
	if strings.Contains(ev.data, "M-1001") {
		t.Fatalf("lane 1 got lane 2's member: %s", ev.data)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(ev.data), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["known"] != false || raw["member"] != nil {
		t.Errorf("unknown card frame %s: want known false and no member", ev.data)
	}
	if offers, ok := raw["offers"].([]any); !ok || len(offers) != 0 {
		t.Errorf("unknown card frame %s: want an empty offers list", ev.data)
	}
}

func TestCheckoutReplaysRecentPanel(t *testing.T) {
	clk := newClock(time.Date(2026, 4, 20, 10, 0, 0, 0, time.UTC))
	o := testOptions()
	o.Now = clk.now
	s, ts := newTestServer(t, o, nil)

	s.ShowCheckout("1", edge.CheckoutView{Known: true, Member: &edge.MemberView{ID: "M-7"}})
	clk.add(time.Minute)
	if ev := openEvents(t, ts.URL+"/checkout/1/events").next(t); !strings.Contains(ev.data, "M-7") {
		t.Errorf("late terminal got %s, want the last panel", ev.data)
	}

	clk.add(laneReplay)
	late := openEvents(t, ts.URL+"/checkout/1/events")
	s.ShowCheckout("1", edge.CheckoutView{Known: false})
	if ev := late.next(t); strings.Contains(ev.data, "M-7") {
		t.Errorf("terminal connecting after %v got the stale panel %s", laneReplay, ev.data)
	}

	signage := openEvents(t, ts.URL+"/signage/fresh/events")
	s.ShowSignage("fresh", testOffer("first"))
	s.ShowSignage("fresh", testOffer("second"))
	later := openEvents(t, ts.URL+"/signage/fresh/events")
	s.ShowSignage("fresh", testOffer("third"))
	if ev := later.next(t); !strings.Contains(ev.data, "third") {
		t.Errorf("signage replayed an old offer: %s", ev.data)
	}
	if ev := signage.next(t); !strings.Contains(ev.data, "first") {
		t.Errorf("signage got %s first", ev.data)
	}
}

func TestUnknownPlacesAreCountedAndIgnored(t *testing.T) {
	s, ts := newTestServer(t, testOptions(), nil)
	fresh := openEvents(t, ts.URL+"/signage/fresh/events")
	s.ShowSignage("dairy", testOffer("Milk"))
	s.ShowCheckout("9", edge.CheckoutView{})
	s.ShowSignage("fresh", testOffer("Apples"))
	if ev := fresh.next(t); !strings.Contains(ev.data, "Apples") {
		t.Errorf("fresh got %s", ev.data)
	}
	if st := s.Stats(); st.UnknownZone != 1 || st.UnknownLane != 1 {
		t.Errorf("unknown counters %d zone %d lane, want 1 and 1", st.UnknownZone, st.UnknownLane)
	}
}

func TestSlowClientIsDroppedNotWaitedFor(t *testing.T) {
	s, ts := newTestServer(t, testOptions(), func(s *Server, _ *http.Server) {
		s.writeTimeout = 300 * time.Millisecond
	})

	// A screen that asks for the stream and then never reads.
	slow, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(slow, "GET /signage/fresh/events HTTP/1.1\r\nHost: gateway\r\n\r\n")
	waitFor(t, "the slow client to subscribe", func() bool { return s.Stats().Zones["fresh"].Clients == 1 })

	// Big frames fill the slow client's buffer, then its socket, until the
	// write deadline cuts it off. None of this may hold up ShowSignage.
	big := testOffer("flood")
	big.Offer.Body = strings.Repeat("x", 64<<10)
	published := make(chan int)
	go func() {
		n := 0
		for ; n < 5000 && s.Stats().Zones["fresh"].Clients > 0; n++ {
			s.ShowSignage("fresh", big)
		}
		published <- n
	}()
	select {
	case n := <-published:
		st := s.Stats().Zones["fresh"]
		t.Logf("%d frames published, %d sent, %d dropped before the cut-off", n, st.Sent, st.Dropped)
		if st.Clients != 0 {
			t.Fatalf("a client that never reads is still connected after %d frames", n)
		}
		if st.Dropped == 0 {
			t.Errorf("no drop counted for a client that never reads")
		}
	case <-time.After(waitTimeout):
		t.Fatal("ShowSignage blocked on a slow client")
	}

	// Other screens of the zone are served as usual.
	fast := openEvents(t, ts.URL+"/signage/fresh/events")
	s.ShowSignage("fresh", testOffer("marker"))
	if ev := fast.next(t); !strings.Contains(ev.data, "marker") {
		t.Errorf("fast client got %s", ev.data)
	}
}

func TestStreamOutlivesWriteTimeout(t *testing.T) {
	const writeTimeout = 100 * time.Millisecond
	_, ts := newTestServer(t, testOptions(), func(s *Server, hs *http.Server) {
		hs.WriteTimeout = writeTimeout
		s.heartbeat = 10 * time.Millisecond
	})
	c := openEvents(t, ts.URL+"/signage/fresh/events")
	start := time.Now()
	timeout := time.After(waitTimeout)
	pings := 0
	for time.Since(start) < 5*writeTimeout {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("stream ended after %v, %d pings; the server's WriteTimeout is %v", time.Since(start), pings, writeTimeout)
			}
			if ev.name == "ping" && ev.data == "{}" {
				pings++
			}
		case <-timeout:
			t.Fatal("no heartbeat")
		}
	}
}

func TestHeadOnStreamReturns(t *testing.T) {
	s, ts := newTestServer(t, testOptions(), nil)
	resp, err := client.Head(ts.URL + "/checkout/2/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	waitFor(t, "the HEAD request to end", func() bool { return s.Stats().Lanes["2"].Clients == 0 })
}

func TestShutdownEndsStreams(t *testing.T) {
	s := New(testOptions())
	hs := NewHTTPServer(s.Handler())
	hs.RegisterOnShutdown(s.CloseStreams)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	c := openEvents(t, "http://"+ln.Addr().String()+"/checkout/1/events")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("serve: %v", err)
	}
	for range c.events {
	}
	if n := s.Stats().Lanes["1"].Clients; n != 0 {
		t.Errorf("%d clients after shutdown", n)
	}

	// A stream asked for after CloseStreams is refused.
	_, ts := newTestServer(t, testOptions(), func(s *Server, _ *http.Server) { s.CloseStreams() })
	resp, err := client.Get(ts.URL + "/signage/fresh/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stream after CloseStreams: %s, want 503", resp.Status)
	}
}
