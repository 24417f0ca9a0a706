package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned by a Directory when no member matches.
var ErrNotFound = errors.New("not found")

// Directory resolves members and lists offers; edge/store implements it on
// bbolt. Implementations must be safe for concurrent use.
type Directory interface {
	MemberByCard(uid []byte) (Member, error)
	// MemberByBarcode resolves a loyalty or shopping-list barcode and says
	// which of the two it is (ScanLoyalty or ScanList).
	MemberByBarcode(code string) (Member, ScanClass, error)
	// Member returns the member with this id.
	Member(id string) (Member, error)
	Offers() ([]Offer, error)
	// OffersVersion changes whenever the offers change.
	OffersVersion() uint64
}

// Journal durably records business events; sync/outbox implements it.
type Journal interface {
	// Commit appends evs (setting their IDs) and, when state is not nil,
	// replaces the engine checkpoint, in one durable transaction.
	Commit(evs []Event, state []byte) error
	// State returns the last checkpoint, or nil.
	State() ([]byte, error)
}

// Placement says where a device is: one of Zone, Lane or Door is set.
type Placement struct {
	Kind string // device kind, for device status events
	Zone string
	Lane string
	Door string
}

// Options configures the engine. Zero durations take the defaults noted.
type Options struct {
	Devices      map[string]Placement // by device name; events from other sources are ignored
	Doors        []string             // every door, so quiet doors report zero intervals
	Location     *time.Location       // store time zone; default UTC
	Interval     time.Duration        // footfall interval; default 15m
	CheckoutMax  int                  // offers per checkout panel; default 3
	FrequencyCap time.Duration        // same member, offer and screen; default 30m
	// DailyCap bounds the offers shown to one member per store day (local
	// midnight to midnight), every channel together; default 6.
	DailyCap       int
	SignageShowFor time.Duration // default 10s
	VisitGap       time.Duration // default 2h
	// DayStart is the local time of day at which the store's trading day
	// starts, 0 (midnight, the default) to 12h: a store open past
	// midnight sets e.g. 4h so that its night counts for the day before.
	DayStart time.Duration
	// Closing is the local time of day (after midnight: 1h for 01:00; 24h
	// for midnight) at which occupancy is reset to zero; 0: never.
	Closing time.Duration
	// StaffWindow is how far apart a staff badge read at a door and the
	// crossing it marks as staff may be; crossings wait that long before
	// they count. Default 5s.
	StaffWindow time.Duration
	// Now is the engine clock; default time.Now. The demo passes simulated
	// time, so intervals, validity windows and caps follow the simulation.
	Now func() time.Time
	// Tick is how often, in real time, the engine closes due intervals when
	// no event arrives; default 1s.
	Tick time.Duration
	// MaxPending bounds business events kept in memory while the outbox
	// cannot be written (a full disk); beyond it the oldest are dropped and
	// counted. Default 100 000.
	MaxPending int
	// Lanes are the checkout lanes the till may address; empty: any.
	Lanes []string
	// Currency is the store's ISO 4217 currency, carried by baskets.
	Currency string
	// History records purchases in the member store after each basket;
	// nil: not recorded.
	History PurchaseHistory
	Logger  *slog.Logger
}

// checkpointEvery is how often, at most, a change of the traffic tracker
// alone (crossings, reads) is written to the checkpoint.
const checkpointEvery = 5 * time.Second

// maxBatch is the most device events handled between two commits.
const maxBatch = 512

