package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
)

// Tap-to-screen latency: from a card read entering the engine's inbox to the
// "offer" frame read by every signage screen of the reader's zone, through
// the daemon as `run` wires it (newDaemon): member store and outbox in one
// bbolt file with outbox.DBOptions, the engine, the signage server behind
// NewHTTPServer on 127.0.0.1, and the uplink connected to an embedded broker
// that acknowledges, so the uplink's deletions share the outbox writer with
// the engine's commits as they do in a store. The screens are real SSE
// clients over TCP: tapScreens per zone over tapZones zones.
const (
	tapZones   = 10
	tapScreens = 2 // per zone: 20 screens in all
	// tapWait bounds the wait for one frame; beyond it the tap is lost.
	tapWait = 10 * time.Second
)

// tapRig is a started daemon with its screens connected.
type tapRig struct {
	d       *daemon
	members []edge.MemberRecord
	readers []string       // card reader device of each zone
	screens [][]*tapScreen // by zone
	next    int            // next member to tap: each tap a new member, so the frequency cap never hides an offer
}

// tapScreen is one SSE client of a zone's signage stream.
type tapScreen struct {
	name   string
	frames chan tapFrame // "offer" frames, in arrival order
}

// tapFrame is one offer frame and when its last byte was read.
type tapFrame struct {
	at   time.Time
	data string
}

// newTapRig seeds members (each greeted by a unique name, so a frame tells
// whose tap it shows) and offers every member is eligible for, starts the
// daemon and connects the screens.
func newTapRig(tb testing.TB, members int) *tapRig {
	tb.Helper()
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { brk.Close() })
	cfg, err := configs.Demo()
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Data.Dir, cfg.HQ.Broker = tb.TempDir(), brk.URL()
	r := &tapRig{}
	cfg.Zones, cfg.Devices = nil, nil
	for z := range tapZones {
		id := fmt.Sprintf("z%02d", z)
		cfg.Zones = append(cfg.Zones, configs.Place{ID: id, Name: "Zone " + id})
		cfg.Devices = append(cfg.Devices, configs.Device{Name: id + "-reader", Kind: "sim_rfid", Zone: id})
		r.readers = append(r.readers, id+"-reader")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	// The readers' driver only keeps them reported up: the taps go
	// straight into the inbox.
	idle := func(ctx context.Context, _ chan<- edge.Event) error { <-ctx.Done(); return nil }
	r.d, err = newDaemon(cfg, daemonOpts{logger: slog.New(slog.DiscardHandler), listener: ln,
		drivers: []driver{{devices: cfg.Devices, open: always(idle)}}})
	if err != nil {
		tb.Fatal(err)
	}

	now := time.Now()
	r.members = sim.Members(members, 7, now)
	for i := range r.members {
		m := &r.members[i].Member
		m.FirstName, m.GreetByName = fmt.Sprintf("T%07d", i), true
	}
	offers := sim.Offers(now, cfg.Store.Location())
	for i := range 3 {
		offers = append(offers, edge.Offer{
			ID: fmt.Sprintf("tap-%d", i), Title: "Today only", Channels: []edge.Channel{edge.ChannelSignage},
			ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(24 * time.Hour), DiscountPct: float64(10 * (i + 1)),
		})
	}
	r.d.db.db.NoSync = true // filling only: the daemon runs with fsync
	err = seed(r.d, r.members, offers)
	r.d.db.db.NoSync = false
	if err != nil {
		r.d.db.Close()
		tb.Fatal(err)
	}
	if err := r.d.start(); err != nil {
		r.d.db.Close()
		tb.Fatal(err)
	}

	// tb.Context ends before the cleanups run: the screens leave first.
	ctx := tb.Context()
	var readers sync.WaitGroup
	tb.Cleanup(func() {
		readers.Wait()
		if err := r.d.stop(); err != nil {
			tb.Error(err)
		}
	})
	base := "http://" + ln.Addr().String()
	for z := range tapZones {
		var zone []*tapScreen
		for i := range tapScreens {
			s := &tapScreen{name: fmt.Sprintf("z%02d/%d", z, i), frames: make(chan tapFrame, 256)}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/signage/z%02d/events", base, z), nil)
			if err != nil {
				tb.Fatal(err)
			}
			// When the response arrives, the server has subscribed the
			// screen: every later offer of its zone reaches it.
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				tb.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				tb.Fatalf("screen %s: %s", s.name, resp.Status)
			}
			readers.Go(func() { s.read(ctx, resp) })
			zone = append(zone, s)
		}
		r.screens = append(r.screens, zone)
	}

	// Warm up every zone, then let the uplink connect so its deletions run
	// alongside the taps.
	r.round(tb)
	for deadline := time.Now().Add(tapWait); !r.d.uplink.Stats().Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("the uplink did not connect to the embedded broker")
		}
	}
	return r
}

// read passes the stream's offer frames on, stamped when their closing
// blank line was read, until the stream or ctx ends.
func (s *tapScreen) read(ctx context.Context, resp *http.Response) {
	defer close(s.frames)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var event, data []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		switch {
		case len(line) == 1: // the blank line that ends an event
			if string(event) == "offer" {
				select {
				case s.frames <- tapFrame{at: time.Now(), data: string(data)}:
				case <-ctx.Done():
					return
				}
			}
			event, data = event[:0], data[:0]
		case bytes.HasPrefix(line, []byte("event: ")):
			event = append(event[:0], bytes.TrimSpace(line[len("event: "):])...)
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, bytes.TrimSuffix(line[len("data: "):], []byte("\n"))...)
		}
	}
}

