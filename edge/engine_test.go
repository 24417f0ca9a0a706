package edge_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
		"main-reader":    {Kind: "sim_rfid", Door: "main"},
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

// staffWindow is the engine's default edge.Options.StaffWindow: crossings
// count that long after they happened.
const staffWindow = 5 * time.Second

// settle lets the staff window pass (and a tick count what waited).
func settle() {
	time.Sleep(staffWindow + time.Second)
	synctest.Wait()
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
		settle() // crossings count once the staff window passed
		if st := h.engine.Stats(); st.Occupancy != 2 {
			t.Errorf("occupancy %d, want 2", st.Occupancy)
		}
		// More exits than entries: occupancy stops at zero.
		h.send(cross("side-counter", edge.Out, 5))
		settle()
		if st := h.engine.Stats(); st.Occupancy != 0 {
			t.Errorf("occupancy %d, want 0", st.Occupancy)
		}
		time.Sleep(15 * time.Minute) // 10:15:12: a tick closed 10:00-10:15 at 10:15:05
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
		settle()
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

// staffCard is the card of S1, a store employee.
var staffCard = []byte{0x5A, 0xFF, 0x00, 0x01}

func withStaff(t *testing.T, h *harness) {
	err := h.store.PutMembers([]edge.MemberRecord{{
		Member: edge.Member{ID: "S1", FirstName: "Sam", Tier: "gold", Staff: true, GreetByName: true,
			Affinity: map[string]float64{"dairy": 1}},
		Cards: [][]byte{staffCard},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaffCardIsNoShopper: a staff card at a door marks the crossing
// next to it as staff and is no recognition; at a zone, a lane or typed
// at the till it gets no offer, no recognition and no visit.
func TestStaffCardIsNoShopper(t *testing.T) {
	runSeeded(t, withStaff, func(t *testing.T, h *harness) {
		h.send(cross("main-counter", edge.In, 1))
		time.Sleep(2 * time.Second)
		h.send(card("main-reader", staffCard)) // 2 s after the crossing: marks it
		h.send(card("fresh-reader", staffCard), card("lane-2-reader", staffCard))
		v, err := h.engine.OpenBasket(ctx, "1", edge.Identify{Number: "S1"})
		if err != nil {
			t.Fatal(err)
		}
		if v.Known || v.Member != nil || len(v.Offers) != 0 {
			t.Errorf("basket opened with a staff number: %+v, want an anonymous basket without offers", v)
		}
		settle()
		if st := h.engine.Stats(); st.Occupancy != 0 || st.Doors[0].In != 1 || st.Recognised != 0 {
			t.Errorf("occupancy %d, main in %d, recognised %d; want 0, 1, 0", st.Occupancy, st.Doors[0].In, st.Recognised)
		}
		if n := len(h.screens.signageOf("fresh")); n != 0 {
			t.Errorf("the fresh screen showed %d offers to staff", n)
		}
		if n := len(h.screens.checkoutOf("2")); n != 0 {
			t.Errorf("lane 2 showed %d panels for a staff card", n)
		}
		for _, k := range []edge.Kind{edge.KindRecognition, edge.KindOfferShown, edge.KindWithheld} {
			if evs := h.committed(k); len(evs) != 0 {
				t.Errorf("%d %s events for a staff card", len(evs), k)
			}
		}
		time.Sleep(15 * time.Minute) // the 10:00 interval closes at 10:15:05
		synctest.Wait()
		tr := h.committed(edge.KindTraffic)
		if len(tr) != 1 {
			t.Fatalf("%d traffic intervals, want 1", len(tr))
		}
		if x := tr[0].Traffic; x.In != 1 || x.StaffIn != 1 || x.Visitors != 0 || x.MemberVisits != 0 || x.OffersShown != 0 {
			t.Errorf("interval %+v, want 1 in, 1 staff, no visitor, no visit, no offer", x)
		}
		if f := h.committed(edge.KindFootfall); len(f) != 2 || f[0].Footfall.StaffIn != 1 {
			t.Errorf("footfall %+v, want main's staff crossing", f)
		}
		if n := len(h.committed(edge.KindVisit)); n != 0 {
			t.Errorf("%d visits for a staff card", n)
		}
	})
}

// TestBasketsFeedTraffic: crossings, exposures, redemptions, baskets and
// visits of an interval add up in its traffic.interval event and in the
// dashboard's Stats.Today.
func TestBasketsFeedTraffic(t *testing.T) {
	runEngine(t, func(t *testing.T, h *harness) {
		h.send(cross("main-counter", edge.In, 3), cross("side-counter", edge.Out, 1))
		v, err := h.engine.OpenBasket(ctx, "1", edge.Identify{Number: "M1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine.SetLines(ctx, "1", v.Basket.ID, lines(line("yog", "dairy", 2, 250))); err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine.ApplyOffer(ctx, "1", v.Basket.ID, "dairy-20", true); err != nil {
			t.Fatal(err)
		}
		member, err := h.engine.CloseBasket(ctx, "1", v.Basket.ID, "k1", -1)
		if err != nil {
			t.Fatal(err)
		}
		anon, err := h.engine.SetLines(ctx, "2", "", lines(line("bread", "bakery", 1, 300)))
		if err != nil {
			t.Fatal(err)
		}
		other, err := h.engine.CloseBasket(ctx, "2", anon.Basket.ID, "k2", -1)
		if err != nil {
			t.Fatal(err)
		}
		settle()
		today := h.engine.Stats().Today
		if today == nil || today.Day != "2000-01-03" || len(today.Intervals) != 1 || today.Occupancy != 2 || today.Members != 1 {
			t.Fatalf("Stats.Today %+v", today)
		}
		if now := today.Intervals[0]; now.Baskets != 2 || now.In != 3 || !now.End.Equal(h.engine.Stats().At) {
			t.Errorf("open interval so far %+v", now)
		}
		time.Sleep(15 * time.Minute)
		synctest.Wait()
		tr := h.committed(edge.KindTraffic)
		if len(tr) != 1 {
			t.Fatalf("%d traffic intervals, want 1", len(tr))
		}
		x := tr[0].Traffic
		shown := len(h.committed(edge.KindOfferShown))
		spend := member.Basket.Total + other.Basket.Total
		if x.In != 3 || x.Out != 1 || x.Visitors != 3 || x.Occupancy != 2 || x.MemberVisits != 1 ||
			x.Baskets != 2 || x.MemberBaskets != 1 || x.Spend != spend || x.MemberSpend != member.Basket.Total ||
			x.OffersShown != shown || shown == 0 || x.OffersRedeemed != 1 || x.Currency != "EUR" || x.Day != "2000-01-03" {
			t.Errorf("interval %+v; want 3 in, 2 baskets (%s, %s of it M1's), %d shown, 1 redeemed", x, spend, member.Basket.Total, shown)
		}
		if today := h.engine.Stats().Today; len(today.Intervals) != 2 || today.Intervals[0].Baskets != 2 {
			t.Errorf("Stats.Today after the interval: %+v", today)
		}
	})
}

// TestTrafficSurvivesRestart: a crossing still waiting for the staff
// window and an open visit are in the checkpoint.
func TestTrafficSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		h.start()
		h.send(card("fresh-reader", annaCard)) // Anna's visit begins
		h.send(cross("main-counter", edge.In, 2))
		if st := h.engine.Stats(); st.Occupancy != 0 || st.Doors[0].In != 2 {
			t.Errorf("occupancy %d, main in %d before the staff window passed; want 0 (waiting) and 2 (door counts are live)", st.Occupancy, st.Doors[0].In)
		}
		h.stop()
		h.close()

		time.Sleep(time.Minute)
		h = newHarness(t, h.path)
		defer h.close()
		h.start()
		defer h.stop()
		if st := h.engine.Stats(); st.Occupancy != 2 || st.Doors[0].In != 2 {
			t.Errorf("after restart: occupancy %d, main in %d; want the waiting crossing counted", st.Occupancy, st.Doors[0].In)
		}
		h.send(card("lane-2-reader", annaCard))
		rec := h.committed(edge.KindRecognition)
		if len(rec) != 2 || !rec[0].Recognition.NewVisit || rec[1].Recognition.NewVisit {
			t.Errorf("recognitions %+v, want the visit to go on after the restart", rec)
		}
		time.Sleep(2*time.Hour + time.Minute)
		synctest.Wait()
		vs := h.committed(edge.KindVisit)
		if len(vs) != 1 {
			t.Fatalf("%d visits, want 1", len(vs))
		}
		if v := vs[0].Visit; v.MemberID != "M1" || v.Ended != "gap" || len(v.Zones) != 1 || v.Zones[0].Zone != "fresh" ||
			!slices.Equal(v.Lanes, []string{"2"}) || v.DwellS != 60 {
			t.Errorf("visit %+v", v)
		}
	})
}

// TestOldCheckpointsRestore: checkpoints written before the traffic
// tracker still restore occupancy and door counts.
func TestOldCheckpointsRestore(t *testing.T) {
	const ff = `{"interval_start":"2000-01-03T10:00:00+01:00","day":"2000-01-03","occupancy":7,` +
		`"doors":{"main":{"in":5,"out":1,"in_today":40,"out_today":33},"gone":{"in":1,"out":0,"in_today":1,"out_today":0}}}`
	for _, tc := range []struct{ name, raw string }{
		{"footfall in the checkpoint", `{"footfall":` + ff + `,"keys":{}}`},
		{"the footfall alone", ff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				inStore()
				h := newHarness(t, "")
				defer h.close()
				if err := h.outbox.Commit(nil, []byte(tc.raw)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Minute)
				h.start()
				defer h.stop()
				st := h.engine.Stats()
				if st.Occupancy != 7 || len(st.Doors) != 2 || st.Doors[0] != (edge.DoorStats{Door: "main", In: 5, Out: 1, InToday: 40, OutToday: 33}) ||
					!st.IntervalStart.Equal(time.Date(2000, 1, 3, 10, 0, 0, 0, paris)) {
					t.Errorf("restored stats: occupancy %d, doors %+v, interval %s", st.Occupancy, st.Doors, st.IntervalStart)
				}
				h.send(cross("main-counter", edge.In, 1))
				time.Sleep(10*time.Minute + staffWindow)
				synctest.Wait()
				tr := h.committed(edge.KindTraffic)
				if len(tr) != 1 || tr[0].Traffic.In != 6 || tr[0].Traffic.Out != 1 || tr[0].Traffic.Occupancy != 8 {
					t.Errorf("first interval after restore %+v", tr)
				}
			})
		})
	}
}