// Engine is the gateway's single owner of mutable business state: open
// intervals, occupancy, lane sessions, frequency caps and visits. One
// goroutine (Run) handles every event, commits the resulting business events
// to the journal and only then tells the displays.
type Engine struct {
	o       Options
	dir     Directory
	journal Journal
	display Display
	in      *Inbox
	log     *slog.Logger

	// Owned by the Run goroutine.
	offers    []Offer
	offersVer uint64
	caps      map[capKey]time.Time
	today     string         // the store day shownToday counts, YYYY-MM-DD
	shownDay  map[string]int // member id → offers shown today
	lanes     map[string]*laneSession
	keys      map[string]keyRecord // idempotency keys of till requests
	history   []purchase           // member store updates waiting for the commit
	cmds      chan *posCmd
	stopped   chan struct{}

	forgetMu  sync.Mutex
	forget    []string  // erased members to drop at the next step (ForgetLater)
	tr        *Tracker  // foot traffic and visits
	trSaved   uint64    // tr.Version() in the last checkpoint committed
	trSavedAt time.Time // when the tracker was last written
	final     bool      // the last step: write the checkpoint whatever changed
	observed  int       // pending[:observed] were given to tr.Observe
	dirty     bool      // state other than tr changed since the last commit
	devices   map[string]DeviceStatus
	pending   []Event
	shows     []func()

	processed, recognised, unknown, shown, intervals atomic.Uint64
	committed, commitErrors, ignored, dropped        atomic.Uint64
	baskets, redemptions, abandoned, plays           atomic.Uint64
	stats                                            atomic.Pointer[Stats]
	beat                                             atomic.Int64 // Run's last loop, Unix ns (Alive)
}

type capKey struct{ member, offer, screen string }

// NewEngine returns an engine reading from in. display may be nil.
func NewEngine(dir Directory, journal Journal, display Display, in *Inbox, o Options) *Engine {
	if o.Location == nil {
		o.Location = time.UTC
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Interval, 15*time.Minute)
	def(&o.FrequencyCap, 30*time.Minute)
	def(&o.SignageShowFor, 10*time.Second)
	def(&o.VisitGap, 2*time.Hour)
	def(&o.StaffWindow, 5*time.Second)
	def(&o.Tick, time.Second)
	if o.CheckoutMax <= 0 {
		o.CheckoutMax = 3
	}
	if o.DailyCap <= 0 {
		o.DailyCap = 6
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 100_000
	}
	if o.Currency == "" {
		o.Currency = "EUR"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		o: o, dir: dir, journal: journal, display: display, in: in,
		log:      o.Logger.With("component", "engine"),
		caps:     map[capKey]time.Time{},
		shownDay: map[string]int{},
		lanes:    map[string]*laneSession{},
		keys:     map[string]keyRecord{},
		cmds:     make(chan *posCmd),
		stopped:  make(chan struct{}),
		tr:       newTracker(o),
		devices:  map[string]DeviceStatus{},
	}
	e.stats.Store(&Stats{})
	return e
}

// Run handles events until ctx ends. On the way out it handles what is
// already queued and commits it: stop the drivers first, then the engine.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.stopped)
	if err := e.restore(); err != nil {
		return err
	}
	tick := time.NewTicker(e.o.Tick)
	defer tick.Stop()
	batch := make([]Event, 0, maxBatch)
	for {
		e.beat.Store(time.Now().UnixNano())
		batch = batch[:0]
		select {
		case <-ctx.Done():
			for len(batch) < cap(batch) {
				select {
				case ev := <-e.in.ch:
					batch = append(batch, ev)
					continue
				default:
				}
				break
			}
			e.final = true // the last checkpoint carries everything
			e.step(batch)
			if len(e.pending) > 0 {
				e.log.Error("stopping with uncommitted events", "events", len(e.pending))
			}
			return nil
		case ev := <-e.in.ch:
			batch = append(batch, ev)
		gather:
			for len(batch) < maxBatch {
				select {
				case ev := <-e.in.ch:
					batch = append(batch, ev)
				default:
					break gather
				}
			}
		case c := <-e.cmds:
			e.runCmd(c)
			continue
		case <-tick.C:
		}
		e.step(batch)
	}
}