// tap presents the next member's card to zone's reader. It returns the
// greeting the zone's screens must show and the time just before the send.
func (r *tapRig) tap(tb testing.TB, zone int) (greeting string, sent time.Time) {
	m := &r.members[r.next%len(r.members)]
	r.next++
	greeting = fmt.Sprintf(`"greeting":%q`, edge.Greeting(&m.Member))
	ev := edge.Event{Kind: edge.KindCardRead, Source: r.readers[zone], Card: &edge.CardRead{UID: m.Cards[0]}}
	ev.Time = time.Now()
	sent = ev.Time
	if err := r.d.inbox.Send(tb.Context(), ev); err != nil {
		tb.Fatal(err)
	}
	return greeting, sent
}

// await returns when every screen of zone has read its next offer frame,
// which must carry greeting, and returns the last screen's read time. A
// frame of another tap (another zone's, or one too many) fails.
func (r *tapRig) await(tb testing.TB, zone int, greeting string) time.Time {
	timeout := time.NewTimer(tapWait)
	defer timeout.Stop()
	var last time.Time
	for _, s := range r.screens[zone] {
		select {
		case f, ok := <-s.frames:
			if !ok {
				tb.Fatalf("screen %s: stream ended", s.name)
			}
			if !strings.Contains(f.data, greeting) {
				tb.Fatalf("screen %s got %s, want the offer with %s", s.name, f.data, greeting)
			}
			if f.at.After(last) {
				last = f.at
			}
		case <-timeout.C:
			tb.Fatalf("screen %s: no offer with %s within %s", s.name, greeting, tapWait)
		}
	}
	return last
}

// round taps once in every zone at once and waits for the frames; it
// returns each tap's latency.
func (r *tapRig) round(tb testing.TB) []time.Duration {
	greetings, sent := make([]string, tapZones), make([]time.Time, tapZones)
	for z := range tapZones {
		greetings[z], sent[z] = r.tap(tb, z)
	}
	lat := make([]time.Duration, tapZones)
	for z := range tapZones {
		lat[z] = r.await(tb, z, greetings[z]).Sub(sent[z])
	}
	return lat
}

// serial taps n times, one zone after the other, each tap once the previous
// one is on screen, and returns the latencies.
func (r *tapRig) serial(tb testing.TB, n int, lat []time.Duration) []time.Duration {
	for range n {
		z := r.next % tapZones
		greeting, sent := r.tap(tb, z)
		lat = append(lat, r.await(tb, z, greeting).Sub(sent))
	}
	return lat
}

// tapStats are the latency figures of a run.
type tapStats struct{ p50, p99, max time.Duration }

func latencyStats(lat []time.Duration) tapStats {
	s := slices.Sorted(slices.Values(lat))
	return tapStats{p50: s[(len(s)-1)/2], p99: s[(len(s)*99+99)/100-1], max: s[len(s)-1]}
}

func (st tapStats) report(b *testing.B, taps int) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(st.p50), "p50-ms")
	b.ReportMetric(ms(st.p99), "p99-ms")
	b.ReportMetric(ms(st.max), "max-ms")
	b.ReportMetric(float64(taps)/b.Elapsed().Seconds(), "taps/s")
}

// TestTapToScreen checks that every tap's offer reaches both screens of the
// tap's zone and no other screen, tapping one at a time and in rounds of one
// tap per zone. It logs the latencies but sets no limit on them: that is
// BenchmarkTapToScreen's business.
func TestTapToScreen(t *testing.T) {
	r := newTapRig(t, 5_000)
	lat := r.serial(t, 200, nil)
	for range 20 {
		lat = append(lat, r.round(t)...)
	}
	// A last round: a stray frame of any earlier tap would arrive at its
	// screen before this round's.
	r.round(t)
	for id, h := range r.d.web.Stats().Zones {
		if h.Clients != tapScreens || h.Dropped != 0 {
			t.Errorf("zone %s: %+v, want %d screens and no drop", id, h, tapScreens)
		}
	}
	st := latencyStats(lat)
	t.Logf("%d taps, latency p50 %s, p99 %s, max %s", len(lat), st.p50, st.p99, st.max)
}

// BenchmarkTapToScreen measures tap-to-screen latency with 100 000 members
// and 20 screens (the project's requirement: p99 under 5 ms). An operation
// is one tap in serial (taps one at a time, each once the previous is on
// screen) and one round of 10 taps, one per zone sent back to back, in
// burst. Each tap's latency runs from just before the inbox send to the
// moment the later of its zone's two screens has read the whole frame.
func BenchmarkTapToScreen(b *testing.B) {
	r := newTapRig(b, 100_000)
	b.Run("serial", func(b *testing.B) {
		lat := make([]time.Duration, 0, 4096)
		for b.Loop() {
			lat = r.serial(b, 1, lat)
		}
		latencyStats(lat).report(b, len(lat))
	})
	b.Run("burst", func(b *testing.B) {
		lat := make([]time.Duration, 0, 4096)
		for b.Loop() {
			lat = append(lat, r.round(b)...)
		}
		latencyStats(lat).report(b, len(lat))
	})
}
