package edge_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// screens records what the engine shows.
type screens struct {
	mu       sync.Mutex
	signage  map[string][]edge.SignageView
	checkout map[string][]edge.CheckoutView
}

func (s *screens) ShowSignage(zone string, v edge.SignageView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signage[zone] = append(s.signage[zone], v)
}

func (s *screens) ShowCheckout(lane string, v edge.CheckoutView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkout[lane] = append(s.checkout[lane], v)
}

func (s *screens) signageOf(zone string) []edge.SignageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.signage[zone])
}

func (s *screens) checkoutOf(lane string) []edge.CheckoutView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.checkout[lane])
}

// harness is an engine on a real bbolt file, run inside a synctest bubble.
type harness struct {
	t       *testing.T
	path    string
	db      *bolt.DB
	store   *store.Store
	outbox  *outbox.Outbox
	journal edge.Journal
	screens *screens
	inbox   *edge.Inbox
	engine  *edge.Engine
	// dailyCap is Options.DailyCap for start (0: the default).
	dailyCap int
	cancel   context.CancelFunc
	done     chan error
}

var (
	key   = []byte("0123456789abcdef0123456789abcdef")
	paris = func() *time.Location { l, _ := time.LoadLocation("Europe/Paris"); return l }()

	annaCard  = []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}
	brunoCard = []byte{0xDE, 0xAD, 0xBE, 0xEF}
)

const (
	annaLoyalty = "0400000000017"
	annaList    = "0490000000011"
)

func devices() map[string]edge.Placement {
	return map[string]edge.Placement{
		"fresh-reader":   {Kind: "sim_rfid", Zone: "fresh"},
		"bakery-reader":  {Kind: "sim_rfid", Zone: "bakery"},
		"lane-2-scanner": {Kind: "sim_scanner", Lane: "2"},
		"lane-2-reader":  {Kind: "sim_rfid", Lane: "2"},
		"main-counter":   {Kind: "sim_door", Door: "main"},
		"side-counter":   {Kind: "sim_door", Door: "side"},
	}
}

// newHarness opens path (a new file when empty) and seeds members and
// offers valid around now.
func newHarness(t *testing.T, path string) *harness {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "redcarpet.db")
	}
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(db, key)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = st.PutMembers([]edge.MemberRecord{
		{
			Member: edge.Member{ID: "M1", FirstName: "Anna", Tier: "gold", Segment: "switcher-heavy", Stage: edge.StageActive,
				GreetByName: true, Affinity: map[string]float64{"dairy": 0.6, "bakery": 0.4}},
			Cards: [][]byte{annaCard}, Loyalty: annaLoyalty, List: annaList,
		},
		{
			Member: edge.Member{ID: "M2", FirstName: "Bruno", Tier: "bronze", Stage: edge.StageLapsing,
				GreetByName: false, Affinity: map[string]float64{"dairy": 1}},
			Cards: [][]byte{brunoCard},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	valid := func(id string, pct float64, cats ...string) edge.Offer {
		return edge.Offer{ID: id, Title: "Offer " + id, Channels: []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout},
			Categories: cats, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(30 * 24 * time.Hour), DiscountPct: pct}
	}
	expired := valid("expired", 90, "dairy")
	expired.ValidTo = now.Add(-time.Minute)
	future := valid("future", 90, "dairy")
	future.ValidFrom = now.Add(48 * time.Hour)
	err = st.PutOffers([]edge.Offer{valid("dairy-20", 20, "dairy"), valid("dairy-10", 10, "dairy"),
		valid("bakery-15", 15, "bakery"), valid("wine-50", 50, "wine"), expired, future})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, path: path, db: db, store: st, outbox: ob, journal: ob,
		screens: &screens{signage: map[string][]edge.SignageView{}, checkout: map[string][]edge.CheckoutView{}},
		inbox:   edge.NewInbox(64)}
	return h
}

