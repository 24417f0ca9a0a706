package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
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
	today     string               // the store day shownToday counts, YYYY-MM-DD
	shownDay  map[string]int       // member id → offers shown today
	lastSeen  map[string]time.Time // member id → last recognition
	lanes     map[string]*laneSession
	keys      map[string]keyRecord // idempotency keys of till requests
	history   []purchase           // member store updates waiting for the commit
	cmds      chan *posCmd
	stopped   chan struct{}
	ff        *footfall
	dirty     bool // ff changed since the last commit
	devices   map[string]DeviceStatus
	pending   []Event
	shows     []func()

	processed, recognised, unknown, shown, intervals atomic.Uint64
	committed, commitErrors, ignored, dropped        atomic.Uint64
	baskets, redemptions, abandoned, plays           atomic.Uint64
	stats                                            atomic.Pointer[Stats]
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
		lastSeen: map[string]time.Time{},
		lanes:    map[string]*laneSession{},
		keys:     map[string]keyRecord{},
		cmds:     make(chan *posCmd),
		stopped:  make(chan struct{}),
		ff:       newFootfall(o.Doors),
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
		var cp checkpoint
		err := json.Unmarshal(raw, &cp)
		if err == nil && cp.Footfall == nil { // written before checkout sessions: the footfall alone
			cp.Footfall = &footfall{}
			err = json.Unmarshal(raw, cp.Footfall)
		}
		if err != nil {
			e.log.Error("checkpoint unreadable, counting from zero", "err", err)
		} else {
			f := *cp.Footfall
			if cp.Keys != nil {
				e.keys = cp.Keys
			}
			e.restoreSessions(cp.Lanes)
			for _, d := range e.o.Doors {
				if f.Doors[d] == nil {
					if f.Doors == nil {
						f.Doors = map[string]*doorCount{}
					}
					f.Doors[d] = &doorCount{}
				}
			}
			for d := range f.Doors {
				if !slices.Contains(e.o.Doors, d) {
					delete(f.Doors, d) // a door removed from the config
				}
			}
			e.ff = &f
		}
	}
	e.reloadOffers()
	now := e.o.Now()
	if start := IntervalStart(now, e.o.Location, e.o.Interval); !e.ff.IntervalStart.IsZero() && start.After(e.ff.IntervalStart) {
		// The gateway was down: close the interval it was counting, but do
		// not invent intervals for the time it was off.
		e.closeInterval(NextInterval(e.ff.IntervalStart, e.o.Location, e.o.Interval))
		e.ff.IntervalStart = start
	}
	e.step(nil)
	return nil
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
// it: the footfall counters, the open baskets and the till's idempotency
// keys.
type checkpoint struct {
	Footfall *footfall               `json:"footfall"`
	Lanes    map[string]savedSession `json:"lanes,omitempty"`
	Keys     map[string]keyRecord    `json:"keys,omitempty"`
}

// step handles one batch at the engine clock's now, then commits.
func (e *Engine) step(batch []Event) {
	now := e.o.Now()
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

// roll closes every interval that ended at or before now.
func (e *Engine) roll(now time.Time) {
	loc, d := e.o.Location, e.o.Interval
	if e.ff.IntervalStart.IsZero() {
		e.ff.IntervalStart = IntervalStart(now, loc, d)
		e.ff.newDay(now.In(loc).Format(time.DateOnly))
		e.dirty = true
		return
	}
	for {
		next := NextInterval(e.ff.IntervalStart, loc, d)
		if now.Before(next) {
			return
		}
		e.closeInterval(next)
		e.ff.IntervalStart = next
	}
}

func (e *Engine) closeInterval(end time.Time) {
	for _, f := range e.ff.close(end) {
		e.pending = append(e.pending, Event{Kind: KindFootfall, Source: "engine", Time: end, Footfall: &f})
		e.intervals.Add(1)
	}
	e.ff.newDay(end.In(e.o.Location).Format(time.DateOnly))
	e.dirty = true
	e.prune(end)
}

// prune forgets caps and visits that can no longer matter.
func (e *Engine) prune(now time.Time) {
	for k, t := range e.caps {
		if now.Sub(t) >= e.o.FrequencyCap {
			delete(e.caps, k)
		}
	}
	for m, t := range e.lastSeen {
		if now.Sub(t) >= e.o.VisitGap {
			delete(e.lastSeen, m)
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
		if e.ff.cross(place.Door, ev.Crossing.Dir, ev.Crossing.Count) {
			e.dirty = true
		} else {
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

// recognise records that m was identified at place.
func (e *Engine) recognise(m *Member, source string, via Via, place Placement, at, now time.Time) {
	e.recognised.Add(1)
	last, seen := e.lastSeen[m.ID]
	e.lastSeen[m.ID] = now
	e.pending = append(e.pending, Event{
		Kind: KindRecognition, Source: source, Time: at,
		Recognition: &Recognition{
			MemberID: m.ID, Via: via, Zone: place.Zone, Lane: place.Lane, Door: place.Door,
			NewVisit: !seen || now.Sub(last) >= e.o.VisitGap,
		},
	})
}

// capped reports whether m saw o on screen within the frequency cap.
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

// dailyRoom is how many more offers m may be shown today.
func (e *Engine) dailyRoom(m *Member) int { return max(e.o.DailyCap-e.shownDay[m.ID], 0) }

func (e *Engine) expose(ev *Event, m *Member, o *Offer, ch Channel, screen, key string, rank int, now time.Time) {
	e.caps[capKey{m.ID, o.ID, key}] = now
	e.shownDay[m.ID]++
	e.shown.Add(1)
	e.pending = append(e.pending, Event{
		Kind: KindOfferShown, Source: ev.Source, Time: ev.Time,
		Exposure: &Exposure{OfferID: o.ID, MemberID: m.ID, Channel: ch, Screen: screen, Rank: rank},
	})
}

func (e *Engine) signage(ev *Event, m *Member, zone string, now time.Time) {
	key := "signage/" + zone
	if e.dailyRoom(m) == 0 {
		return // enough offers for today
	}
	picked := Select(e.offers, m, ChannelSignage, now, 1, e.capped(m, key, now))
	if len(picked) == 0 {
		return
	}
	o := picked[0]
	e.expose(ev, m, o, ChannelSignage, zone, key, 1, now)
	v := SignageView{Greeting: Greeting(m), Offer: offerView(o), ShowForMS: e.o.SignageShowFor.Milliseconds(), At: now}
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
	if len(e.pending) > 0 || e.dirty {
		var state []byte
		if e.dirty {
			var err error
			cp := checkpoint{Footfall: e.ff, Lanes: e.saveSessions(), Keys: e.keys}
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
			}
		} else {
			e.committed.Add(uint64(len(e.pending)))
			clear(e.pending)
			e.pending = e.pending[:0]
			e.dirty = false
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
		At: now, IntervalStart: e.ff.IntervalStart, Occupancy: e.ff.Occupancy,
		Doors: e.ff.stats(), Devices: devs,
		Processed: e.processed.Load(), Recognised: e.recognised.Load(), UnknownCards: e.unknown.Load(),
		OffersShown: e.shown.Load(), Footfall: e.intervals.Load(), Committed: e.committed.Load(),
		CommitErrors: e.commitErrors.Load(), Uncommitted: len(e.pending), Ignored: e.ignored.Load(),
		Dropped: e.dropped.Load(), Baskets: e.baskets.Load(), Redemptions: e.redemptions.Load(), Plays: e.plays.Load(),
	})
}

// Stats returns the latest snapshot. It never blocks the engine.
func (e *Engine) Stats() Stats { return *e.stats.Load() }