// TestErasureDropsOpenVisit: a member erased while their visit is open
// never appears in a visit.closed event, whether the engine is told
// (Forget) or finds the member gone from the store when the visit ends.
func TestErasureDropsOpenVisit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		erase func(h *harness) error
	}{
		{"Forget", func(h *harness) error { return h.engine.Forget(ctx, "M1") }},
		{"ForgetLater", func(h *harness) error { h.engine.ForgetLater("M1"); return nil }},
		{"deleted from the store", func(h *harness) error { return h.store.DeleteMember("M1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runEngine(t, func(t *testing.T, h *harness) {
				h.send(card("fresh-reader", annaCard), card("bakery-reader", brunoCard))
				time.Sleep(time.Minute)
				if err := tc.erase(h); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2*time.Hour + time.Minute)
				synctest.Wait()
				vs := h.committed(edge.KindVisit)
				if len(vs) != 1 || vs[0].Visit.MemberID != "M2" {
					t.Errorf("visits %+v, want Bruno's only", vs)
				}
				var visits int
				for _, x := range h.committed(edge.KindTraffic) {
					visits += x.Traffic.MemberVisits
				}
				if visits != 2 {
					t.Errorf("%d member visits counted, want 2 (an erased member's visit still counts, unnamed)", visits)
				}
			})
		})
	}
}