func (h *harness) start() {
	h.engine = edge.NewEngine(h.store, h.journal, h.screens, h.inbox, edge.Options{
		Devices: devices(), Doors: []string{"main", "side"}, Location: paris,
		Interval: 15 * time.Minute, CheckoutMax: 2, FrequencyCap: 30 * time.Minute,
		Lanes: []string{"1", "2"}, Currency: "EUR", History: h.store, DailyCap: h.dailyCap,
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.engine.Run(ctx) }()
	synctest.Wait()
}

func (h *harness) stop() {
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) close() {
	h.outbox.Close()
	h.db.Close()
}

func (h *harness) send(evs ...edge.Event) {
	h.t.Helper()
	for _, e := range evs {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		if err := h.inbox.Send(context.Background(), e); err != nil {
			h.t.Fatal(err)
		}
	}
	synctest.Wait()
}

// committed returns the business events in the outbox, by kind.
func (h *harness) committed(k edge.Kind) []edge.Event {
	h.t.Helper()
	recs, _, err := h.outbox.Read(outbox.Cursor{}, 1<<20, 1<<30)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []edge.Event
	for _, r := range recs {
		if r.Event.Kind == k {
			out = append(out, r.Event)
		}
	}
	return out
}

func card(src string, uid []byte) edge.Event {
	return edge.Event{Kind: edge.KindCardRead, Source: src, Card: &edge.CardRead{UID: uid}}
}

func scan(src, code string, class edge.ScanClass) edge.Event {
	return edge.Event{Kind: edge.KindScan, Source: src, Scan: &edge.Scan{Code: code, Class: class}}
}

func cross(src string, dir edge.Direction, n int) edge.Event {
	return edge.Event{Kind: edge.KindDoorCrossing, Source: src, Crossing: &edge.Crossing{Dir: dir, Count: n}}
}

// inStore moves the bubble's clock to 10:00 Paris time on a trading day, so
// intervals are easy to reason about. (synctest starts at 2000-01-01 UTC.)
func inStore() {
	target := time.Date(2000, 1, 3, 10, 0, 0, 0, paris)
	time.Sleep(time.Until(target))
}

func TestCardAtZoneShowsOneOfferOnThatZoneOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		defer h.stop()
		h.send(card("fresh-reader", annaCard))

		got := h.screens.signageOf("fresh")
		if len(got) != 1 {
			t.Fatalf("fresh screen got %d offers, want 1", len(got))
		}
		if got[0].Greeting != "Hello Anna!" || got[0].Offer.ID != "dairy-20" {
			t.Errorf("shown %+v, want greeting for Anna and dairy-20", got[0])
		}
		if n := len(h.screens.signageOf("bakery")); n != 0 {
			t.Errorf("bakery screen got %d offers, want none", n)
		}
		if n := len(h.screens.checkoutOf("2")); n != 0 {
			t.Errorf("checkout got %d panels from a zone read", n)
		}
		rec := h.committed(edge.KindRecognition)
		exp := h.committed(edge.KindOfferShown)
		if len(rec) != 1 || rec[0].Recognition.MemberID != "M1" || rec[0].Recognition.Zone != "fresh" || !rec[0].Recognition.NewVisit {
			t.Errorf("recognitions %+v", rec)
		}
		if len(exp) != 1 || exp[0].Exposure.OfferID != "dairy-20" || exp[0].Exposure.Screen != "fresh" {
			t.Errorf("exposures %+v", exp)
		}
	})
}

func TestGreetingNeedsConsent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		defer h.stop()
		h.send(card("fresh-reader", brunoCard))
		got := h.screens.signageOf("fresh")
		if len(got) != 1 {
			t.Fatalf("got %d views", len(got))
		}
		if strings.Contains(got[0].Greeting, "Bruno") {
			t.Errorf("greeting %q names a member who did not consent", got[0].Greeting)
		}
	})
}

func TestFrequencyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		defer h.stop()
		h.send(card("fresh-reader", annaCard))
		time.Sleep(time.Minute)
		h.send(card("fresh-reader", annaCard)) // capped: next best
		time.Sleep(time.Minute)
		h.send(card("bakery-reader", annaCard)) // another screen: not capped
		var ids []string
		for _, v := range h.screens.signageOf("fresh") {
			ids = append(ids, v.Offer.ID)
		}
		if want := []string{"dairy-20", "dairy-10"}; !slices.Equal(ids, want) {
			t.Errorf("fresh showed %v, want %v", ids, want)
		}
		if b := h.screens.signageOf("bakery"); len(b) != 1 || b[0].Offer.ID != "dairy-20" {
			t.Errorf("bakery showed %+v, want dairy-20", b)
		}
		// Offers are exhausted for fresh (bakery-15 next, then nothing);
		// after the cap window everything is eligible again.
		h.send(card("fresh-reader", annaCard))
		h.send(card("fresh-reader", annaCard))
		if n := len(h.screens.signageOf("fresh")); n != 3 {
			t.Errorf("fresh showed %d offers, want 3 (then nothing left under the cap)", n)
		}
		time.Sleep(31 * time.Minute)
		h.send(card("fresh-reader", annaCard))
		f := h.screens.signageOf("fresh")
		if len(f) != 4 || f[3].Offer.ID != "dairy-20" {
			t.Errorf("after the cap window: %d views, last %+v; want dairy-20 again", len(f), f[len(f)-1].Offer)
		}
	})
}

func TestUnknownCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		defer h.stop()
		stranger := []byte{1, 2, 3, 4}
		h.send(card("fresh-reader", stranger), card("lane-2-reader", stranger),
			scan("lane-2-scanner", "0400000999994", edge.ScanLoyalty))
		if n := len(h.screens.signageOf("fresh")); n != 0 {
			t.Errorf("signage showed %d views for an unknown card", n)
		}
		co := h.screens.checkoutOf("2")
		if len(co) != 2 || co[0].Known || co[1].Known || co[0].Member != nil {
			t.Errorf("checkout views %+v, want two unknown-card views", co)
		}
		if st := h.engine.Stats(); st.UnknownCards != 3 || st.Recognised != 0 {
			t.Errorf("stats unknown=%d recognised=%d, want 3 and 0", st.UnknownCards, st.Recognised)
		}
		if n := len(h.committed(edge.KindRecognition)); n != 0 {
			t.Errorf("%d recognitions committed for unknown cards", n)
		}
	})
}

func TestCheckoutLoyaltyScan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		defer h.stop()
		h.send(scan("lane-2-scanner", annaLoyalty, edge.ScanLoyalty))
		co := h.screens.checkoutOf("2")
		if len(co) != 1 {
			t.Fatalf("lane 2 got %d views", len(co))
		}
		v := co[0]
		if !v.Known || v.Via != edge.ViaBarcode || v.Member == nil || v.Member.FirstName != "Anna" ||
			v.Member.Tier != "gold" || v.Member.Stage != edge.StageActive {
			t.Errorf("view %+v", v)
		}
		var ids []string
		for _, o := range v.Offers {
			ids = append(ids, o.ID)
		}
		if want := []string{"dairy-20", "dairy-10"}; !slices.Equal(ids, want) {
			t.Errorf("offers %v, want %v (CheckoutMax 2, no expired/future/irrelevant)", ids, want)
		}
		exp := h.committed(edge.KindOfferShown)
		if len(exp) != 2 || exp[0].Exposure.Rank != 1 || exp[1].Exposure.Rank != 2 || exp[0].Exposure.Channel != edge.ChannelCheckout {
			t.Errorf("exposures %+v", exp)
		}
		// A second scan of the same card at the same lane (same basket)
		// shows the same panel and exposes nothing new; the list barcode
		// resolves the same member.
		time.Sleep(time.Minute)
		h.send(scan("lane-2-scanner", annaList, edge.ScanList))
		co = h.screens.checkoutOf("2")
		if len(co) != 2 || len(co[1].Offers) != 2 || co[1].Offers[0].ID != "dairy-20" {
			t.Errorf("second scan: %+v", co)
		}
		if n := len(h.committed(edge.KindOfferShown)); n != 2 {
			t.Errorf("%d exposures after a re-scan, want still 2", n)
		}
		// A product scan is not a member scan.
		h.send(scan("lane-2-scanner", "4006381333931", edge.ScanProduct))
		if n := len(h.screens.checkoutOf("2")); n != 2 {
			t.Errorf("product scan changed the member panel")
		}
	})
}