// restore loads the checkpoint and the offers.
func (e *Engine) restore() error {
	raw, err := e.journal.State()
	if err != nil {
		return fmt.Errorf("engine: load checkpoint: %w", err)
	}
	if raw != nil {
		cp := checkpoint{Traffic: newTracker(e.o)}
		err := json.Unmarshal(raw, &cp)
		if cp.Traffic == nil { // "traffic": null
			cp.Traffic = newTracker(e.o)
		}
		fresh := err == nil && !cp.Traffic.started()
		if fresh && cp.Footfall == nil { // written before checkout sessions: the footfall alone
			cp.Footfall = &footfall{}
			err = json.Unmarshal(raw, cp.Footfall)
		}
		if err != nil {
			e.log.Error("checkpoint unreadable, counting from zero", "err", err)
		} else {
			if cp.Keys != nil {
				e.keys = cp.Keys
			}
			e.restoreSessions(cp.Lanes)
			e.tr = cp.Traffic
			if fresh { // written before the traffic tracker
				e.tr.adoptFootfall(cp.Footfall)
			}
			e.trSaved = e.tr.Version()
		}
	}
	e.reloadOffers()
	// After downtime, the interval that was open is closed, but no
	// intervals are invented for the time the gateway was off.
	e.emitTraffic(e.tr.Resume(e.o.Now()))
	e.step(nil)
	return nil
}

// newTracker returns the foot-traffic tracker of the engine's options.
func newTracker(o Options) *Tracker {
	return NewTracker(TrafficOptions{
		Doors: o.Doors, Location: o.Location, Interval: o.Interval, DayStart: o.DayStart, Closing: o.Closing,
		StaffWindow: o.StaffWindow, VisitGap: o.VisitGap, Currency: o.Currency,
	})
}

func (e *Engine) reloadOffers() {
	v := e.dir.OffersVersion()
	if v == e.offersVer && e.offers != nil {
		return
	}
	offers, err := e.dir.Offers()
	if err != nil {
		e.log.Error("load offers", "err", err)
		return
	}
	if offers == nil {
		offers = []Offer{}
	}
	e.offers, e.offersVer = offers, v
}

// checkpoint is the engine state committed with the events derived from
// it: the traffic tracker, the open baskets and the till's idempotency
// keys. Footfall is read from checkpoints written before the tracker.
type checkpoint struct {
	Traffic  *Tracker                `json:"traffic,omitempty"`
	Footfall *footfall               `json:"footfall,omitempty"`
	Lanes    map[string]savedSession `json:"lanes,omitempty"`
	Keys     map[string]keyRecord    `json:"keys,omitempty"`
}

// step handles one batch at the engine clock's now, then commits.
func (e *Engine) step(batch []Event) {
	now := e.o.Now()
	e.forgetErased()
	e.reloadOffers()
	e.roll(now)
	e.newStoreDay(now)
	e.expireSessions(now)
	for i := range batch {
		e.handle(&batch[i], now)
	}
	e.commit()
	e.flushHistory()
	e.publish(now)
}

// roll counts the foot traffic due by now: intervals and trading days that
// closed, visits that ended.
func (e *Engine) roll(now time.Time) { e.emitTraffic(e.tr.Advance(now)) }

// emitTraffic queues the tracker's events. A visit of a member erased
// meanwhile (no longer in the directory) is dropped: the downlink deletes
// the member before it purges the outbox.
func (e *Engine) emitTraffic(evs []Event) {
	for _, ev := range evs {
		switch ev.Kind {
		case KindVisit:
			if _, err := e.dir.Member(ev.Visit.MemberID); errors.Is(err, ErrNotFound) {
				e.tr.Forget(ev.Visit.MemberID)
				continue
			}
		case KindFootfall:
			e.intervals.Add(1)
		case KindTraffic:
			e.prune(ev.Time)
		}
		e.pending = append(e.pending, ev)
	}
}

// prune forgets caps that can no longer matter.
func (e *Engine) prune(now time.Time) {
	for k, t := range e.caps {
		if now.Sub(t) >= e.o.FrequencyCap {
			delete(e.caps, k)
		}
	}
}

// Forget drops everything the engine holds of an erased member: their open
// visit and today's figures (so no visit.closed names them), business
// events waiting for a commit, caps, and the member on an open basket
// (which stays open, anonymous). It runs on the engine goroutine: when it
// returns, every event the engine derived from the member's record before
// is either in the outbox (for the erasure's purge to remove) or gone.
func (e *Engine) Forget(ctx context.Context, memberID string) error {
	_, err := engineDo(ctx, e, func(time.Time) (bool, error) { e.forgetMember(memberID); return true, nil })
	return err
}