// stateCounter counts the commits that rewrite the engine checkpoint.
type stateCounter struct {
	edge.Journal
	states atomic.Int64
}

func (s *stateCounter) Commit(evs []edge.Event, state []byte) error {
	if state != nil {
		s.states.Add(1)
	}
	return s.Journal.Commit(evs, state)
}

// TestTrafficCheckpointIsThrottled: a crossing a second rewrites the
// checkpoint about every five seconds, not every second; a stop writes
// the last counts, so nothing is lost on a clean stop.
func TestTrafficCheckpointIsThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inStore()
		h := newHarness(t, "")
		sc := &stateCounter{Journal: h.journal}
		h.journal = sc
		h.start()
		settle()
		before := sc.states.Load()
		for range 30 {
			h.send(cross("main-counter", edge.In, 1))
			time.Sleep(time.Second)
		}
		if n := sc.states.Load() - before; n < 5 || n > 8 {
			t.Errorf("%d checkpoints for 30 crossings over 30 s, want 6 or so (one per 5 s)", n)
		}
		h.send(cross("main-counter", edge.In, 1))
		h.stop()
		h.close()

		h = newHarness(t, h.path)
		defer h.close()
		h.start()
		defer h.stop()
		if st := h.engine.Stats(); st.Doors[0].In != 31 {
			t.Errorf("after a clean stop and restart: main in %d, want 31", st.Doors[0].In)
		}
	})
}