func TestFootfallIntervalsAndOccupancy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore() // 10:00
		h := newHarness(t, "")
		defer h.close()
		h.start()
		defer h.stop()
		h.send(cross("main-counter", edge.In, 1), cross("main-counter", edge.In, 2), cross("side-counter", edge.Out, 1))
		if st := h.engine.Stats(); st.Occupancy != 2 {
			t.Errorf("occupancy %d, want 2", st.Occupancy)
		}
		// More exits than entries: occupancy stops at zero.
		h.send(cross("side-counter", edge.Out, 5))
		if st := h.engine.Stats(); st.Occupancy != 0 {
			t.Errorf("occupancy %d, want 0", st.Occupancy)
		}
		time.Sleep(15 * time.Minute) // the tick closes 10:00-10:15
		synctest.Wait()
		ff := h.committed(edge.KindFootfall)
		if len(ff) != 2 {
			t.Fatalf("%d footfall events, want 2 (one per door)", len(ff))
		}
		main, side := ff[0].Footfall, ff[1].Footfall
		start := time.Date(2000, 1, 3, 10, 0, 0, 0, paris)
		if main.Door != "main" || main.In != 3 || main.Out != 0 || !main.Start.Equal(start) || !main.End.Equal(start.Add(15*time.Minute)) {
			t.Errorf("main %+v", main)
		}
		if side.Door != "side" || side.In != 0 || side.Out != 6 {
			t.Errorf("side %+v", side)
		}
		// A quiet interval still reports, with zeros.
		time.Sleep(15 * time.Minute)
		synctest.Wait()
		if ff := h.committed(edge.KindFootfall); len(ff) != 4 || ff[2].Footfall.In != 0 {
			t.Errorf("after a quiet interval: %d events", len(ff))
		}
		// Crossings from a reader or an unknown device are ignored.
		h.send(cross("fresh-reader", edge.In, 1), cross("nowhere", edge.In, 1))
		if st := h.engine.Stats(); st.Ignored != 2 || st.Doors[0].In != 0 {
			t.Errorf("ignored %d, main in %d", st.Ignored, st.Doors[0].In)
		}
	})
}

func TestCountsSurviveRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		h.start()
		h.send(cross("main-counter", edge.In, 4))
		h.stop()
		h.close()

		// Restarted within the same interval: counting continues.
		time.Sleep(5 * time.Minute)
		h = newHarness(t, h.path)
		h.start()
		h.send(cross("main-counter", edge.In, 1))
		if st := h.engine.Stats(); st.Occupancy != 5 || st.Doors[0].In != 5 {
			t.Errorf("after restart: occupancy %d, main in %d; want 5 and 5", st.Occupancy, st.Doors[0].In)
		}
		h.stop()
		h.close()

		// Restarted an hour later: the interval it was counting closes once,
		// with its counts; the hour it was off is not invented.
		time.Sleep(time.Hour)
		h = newHarness(t, h.path)
		defer h.close()
		h.start()
		defer h.stop()
		ff := h.committed(edge.KindFootfall)
		if len(ff) != 2 || ff[0].Footfall.In != 5 || !ff[0].Footfall.Start.Equal(time.Date(2000, 1, 3, 10, 0, 0, 0, paris)) {
			t.Fatalf("footfall after downtime: %+v", ff)
		}
		if st := h.engine.Stats(); !st.IntervalStart.Equal(time.Date(2000, 1, 3, 11, 0, 0, 0, paris)) || st.Occupancy != 5 {
			t.Errorf("interval %s occupancy %d", st.IntervalStart, st.Occupancy)
		}
	})
}

func TestEngineDrainsInboxOnStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		// Queue events without letting the engine run, then stop it.
		for range 10 {
			if err := h.inbox.Send(context.Background(), card("fresh-reader", annaCard)); err != nil {
				t.Fatal(err)
			}
		}
		h.stop()
		if n := len(h.committed(edge.KindRecognition)); n != 10 {
			t.Errorf("%d recognitions committed, want all 10 queued before stop", n)
		}
	})
}

// failing is a journal that fails while down is set.
type failing struct {
	edge.Journal
	mu   sync.Mutex
	down bool
}

func (f *failing) Commit(evs []edge.Event, state []byte) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return errors.New("no space left on device")
	}
	return f.Journal.Commit(evs, state)
}