// ForgetLater is Forget for callers that cannot wait for the engine (it is
// not running yet, or stopped): the member is dropped at the engine's next
// step. It never blocks.
func (e *Engine) ForgetLater(memberIDs ...string) {
	e.forgetMu.Lock()
	e.forget = append(e.forget, memberIDs...)
	e.forgetMu.Unlock()
}

func (e *Engine) forgetErased() {
	e.forgetMu.Lock()
	ids := e.forget
	e.forget = nil
	e.forgetMu.Unlock()
	for _, id := range ids {
		e.forgetMember(id)
	}
}

func (e *Engine) forgetMember(id string) {
	e.tr.Forget(id)
	n := len(e.pending)
	kept := e.pending[:0]
	for i, ev := range e.pending {
		if ev.Member() == id {
			if i < e.observed {
				e.observed--
			}
			continue
		}
		kept = append(kept, ev)
	}
	clear(e.pending[len(kept):n])
	e.pending = kept
	delete(e.shownDay, id)
	for k := range e.caps {
		if k.member == id {
			delete(e.caps, k)
		}
	}
	for _, ls := range e.lanes {
		if ls.member != nil && ls.member.ID == id {
			ls.member, ls.offers = nil, nil
			e.dirty = true
		}
	}
}

func (e *Engine) handle(ev *Event, now time.Time) {
	e.processed.Add(1)
	if ev.Time.IsZero() {
		ev.Time = now // a driver that does not stamp its events
	}
	place, known := e.o.Devices[ev.Source]
	if !known {
		e.ignored.Add(1)
		return
	}
	switch {
	case ev.Kind == KindCardRead && ev.Card != nil:
		m, err := e.dir.MemberByCard(ev.Card.UID)
		e.identified(ev, place, m, err, ViaCard, now)
	case ev.Kind == KindScan && ev.Scan != nil && (ev.Scan.Class == ScanLoyalty || ev.Scan.Class == ScanList):
		m, _, err := e.dir.MemberByBarcode(ev.Scan.Code)
		e.identified(ev, place, m, err, ViaBarcode, now)
	case ev.Kind == KindDoorCrossing && ev.Crossing != nil && place.Door != "":
		if !e.tr.Cross(ev.Time, place.Door, ev.Crossing.Dir, ev.Crossing.Count) {
			e.ignored.Add(1)
		}
	case ev.Kind == KindDeviceStatus && ev.Device != nil:
		e.devices[ev.Device.Device] = *ev.Device
		e.pending = append(e.pending, *ev)
	default:
		e.ignored.Add(1)
	}
}

func (e *Engine) identified(ev *Event, place Placement, m Member, err error, via Via, now time.Time) {
	switch {
	case errors.Is(err, ErrNotFound):
		e.unknown.Add(1)
		if place.Lane != "" {
			e.unknownAtLane(place.Lane, via, now)
		}
		return
	case err != nil:
		e.ignored.Add(1)
		e.log.Error("resolve member", "source", ev.Source, "via", via, "err", err)
		return
	case m.Staff:
		// A staff card is no shopper's: no recognition, visit or offer. At
		// a door it marks a crossing as staff.
		if place.Door != "" {
			e.tr.Badge(ev.Time, place.Door)
		}
		return
	}
	e.recognise(&m, ev.Source, via, place, ev.Time, now)
	switch {
	case place.Zone != "":
		e.signage(ev, &m, place.Zone, now)
	case place.Lane != "":
		list := ev.Kind == KindScan && ev.Scan.Class == ScanList
		e.checkout(&m, via, list, place.Lane, now)
	}
}

// recognise records that m was identified at place. Staff are never
// recognised.
func (e *Engine) recognise(m *Member, source string, via Via, place Placement, at, now time.Time) {
	if m.Staff {
		return
	}
	e.recognised.Add(1)
	e.pending = append(e.pending, Event{
		Kind: KindRecognition, Source: source, Time: at,
		Recognition: &Recognition{
			MemberID: m.ID, Via: via, Zone: place.Zone, Lane: place.Lane, Door: place.Door,
			NewVisit: e.tr.Seen(at, m.ID, place.Zone, place.Lane, place.Door),
		},
	})
}

// capped reports whether m saw o on screen within the frequency cap, or
// was held out of it there (a withheld offer takes the cap slot of the
// exposure it replaced).
func (e *Engine) capped(m *Member, screen string, now time.Time) func(*Offer) bool {
	return func(o *Offer) bool {
		t, ok := e.caps[capKey{m.ID, o.ID, screen}]
		return ok && now.Sub(t) < e.o.FrequencyCap
	}
}

// newStoreDay starts the daily caps again at the store's midnight.
func (e *Engine) newStoreDay(now time.Time) {
	if day := now.In(e.o.Location).Format(time.DateOnly); day != e.today {
		e.today = day
		clear(e.shownDay)
	}
}

// dailyRoom is how many more offers m may be shown today. Withheld offers
// (holdouts) do not count: they were not shown.
func (e *Engine) dailyRoom(m *Member) int { return max(e.o.DailyCap-e.shownDay[m.ID], 0) }

// expose records that o was shown to m on screen at rank, at the member's
// depth (DepthFor), and counts it against the frequency and daily caps.
func (e *Engine) expose(ev *Event, m *Member, o *Offer, ch Channel, screen, key string, rank int, now time.Time) {
	e.caps[capKey{m.ID, o.ID, key}] = now
	e.shownDay[m.ID]++
	e.shown.Add(1)
	pct, cell, _ := DepthFor(o, m, now)
	e.pending = append(e.pending, Event{
		Kind: KindOfferShown, Source: ev.Source, Time: ev.Time,
		Exposure: &Exposure{OfferID: o.ID, MemberID: m.ID, Channel: ch, Screen: screen, Rank: rank,
			DiscountPct: pct, Cell: cell},
	})
}

// signage shows m's best offer on zone's screens. An offer m is held out
// of that would have been the one is recorded as withheld, and the next
// best is shown instead.
func (e *Engine) signage(ev *Event, m *Member, zone string, now time.Time) {
	key := "signage/" + zone
	if e.dailyRoom(m) == 0 {
		return // enough offers for today
	}
	picked, withheld := Choose(e.offers, m, ChannelSignage, now, 1, e.capped(m, key, now))
	for _, p := range withheld {
		e.withhold(ev, m, p, ChannelSignage, zone, key, now)
	}
	if len(picked) == 0 {
		return
	}
	o := picked[0].Offer
	e.expose(ev, m, o, ChannelSignage, zone, key, 1, now)
	v := SignageView{Greeting: Greeting(m), Offer: offerView(o, m, now), ShowForMS: e.o.SignageShowFor.Milliseconds(), At: now}
	e.show(func(d Display) { d.ShowSignage(zone, v) })
}

// checkout handles a member identified by a lane's reader or scanner: the
// same member again shows the same panel (a second scan of one basket);
// an anonymous basket gets the member; anything else opens a new basket.
func (e *Engine) checkout(m *Member, via Via, list bool, lane string, now time.Time) {
	s := e.lanes[lane]
	switch {
	case s != nil && s.member != nil && s.member.ID == m.ID:
		if list && !s.basket.List {
			s.basket.List = true // the shopping list, scanned after the card
		}
	case s != nil && s.member == nil:
		s.member, s.via, s.basket.List = m, via, list
	default:
		s = e.newSession(lane, m, via, list, now)
	}
	s.at = now
	e.price(s, "checkout/"+lane, now)
	e.showLane(lane, s, now)
}

// unknownAtLane shows that a card or barcode at lane is no member's. An
// open basket with lines stays open (the shopper pays without a member).
func (e *Engine) unknownAtLane(lane string, via Via, now time.Time) {
	v := CheckoutView{At: now, Known: false, Via: via, Offers: []BasketOffer{}}
	if s := e.lanes[lane]; s != nil {
		if s.member == nil && len(s.basket.Lines) > 0 {
			b := s.basket
			v.Basket = &b
		} else if s.member == nil {
			delete(e.lanes, lane)
			e.dirty = true
		}
	}
	e.show(func(d Display) { d.ShowCheckout(lane, v) })
}