func TestOutboxFailureKeepsEventsAndScreens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		f := &failing{Journal: h.outbox, down: true}
		h.journal = f
		h.start()
		defer h.stop()
		h.send(card("fresh-reader", annaCard))
		if n := len(h.screens.signageOf("fresh")); n != 1 {
			t.Errorf("screen got %d views while the disk is full; the store must keep trading", n)
		}
		st := h.engine.Stats()
		if st.CommitErrors == 0 || st.Uncommitted != 2 {
			t.Errorf("commit errors %d, uncommitted %d; want >0 and 2", st.CommitErrors, st.Uncommitted)
		}
		f.mu.Lock()
		f.down = false
		f.mu.Unlock()
		time.Sleep(2 * time.Second) // next tick retries
		synctest.Wait()
		if n := len(h.committed(edge.KindRecognition)) + len(h.committed(edge.KindOfferShown)); n != 2 {
			t.Errorf("%d events committed after recovery, want 2", n)
		}
		if st := h.engine.Stats(); st.Uncommitted != 0 {
			t.Errorf("uncommitted %d after recovery", st.Uncommitted)
		}
	})
}

func TestInboxCountsFullAndLosesNothing(t *testing.T) {
	in := edge.NewInbox(2)
	ctx := context.Background()
	for range 2 {
		if err := in.Send(ctx, cross("main-counter", edge.In, 1)); err != nil {
			t.Fatal(err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := in.Send(tctx, cross("main-counter", edge.In, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("send to a full inbox: %v, want the context's error", err)
	}
	st := in.Stats()
	if st.Full != 1 || st.Accepted != 2 || st.Len != 2 {
		t.Errorf("stats %+v, want full=1 accepted=2 len=2", st)
	}
}

func TestInvalidEventDoesNotBlockCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		defer h.close()
		h.start()
		defer h.stop()
		// A device status carrying a second payload is invalid.
		bad := edge.Event{Kind: edge.KindDeviceStatus, Source: "main-counter", Time: time.Now(),
			Device:   &edge.DeviceStatus{Device: "main-counter", State: edge.DeviceUp},
			Crossing: &edge.Crossing{Dir: edge.In, Count: 1}}
		h.send(bad, card("fresh-reader", annaCard))
		time.Sleep(2 * time.Second)
		h.send(card("bakery-reader", annaCard))
		st := h.engine.Stats()
		if st.Dropped != 1 || st.CommitErrors != 0 || st.Uncommitted != 0 {
			t.Errorf("dropped %d, commit errors %d, uncommitted %d; want 1, 0, 0", st.Dropped, st.CommitErrors, st.Uncommitted)
		}
		if n := len(h.committed(edge.KindRecognition)); n != 2 {
			t.Errorf("%d recognitions committed, want 2", n)
		}
	})
}

// TestDailyCapAcrossChannels: a member is shown at most DailyCap offers per
// store day, signage and checkout together, and again the next day.
func TestDailyCapAcrossChannels(t *testing.T) {
	runSeeded(t, func(_ *testing.T, h *harness) { h.dailyCap = 3 }, func(t *testing.T, h *harness) {
		h.send(card("fresh-reader", annaCard), card("bakery-reader", annaCard)) // one offer each
		h.send(card("lane-2-reader", annaCard))                                 // room for one more
		v, err := h.engine.CurrentBasket(ctx, "2")
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Offers) != 1 {
			t.Errorf("checkout panel with %d offers after 2 on signage, want 1 (cap 3)", len(v.Offers))
		}
		time.Sleep(time.Hour) // past the frequency cap, same day
		h.send(card("fresh-reader", annaCard))
		if n := len(h.screens.signageOf("fresh")); n != 1 {
			t.Errorf("fresh screen showed %d offers; the daily cap allows no more", n)
		}
		if n := len(h.committed(edge.KindOfferShown)); n != 3 {
			t.Errorf("%d exposures today, want 3", n)
		}
		time.Sleep(24 * time.Hour) // the next store day
		h.send(card("fresh-reader", annaCard))
		if n := len(h.screens.signageOf("fresh")); n != 2 {
			t.Errorf("fresh screen showed %d offers after midnight, want 2", n)
		}
	})
}