func (e *Engine) show(f func(Display)) {
	if e.display != nil {
		e.shows = append(e.shows, func() { f(e.display) })
	}
}

// commit writes pending business events and the checkpoint, then tells the
// displays. When the journal fails (a full disk), the events stay pending
// and are retried on the next step; the screens are still served, so the
// store keeps trading.
func (e *Engine) commit() {
	// An invalid event would fail every commit after it: drop it, loudly.
	e.pending = slices.DeleteFunc(e.pending, func(ev Event) bool {
		err := ev.Validate()
		if err != nil {
			e.dropped.Add(1)
			e.log.Error("dropping invalid business event", "kind", ev.Kind, "source", ev.Source, "err", err)
		}
		return err != nil
	})
	// The traffic figures count the business events once, when they are
	// first committed (or tried): the checkpoint written with them includes
	// them, and a retry does not count them again.
	for i := e.observed; i < len(e.pending); i++ {
		e.tr.Observe(&e.pending[i])
	}
	e.observed = len(e.pending)
	ver := e.tr.Version()
	// Lane sessions and keys are written at once (the till relies on
	// them); the traffic tracker with the events derived from it, and
	// otherwise at most every checkpointEvery: a busy store changes it
	// every step, and its open visits make it tens of kilobytes, which an
	// SD card should not take every second. A power cut loses at most that
	// much of the counts since, never an event.
	dirty := e.dirty
	if ver != e.trSaved && !dirty {
		dirty = e.final || time.Since(e.trSavedAt) >= checkpointEvery ||
			slices.ContainsFunc(e.pending, func(ev Event) bool { return ev.Kind.fromTraffic() })
	}
	if len(e.pending) > 0 || dirty {
		var state []byte
		if dirty {
			var err error
			cp := checkpoint{Traffic: e.tr, Lanes: e.saveSessions(), Keys: e.keys}
			if state, err = json.Marshal(cp); err != nil {
				e.log.Error("encode checkpoint", "err", err)
				state = nil
			}
		}
		if err := e.journal.Commit(e.pending, state); err != nil {
			if e.commitErrors.Add(1) == 1 || e.commitErrors.Load()%100 == 0 {
				e.log.Error("commit to outbox failed; retrying", "events", len(e.pending), "failures", e.commitErrors.Load(), "err", err)
			}
			if over := len(e.pending) - e.o.MaxPending; over > 0 {
				e.dropped.Add(uint64(over))
				e.pending = slices.Delete(e.pending, 0, over)
				e.observed = max(e.observed-over, 0)
			}
		} else {
			e.committed.Add(uint64(len(e.pending)))
			clear(e.pending)
			e.pending = e.pending[:0]
			e.observed = 0
			e.dirty = false
			if state != nil {
				e.trSaved, e.trSavedAt = ver, time.Now()
			}
		}
	}
	for _, f := range e.shows {
		f()
	}
	clear(e.shows)
	e.shows = e.shows[:0]
}

func (e *Engine) publish(now time.Time) {
	devs := make([]DeviceStatus, 0, len(e.devices))
	for _, d := range e.devices {
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Device < devs[j].Device })
	e.stats.Store(&Stats{
		At: now, IntervalStart: e.tr.IntervalStart(), Occupancy: e.tr.Occupancy(),
		Doors: e.tr.DoorStats(), Devices: devs, Today: e.tr.Today(now),
		Processed: e.processed.Load(), Recognised: e.recognised.Load(), UnknownCards: e.unknown.Load(),
		OffersShown: e.shown.Load(), Footfall: e.intervals.Load(), Committed: e.committed.Load(),
		CommitErrors: e.commitErrors.Load(), Uncommitted: len(e.pending), Ignored: e.ignored.Load(),
		Dropped: e.dropped.Load(), Baskets: e.baskets.Load(), Redemptions: e.redemptions.Load(), Plays: e.plays.Load(),
	})
}

// Stats returns the latest snapshot. It never blocks the engine.
func (e *Engine) Stats() Stats { return *e.stats.Load() }
