package edge

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"
)

// Foot traffic.
//
// A Tracker turns door crossings, staff badge reads, member recognitions
// and the engine's business events into the store's traffic figures: per
// door and store-wide counting intervals (KindFootfall, KindTraffic),
// trading days (KindTrafficDay) and member visits (KindVisit). The engine
// goroutine owns it; it is deterministic (the same calls give the same
// events) and its state is part of the engine checkpoint (MarshalJSON).
//
// # Time
//
// Every input is placed at its own time, the driver's stamp, not at the
// time it is handled. A time after now (the last Advance) is taken as now;
// a time before what was already counted is taken as the oldest time still
// open, so a late event counts in the oldest interval still open. Inputs
// then wait StaffWindow before they count, so that a staff badge read up
// to StaffWindow after a crossing can still mark it: the counting clock
// runs StaffWindow behind now, and so do occupancy, intervals and days. An
// interval [Start, End) closes once End + StaffWindow has passed.
//
// # Staff
//
// A staff member's card read at a door (Badge) marks one person of one
// crossing of that door within StaffWindow of the read as staff: the most
// recent crossing before the read not yet marked, else the next one after
// it. A staff crossing counts in In or Out and in StaffIn or StaffOut, but
// not in Visitors nor in occupancy. A read that finds no crossing marks
// nothing.
//
// # Occupancy
//
// Occupancy counts visitors: entries less staff entries, less exits of
// visitors. An exit that finds the store empty does not take it below
// zero; it is counted in Clamped (drift: an entry the counters missed).
// At the closing time (TrafficOptions.Closing, local wall clock) occupancy
// is set to zero and what it cleared is recorded: Traffic.Reset on the
// interval the closing time ends or falls in, TrafficDay.Mismatch on its
// trading day. A closing time the clocks skip (spring) resets when they
// jump; one they pass twice (autumn) resets at the first.
//
// # Trading days
//
// A trading day starts at DayStart local time (midnight by default; a
// store open late sets e.g. 04:00 so that its night counts for the day
// before) and ends at the next day's start: 23 or 25 hours on the days the
// clocks change. An interval belongs to the trading day of its start. The
// day is reported (KindTrafficDay) when its last interval closes. Its
// DwellS is the mean visitor dwell by Little's law: occupancy integrated
// over the day, divided by the day's visitors.
//
// # Member visits
//
// A member's visit begins with their first recognition (Seen) at a zone,
// lane or door reader, and ends either at a door reader at least a minute
// after it began (a double tap at the entrance does not end it; Ended
// "door") or when the member was not recognised for VisitGap (Ended "gap",
// End the last recognition). A door read within a minute of the door read
// that ended a visit begins none. Door readers do not tell direction: a
// member recognised at a door on the way in within VisitGap of an earlier
// visit's last read ends that visit instead. Visits count for the trading
// day and interval in which they began.
//
// # Restart
//
// After a restart (Resume) the interval that was open when the gateway
// stopped is closed with its counts; the intervals of the time it was off
// are not invented. A trading day that ended meanwhile is still reported,
// with what was counted, and a closing time that passed meanwhile still
// resets occupancy.

// TrafficOptions configures a Tracker. Zero values take the defaults noted.
type TrafficOptions struct {
	Doors    []string       // every door, so quiet doors report zero intervals
	Location *time.Location // the store's time zone; default UTC
	Interval time.Duration  // counting interval; must divide a day; default 15m
	// DayStart is the local time of day at which a trading day starts,
	// 0 (midnight, the default) to 12h. It should fall on an interval
	// boundary: a day ends with the first interval starting at or after
	// the next day's start.
	DayStart time.Duration
	// Closing is the local time of day of the closing reset, after local
	// midnight: 21h30m, or 1h for a store closing after midnight; 24h is
	// midnight. 0: no closing reset.
	Closing time.Duration
	// StaffWindow is how far apart a staff badge read and the crossing it
	// marks may be; inputs wait that long before they count. Default 5s.
	StaffWindow time.Duration
	// VisitGap ends a member's visit they were not recognised for that
	// long. Default 2h.
	VisitGap time.Duration
	Currency string // carried by intervals and days
}

// minVisit is how long after its start a door read ends a visit, and how
// long after that a door read begins no new one.
const minVisit = time.Minute

// Tracker counts the store's foot traffic; see the section comment above.
// It is not safe for concurrent use.
type Tracker struct {
	o     TrafficOptions
	doors []string // sorted
	st    trafficState
	now   time.Time // the last Advance's now
	out   []Event
	ver   uint64 // counts changes that a checkpoint must keep

	today   *TrafficToday // shared between Today calls until it changes
	todayV  uint64
	todayAt time.Time
}

// trafficState is what a checkpoint keeps of a Tracker.
type trafficState struct {
	Clock     time.Time             `json:"clock"`               // counted up to here
	Open      time.Time             `json:"open"`                // the open interval's start
	NextReset time.Time             `json:"next_reset,omitzero"` // the next closing reset
	Occupancy int                   `json:"occupancy"`           // visitors inside at Clock
	Interval  Traffic               `json:"interval"`            // the open interval so far
	Doors     map[string]*doorCount `json:"doors"`               // by door
	Day       *dayCount             `json:"day"`                 // the open trading day so far
	// Closed are the open day's closed intervals, for Today. They are not
	// checkpointed (the checkpoint is rewritten at every change, and they
	// went to the outbox as traffic.interval events): after a restart,
	// Today holds the intervals closed since.
	Closed []Traffic             `json:"-"`
	Items  []trafficItem         `json:"items,omitempty"`  // waiting to count, in time order
	Badges []badgeRead           `json:"badges,omitempty"` // staff reads waiting for a crossing
	Visits map[string]*openVisit `json:"visits,omitempty"` // by member
	Exits  map[string]time.Time  `json:"exits,omitempty"`  // member → door read that ended a visit
}

// doorCount is one door's crossings in the open interval and trading day.
type doorCount struct {
	In       int     `json:"in"`
	Out      int     `json:"out"`
	StaffIn  int     `json:"staff_in,omitempty"`
	StaffOut int     `json:"staff_out,omitempty"`
	Day      DoorDay `json:"day"`
}

// dayCount is the open trading day so far.
type dayCount struct {
	TrafficDay
	Counted  bool                  `json:"counted,omitempty"`      // an interval of it was closed
	OccMS    int64                 `json:"occupancy_ms,omitempty"` // ∫ occupancy dt, person-milliseconds
	IDs      map[string]bool       `json:"member_ids,omitempty"`   // who began a visit
	Erased   int                   `json:"erased,omitempty"`       // visitors among them erased since
	DwellSum int64                 `json:"dwell_sum,omitempty"`    // closed member visits, seconds
	DwellN   int                   `json:"dwell_n,omitempty"`
	ZoneSum  map[string]*zoneCount `json:"zone_sum,omitempty"`
}

type zoneCount struct {
	Visits int   `json:"visits"`
	DwellS int64 `json:"dwell_s"`
}

// itemKind is what a waiting input is.
type itemKind string

const (
	itemCross    itemKind = "cross"    // a door crossing
	itemShown    itemKind = "shown"    // an offer exposure
	itemRedeemed itemKind = "redeemed" // a redemption
	itemWithheld itemKind = "withheld" // an offer withheld from a holdout member
	itemBasket   itemKind = "basket"   // a closed basket
	itemVisit    itemKind = "visit"    // a member visit began
	itemLeft     itemKind = "left"     // a member visit ended
)

// trafficItem is an input waiting to count.
type trafficItem struct {
	At     time.Time `json:"at"`
	Kind   itemKind  `json:"kind"`
	Door   string    `json:"door,omitempty"`
	Dir    Direction `json:"dir,omitempty"`
	N      int       `json:"n,omitempty"`      // people crossing
	Staff  int       `json:"staff,omitempty"`  // of them, marked by staff badges
	Member string    `json:"member,omitempty"` // itemVisit: who ("" once erased)
	// Counted marks an erased member's itemVisit whose member is already
	// among the day's distinct members: it must not count them again.
	Counted bool   `json:"counted,omitempty"`
	Known   bool   `json:"known,omitempty"` // itemBasket: an identified member's
	Total   Money  `json:"total,omitempty"` // itemBasket
	Visit   *Visit `json:"visit,omitempty"` // itemLeft
}

// badgeRead is a staff badge read at a door that found no crossing yet.
type badgeRead struct {
	At   time.Time `json:"at"`
	Door string    `json:"door"`
}

// openVisit is a member's visit in progress.
type openVisit struct {
	Start     time.Time   `json:"start"`
	Last      time.Time   `json:"last"`
	EntryDoor string      `json:"entry_door,omitempty"`
	Zones     []zoneStint `json:"zones,omitempty"`
	Lanes     []string    `json:"lanes,omitempty"`
	In        string      `json:"in,omitempty"` // the zone of the last read, since InAt
	InAt      time.Time   `json:"in_at,omitzero"`
	Baskets   int         `json:"baskets,omitempty"`
	Spend     Money       `json:"spend,omitempty"`
}

// zoneStint is one zone of a visit in progress.
type zoneStint struct {
	Zone  string        `json:"zone"`
	First time.Time     `json:"first"`
	Last  time.Time     `json:"last"`
	Dwell time.Duration `json:"dwell"`
}

// NewTracker returns a tracker that starts counting at its first Advance.
func NewTracker(o TrafficOptions) *Tracker {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Interval <= 0 {
		o.Interval = 15 * time.Minute
	}
	if o.StaffWindow <= 0 {
		o.StaffWindow = 5 * time.Second
	}
	if o.VisitGap <= 0 {
		o.VisitGap = 2 * time.Hour
	}
	o.DayStart = min(max(o.DayStart, 0), 12*time.Hour)
	if o.Closing < 0 || o.Closing > 24*time.Hour {
		o.Closing = 0
	}
	t := &Tracker{o: o, doors: slices.Compact(slices.Sorted(slices.Values(o.Doors)))}
	t.st = t.fresh()
	return t
}

func (t *Tracker) fresh() trafficState {
	st := trafficState{Doors: map[string]*doorCount{}, Visits: map[string]*openVisit{}, Exits: map[string]time.Time{}}
	for _, d := range t.doors {
		st.Doors[d] = &doorCount{Day: DoorDay{Door: d}}
	}
	return st
}

func (t *Tracker) started() bool { return !t.st.Open.IsZero() }

// start begins counting at now (inputs before now count at now).
func (t *Tracker) start(now time.Time) {
	t.st.Clock = now.In(t.o.Location)
	t.st.Open = IntervalStart(t.st.Clock, t.o.Location, t.o.Interval)
	t.st.Interval = Traffic{Start: t.st.Open, Currency: t.o.Currency}
	t.st.Day = t.newDay(t.st.Open)
	t.st.NextReset = t.resetAfter(t.st.Clock)
	t.ver++
}

// Version changes whenever the tracker changed in a way a checkpoint must
// keep. (The counting clock moving on alone is not such a change: it is
// replayed from the checkpoint.)
func (t *Tracker) Version() uint64 { return t.ver }

// Occupancy is the visitors inside, as counted up to StaffWindow ago.
func (t *Tracker) Occupancy() int { return t.st.Occupancy }

// IntervalStart is the start of the open interval (zero before the first
// Advance).
func (t *Tracker) IntervalStart() time.Time { return t.st.Open }

// DoorStats returns each door's crossings in the open interval and the
// open trading day, sorted by door. They include the crossings still
// waiting for the staff window: staff or not, a crossing counts in In or
// Out.
func (t *Tracker) DoorStats() []DoorStats {
	out := make([]DoorStats, 0, len(t.doors))
	for _, n := range t.doors {
		d := t.st.Doors[n]
		out = append(out, DoorStats{Door: n, In: d.In, Out: d.Out, InToday: d.Day.In, OutToday: d.Day.Out})
	}
	if len(t.st.Items) == 0 || !t.started() {
		return out
	}
	end := NextInterval(t.st.Open, t.o.Location, t.o.Interval)
	for i := range t.st.Items {
		it := &t.st.Items[i]
		j, ok := slices.BinarySearch(t.doors, it.Door)
		if it.Kind != itemCross || !ok || !it.At.Before(t.st.Day.End) {
			continue
		}
		in, now := &out[j].InToday, &out[j].In
		if it.Dir == Out {
			in, now = &out[j].OutToday, &out[j].Out
		}
		*in += it.N
		if it.At.Before(end) {
			*now += it.N
		}
	}
	return out
}

// place is where an input at at goes: never after now, never before what
// was counted; in the store's time zone, as every time the tracker reports.
func (t *Tracker) place(at time.Time) time.Time {
	if !t.now.IsZero() && at.After(t.now) {
		at = t.now
	}
	if at.Before(t.st.Clock) {
		at = t.st.Clock
	}
	return at.In(t.o.Location)
}

// push queues an input in time order (after those at the same time).
func (t *Tracker) push(it trafficItem) {
	it.At = t.place(it.At)
	i := len(t.st.Items)
	for i > 0 && t.st.Items[i-1].At.After(it.At) {
		i--
	}
	t.st.Items = slices.Insert(t.st.Items, i, it)
	t.ver++
}

// Cross records n people crossing door in dir at at. It reports false, and
// counts nothing, for an unknown door, a direction other than In and Out,
// or n < 1.
func (t *Tracker) Cross(at time.Time, door string, dir Direction, n int) bool {
	if t.st.Doors[door] == nil || n < 1 || (dir != In && dir != Out) {
		return false
	}
	it := trafficItem{At: t.place(at), Kind: itemCross, Door: door, Dir: dir, N: n}
	w := t.o.StaffWindow
	t.st.Badges = slices.DeleteFunc(t.st.Badges, func(b badgeRead) bool {
		if it.Staff < it.N && b.Door == door && absDur(it.At.Sub(b.At)) <= w {
			it.Staff++
			return true
		}
		return false
	})
	t.push(it)
	return true
}

// Badge records a staff badge read at door at at: it marks one person of
// a crossing of that door within StaffWindow as staff (see Tracker). It
// reports false for an unknown door.
func (t *Tracker) Badge(at time.Time, door string) bool {
	if t.st.Doors[door] == nil {
		return false
	}
	at = t.place(at)
	w := t.o.StaffWindow
	free := func(it *trafficItem) bool { return it.Kind == itemCross && it.Door == door && it.Staff < it.N }
	best := -1
	for i := len(t.st.Items) - 1; i >= 0; i-- { // the most recent before the read
		it := &t.st.Items[i]
		if it.At.After(at) {
			continue
		}
		if at.Sub(it.At) > w {
			break
		}
		if free(it) {
			best = i
			break
		}
	}
	if best < 0 { // else the next one after it
		for i := range t.st.Items {
			it := &t.st.Items[i]
			if !it.At.After(at) {
				continue
			}
			if it.At.Sub(at) > w {
				break
			}
			if free(it) {
				best = i
				break
			}
		}
	}
	if best >= 0 {
		t.st.Items[best].Staff++
	} else {
		t.st.Badges = append(t.st.Badges, badgeRead{At: at, Door: door})
	}
	t.ver++
	return true
}

// Seen records that member was recognised at at, at a zone, a lane or a
// door, and reports whether the recognition began a visit.
func (t *Tracker) Seen(at time.Time, member, zone, lane, door string) (newVisit bool) {
	if !t.now.IsZero() && at.After(t.now) {
		at = t.now
	}
	at = at.In(t.o.Location)
	t.ver++
	v := t.st.Visits[member]
	if v != nil && at.Sub(v.Last) >= t.o.VisitGap {
		t.endVisit(member, v, "gap", "", v.Last.Add(t.o.VisitGap))
		v = nil
	}
	if v == nil {
		if x, ok := t.st.Exits[member]; ok && door != "" && at.Sub(x) < minVisit {
			return false // a second tap on the way out
		}
		delete(t.st.Exits, member)
		v = &openVisit{Start: at, Last: at, EntryDoor: door}
		t.st.Visits[member] = v
		v.see(at, zone, lane)
		t.push(trafficItem{At: at, Kind: itemVisit, Member: member})
		return true
	}
	v.see(at, zone, lane)
	if door != "" && at.Sub(v.Start) >= minVisit {
		t.endVisit(member, v, "door", door, at)
		t.st.Exits[member] = at
	}
	return false
}

// see records a read of the visit at a zone, a lane, or (both empty) a door.
func (v *openVisit) see(at time.Time, zone, lane string) {
	if at.After(v.Last) {
		v.Last = at
	}
	if zone == "" {
		v.leave(at)
		if lane != "" && !slices.Contains(v.Lanes, lane) {
			v.Lanes = append(v.Lanes, lane)
		}
		return
	}
	i := slices.IndexFunc(v.Zones, func(z zoneStint) bool { return z.Zone == zone })
	if i < 0 {
		v.Zones = append(v.Zones, zoneStint{Zone: zone, First: at, Last: at})
		i = len(v.Zones) - 1
	}
	z := &v.Zones[i]
	if at.Before(z.First) {
		z.First = at
	}
	if at.After(z.Last) {
		z.Last = at
	}
	if v.In != zone {
		v.leave(at)
		v.In, v.InAt = zone, at
	}
}

// leave ends the time in the zone of the last read at at: the member was
// seen elsewhere.
func (v *openVisit) leave(at time.Time) {
	if v.In == "" {
		return
	}
	for i := range v.Zones {
		if z := &v.Zones[i]; z.Zone == v.In && at.After(v.InAt) {
			z.Dwell += at.Sub(v.InAt)
		}
	}
	v.In = ""
}

// endVisit ends member's visit v (how is "door" or "gap") and queues its
// visit.closed event at at.
func (t *Tracker) endVisit(member string, v *openVisit, how, door string, at time.Time) {
	end := v.Last
	if how == "door" {
		end = at
	}
	v.leave(v.Last) // never seen elsewhere after: until the last read there
	vis := &Visit{MemberID: member, Start: v.Start, End: end, DwellS: seconds(end.Sub(v.Start)),
		EntryDoor: v.EntryDoor, ExitDoor: door, Baskets: v.Baskets, Spend: v.Spend, Ended: how}
	zs := slices.Clone(v.Zones)
	sort.SliceStable(zs, func(i, j int) bool { return zs[i].First.Before(zs[j].First) })
	for _, z := range zs {
		vis.Zones = append(vis.Zones, ZoneVisit{Zone: z.Zone, First: z.First, Last: z.Last, DwellS: seconds(z.Dwell)})
	}
	if len(v.Lanes) > 0 {
		vis.Lanes = slices.Sorted(slices.Values(v.Lanes))
	}
	delete(t.st.Visits, member)
	t.push(trafficItem{At: at, Kind: itemLeft, Visit: vis})
}

// Observe counts a business event the engine produced: offer.shown,
// offer.redeemed and offer.withheld count as offers, basket.closed as a
// basket of the interval and of the member's open visit. Other kinds are
// ignored.
func (t *Tracker) Observe(ev *Event) {
	switch {
	case ev.Kind == KindOfferShown:
		t.push(trafficItem{At: ev.Time, Kind: itemShown})
	case ev.Kind == KindRedeemed:
		t.push(trafficItem{At: ev.Time, Kind: itemRedeemed})
	case ev.Kind == KindWithheld:
		t.push(trafficItem{At: ev.Time, Kind: itemWithheld})
	case ev.Kind == KindBasket && ev.Basket != nil:
		b := ev.Basket
		t.push(trafficItem{At: ev.Time, Kind: itemBasket, Known: b.MemberID != "", Total: b.Total})
		if v := t.st.Visits[b.MemberID]; v != nil && b.MemberID != "" {
			v.Baskets++
			v.Spend += b.Total
		}
	}
}

// Forget drops what the tracker holds of an erased member: their open
// visit (no visit.closed will name them) and their id in the day's
// distinct members (still counted). It reports whether anything named them.
func (t *Tracker) Forget(member string) bool {
	found := false
	if _, ok := t.st.Visits[member]; ok {
		delete(t.st.Visits, member)
		found = true
	}
	if _, ok := t.st.Exits[member]; ok {
		delete(t.st.Exits, member)
		found = true
	}
	t.st.Items = slices.DeleteFunc(t.st.Items, func(it trafficItem) bool {
		if it.Kind == itemLeft && it.Visit.MemberID == member {
			found = true
			return true
		}
		return false
	})
	counted := false // the member is already among today's distinct members
	if d := t.st.Day; d != nil && d.IDs[member] {
		delete(d.IDs, member)
		d.Erased++
		counted, found = true, true
	}
	for i := range t.st.Items {
		if it := &t.st.Items[i]; it.Kind == itemVisit && it.Member == member {
			it.Member, it.Counted = "", counted
			counted, found = true, true
		}
	}
	if found {
		t.ver++
	}
	return found
}

// Advance counts what waited StaffWindow by now, ends visits not seen for
// VisitGap, and returns the events that became due, in time order: per
// closed interval its KindFootfall events (one per door, sorted) and its
// KindTraffic, KindVisit for ended visits, and KindTrafficDay for each
// closed trading day.
func (t *Tracker) Advance(now time.Time) []Event {
	t.now = now
	if !t.started() {
		t.start(now)
	}
	var due []string
	for m, v := range t.st.Visits {
		if now.Sub(v.Last) >= t.o.VisitGap {
			due = append(due, m)
		}
	}
	slices.Sort(due)
	for _, m := range due {
		v := t.st.Visits[m]
		t.endVisit(m, v, "gap", "", v.Last.Add(t.o.VisitGap))
	}
	for m, x := range t.st.Exits {
		if now.Sub(x) >= minVisit {
			delete(t.st.Exits, m)
		}
	}
	t.settle(now.Add(-t.o.StaffWindow), false)
	return t.drain()
}

// Resume continues counting after a restart at now. When the gateway was
// off beyond the interval it was counting, what waited counts, that
// interval is closed with its counts, and the intervals up to now pass
// without events (closing resets and trading days still apply); counting
// starts again at now, as on a first start. Then Advance runs.
func (t *Tracker) Resume(now time.Time) []Event {
	if t.started() && IntervalStart(now, t.o.Location, t.o.Interval).After(NextInterval(t.st.Open, t.o.Location, t.o.Interval)) {
		t.now = now
		t.settle(now, true)
		t.ver++
	}
	return t.Advance(now)
}

func (t *Tracker) drain() []Event {
	out := t.out
	t.out = nil
	return out
}

// settle counts the inputs before cut and moves the counting clock to cut.
// With skip, only the first interval closed is reported (see Resume).
func (t *Tracker) settle(cut time.Time, skip bool) {
	n := 0
	for n < len(t.st.Items) && t.st.Items[n].At.Before(cut) {
		it := &t.st.Items[n]
		t.roll(it.At, false)
		t.apply(it)
		n++
	}
	if n > 0 { // keep the array: a busy door reuses it
		m := copy(t.st.Items, t.st.Items[n:])
		clear(t.st.Items[m:])
		t.st.Items = t.st.Items[:m]
	}
	t.roll(cut, skip)
	// A staff read no crossing can reach any more: crossings from now on
	// are placed at or after the clock.
	w := t.o.StaffWindow
	t.st.Badges = slices.DeleteFunc(t.st.Badges, func(b badgeRead) bool { return b.At.Add(w).Before(t.st.Clock) })
}

// roll moves the counting clock to to: closing resets and interval ends
// (and with them trading days) are applied in time order, a reset before
// an interval that ends at the same instant. With skip, the intervals
// after the first one closed are not reported and occupancy is not
// integrated over them.
func (t *Tracker) roll(to time.Time, skip bool) {
	silent := false
	for {
		end := NextInterval(t.st.Open, t.o.Location, t.o.Interval)
		if r := t.st.NextReset; !r.IsZero() && !r.After(end) && !r.After(to) {
			t.flow(r, silent)
			t.reset(r)
			continue
		}
		if end.After(to) {
			break
		}
		t.flow(end, silent)
		t.closeInterval(end, !silent)
		silent = skip
	}
	t.flow(to, silent)
}

// flow moves the counting clock to to, integrating occupancy unless silent.
func (t *Tracker) flow(to time.Time, silent bool) {
	if !to.After(t.st.Clock) {
		return
	}
	if !silent {
		t.st.Day.OccMS += int64(t.st.Occupancy) * to.Sub(t.st.Clock).Milliseconds()
	}
	t.st.Clock = to
}

// reset is the closing reset at r.
func (t *Tracker) reset(r time.Time) {
	cleared := t.st.Occupancy
	t.st.Occupancy = 0
	v := cleared
	if t.st.Interval.Reset != nil {
		v += *t.st.Interval.Reset
	}
	t.st.Interval.Reset = &v
	t.st.Day.Mismatch += cleared
	t.st.NextReset = t.resetAfter(r)
	t.ver++
}

// closeInterval closes the open interval at end, reporting it when emit,
// and opens the next; a new trading day closes the open one.
func (t *Tracker) closeInterval(end time.Time, emit bool) {
	occ := t.st.Occupancy
	if emit {
		for _, n := range t.doors {
			d := t.st.Doors[n]
			t.out = append(t.out, Event{Kind: KindFootfall, Source: "engine", Time: end, Footfall: &Footfall{
				Door: n, Start: t.st.Open, End: end, In: d.In, Out: d.Out, Occupancy: occ, StaffIn: d.StaffIn, StaffOut: d.StaffOut,
			}})
		}
		iv := t.st.Interval
		iv.End, iv.Day, iv.Occupancy, iv.Currency = end, t.st.Day.Day, occ, t.o.Currency
		t.out = append(t.out, Event{Kind: KindTraffic, Source: "engine", Time: end, Traffic: &iv})
		t.st.Closed = append(t.st.Closed, iv)
		t.st.Day.Counted = true
	}
	for _, d := range t.st.Doors {
		d.In, d.Out, d.StaffIn, d.StaffOut = 0, 0, 0, 0
	}
	t.st.Open = end
	t.st.Interval = Traffic{Start: end, Peak: occ, Currency: t.o.Currency}
	if name, _, _ := t.tradingDay(end); name != t.st.Day.Day {
		if t.st.Day.Counted {
			t.out = append(t.out, Event{Kind: KindTrafficDay, Source: "engine", Time: end, Day: t.dayReport()})
		}
		t.st.Day = t.newDay(end)
		t.st.Closed = nil
	}
	t.ver++
}

// newDay opens the trading day of at.
func (t *Tracker) newDay(at time.Time) *dayCount {
	name, start, end := t.tradingDay(at)
	d := &dayCount{TrafficDay: TrafficDay{Day: name, Start: start, End: end, Currency: t.o.Currency}}
	if occ := t.st.Occupancy; occ > 0 {
		d.Peak, d.PeakAt = occ, at
	}
	for n, dc := range t.st.Doors {
		dc.Day = DoorDay{Door: n}
	}
	return d
}

// dayReport is the open trading day as reported.
func (t *Tracker) dayReport() *TrafficDay {
	d := t.st.Day
	r := d.TrafficDay
	r.Currency = t.o.Currency
	r.Members = len(d.IDs) + d.Erased
	if r.Visitors > 0 {
		r.DwellS = (d.OccMS/int64(r.Visitors) + 500) / 1000
	}
	if d.DwellN > 0 {
		r.MemberDwellS = (d.DwellSum + int64(d.DwellN)/2) / int64(d.DwellN)
	}
	r.Doors = make([]DoorDay, 0, len(t.doors))
	for _, n := range t.doors {
		r.Doors = append(r.Doors, t.st.Doors[n].Day)
	}
	r.Zones = make([]ZoneDwell, 0, len(d.ZoneSum))
	for _, z := range slices.Sorted(maps.Keys(d.ZoneSum)) {
		c := d.ZoneSum[z]
		r.Zones = append(r.Zones, ZoneDwell{Zone: z, Visits: c.Visits, DwellS: (c.DwellS + int64(c.Visits)/2) / int64(c.Visits)})
	}
	return &r
}

// apply counts one input at the counting clock.
func (t *Tracker) apply(it *trafficItem) {
	iv, day := &t.st.Interval, t.st.Day
	switch it.Kind {
	case itemCross:
		d := t.st.Doors[it.Door]
		if d == nil {
			return // a door removed from the configuration
		}
		visitors := it.N - it.Staff
		if it.Dir == In {
			d.In += it.N
			d.StaffIn += it.Staff
			d.Day.In += it.N
			d.Day.StaffIn += it.Staff
			iv.In += it.N
			iv.StaffIn += it.Staff
			iv.Visitors += visitors
			day.In += it.N
			day.StaffIn += it.Staff
			day.Visitors += visitors
			t.st.Occupancy += visitors
		} else {
			d.Out += it.N
			d.StaffOut += it.Staff
			d.Day.Out += it.N
			d.Day.StaffOut += it.Staff
			iv.Out += it.N
			iv.StaffOut += it.Staff
			day.Out += it.N
			day.StaffOut += it.Staff
			left := min(visitors, t.st.Occupancy)
			t.st.Occupancy -= left
			iv.Clamped += visitors - left
			day.Clamped += visitors - left
		}
		if occ := t.st.Occupancy; occ > iv.Peak {
			iv.Peak = occ
		}
		if occ := t.st.Occupancy; occ > day.Peak {
			day.Peak, day.PeakAt = occ, it.At
		}
	case itemShown:
		iv.OffersShown++
		day.OffersShown++
	case itemRedeemed:
		iv.OffersRedeemed++
		day.OffersRedeemed++
	case itemWithheld:
		iv.OffersWithheld++
		day.OffersWithheld++
	case itemBasket:
		iv.Baskets++
		iv.Spend += it.Total
		day.Baskets++
		day.Spend += it.Total
		if it.Known {
			iv.MemberBaskets++
			iv.MemberSpend += it.Total
			day.MemberBaskets++
			day.MemberSpend += it.Total
		}
	case itemVisit:
		iv.MemberVisits++
		day.MemberVisits++
		switch {
		case it.Member == "" && !it.Counted:
			day.Erased++
		case it.Member == "":
		case !day.IDs[it.Member]:
			if day.IDs == nil {
				day.IDs = map[string]bool{}
			}
			day.IDs[it.Member] = true
		}
	case itemLeft:
		v := it.Visit
		t.out = append(t.out, Event{Kind: KindVisit, Source: "engine", Time: it.At, Visit: v})
		if name, _, _ := t.tradingDay(v.Start); name == day.Day {
			day.DwellSum += v.DwellS
			day.DwellN++
			for _, z := range v.Zones {
				if day.ZoneSum == nil {
					day.ZoneSum = map[string]*zoneCount{}
				}
				c := day.ZoneSum[z.Zone]
				if c == nil {
					c = &zoneCount{}
					day.ZoneSum[z.Zone] = c
				}
				c.Visits++
				c.DwellS += z.DwellS
			}
		}
	}
	t.ver++
}

// Today returns the open trading day: its closed intervals and the open
// one so far, its End at now. The value is shared: it is rebuilt only when
// the tracker changed or now moved on by a second or more, and must not be
// modified. Nil before the first Advance.
func (t *Tracker) Today(now time.Time) *TrafficToday {
	if !t.started() {
		return nil
	}
	if t.today != nil && t.todayV == t.ver && now.Sub(t.todayAt) < time.Second && !now.Before(t.todayAt) {
		return t.today
	}
	d := t.st.Day
	iv := t.st.Interval
	iv.End, iv.Day, iv.Occupancy, iv.Currency = now, d.Day, t.st.Occupancy, t.o.Currency
	ivs := make([]Traffic, len(t.st.Closed), len(t.st.Closed)+1)
	copy(ivs, t.st.Closed)
	t.today = &TrafficToday{Day: d.Day, Intervals: append(ivs, iv), Occupancy: t.st.Occupancy,
		Peak: d.Peak, Members: len(d.IDs) + d.Erased}
	t.todayV, t.todayAt = t.ver, now
	return t.today
}

// tradingDay returns the trading day of at: its date and its [start, end).
func (t *Tracker) tradingDay(at time.Time) (name string, start, end time.Time) {
	loc := t.o.Location
	y, m, d := at.In(loc).Date()
	start = wallAt(y, m, d, t.o.DayStart, loc)
	if at.Before(start) {
		y, m, d = time.Date(y, m, d-1, 12, 0, 0, 0, time.UTC).Date()
		start = wallAt(y, m, d, t.o.DayStart, loc)
	}
	end = wallAt(y, m, d+1, t.o.DayStart, loc)
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d), start, end
}

// resetAfter is the first closing reset after after; zero without one.
func (t *Tracker) resetAfter(after time.Time) time.Time {
	if t.o.Closing <= 0 {
		return time.Time{}
	}
	c := t.o.Closing % (24 * time.Hour)
	y, m, d := after.In(t.o.Location).Date()
	for i := -1; i <= 2; i++ {
		if r := wallAt(y, m, d+i, c, t.o.Location); r.After(after) {
			return r
		}
	}
	return time.Time{} // unreachable: a day later is always after
}

// wallAt is when the local wall clock in loc shows off past midnight of
// the given date (which time.Date normalises). A wall time the clocks skip
// happens when they jump; one they show twice happens the first time.
func wallAt(y int, m time.Month, d int, off time.Duration, loc *time.Location) time.Time {
	mins := int(off / time.Minute)
	t := time.Date(y, m, d, 0, mins, 0, 0, loc)
	want := time.Date(y, m, d, 0, mins, 0, 0, time.UTC)
	if t.Hour() != want.Hour() || t.Minute() != want.Minute() || t.Day() != want.Day() {
		start, _ := t.ZoneBounds() // skipped: time.Date moved it past the jump
		if !start.IsZero() {
			return start
		}
		return t
	}
	start, _ := t.ZoneBounds()
	if !start.IsZero() {
		_, off1 := t.Zone()
		_, off0 := start.Add(-time.Second).Zone()
		if off0 > off1 { // the clocks went back at start: is there an earlier t?
			if first := t.Add(-time.Duration(off0-off1) * time.Second); first.Before(start) {
				return first
			}
		}
	}
	return t
}

// MarshalJSON encodes the tracker's state for the engine checkpoint.
func (t *Tracker) MarshalJSON() ([]byte, error) { return json.Marshal(&t.st) }

// UnmarshalJSON restores a state MarshalJSON encoded, with the tracker's
// own options: doors added to the configuration since start from zero,
// doors removed from it are dropped.
func (t *Tracker) UnmarshalJSON(b []byte) error {
	var st trafficState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	t.adopt(st)
	return nil
}

// adopt takes st as the tracker's state.
func (t *Tracker) adopt(st trafficState) {
	fresh := t.fresh()
	if st.Doors == nil {
		st.Doors = fresh.Doors
	}
	for n, d := range fresh.Doors {
		if st.Doors[n] == nil {
			st.Doors[n] = d
		}
	}
	for n, d := range st.Doors {
		if !slices.Contains(t.doors, n) {
			delete(st.Doors, n)
		} else {
			d.Day.Door = n
		}
	}
	if st.Visits == nil {
		st.Visits = map[string]*openVisit{}
	}
	if st.Exits == nil {
		st.Exits = map[string]time.Time{}
	}
	t.st = st
	if t.started() && t.st.Day == nil {
		t.st.Day = t.newDay(t.st.Open)
	}
	if t.started() {
		// Resets up to the clock were applied (see roll); the closing time
		// may have changed since.
		t.st.NextReset = t.resetAfter(t.st.Clock)
	}
	t.today = nil
	t.ver++
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// seconds rounds d to whole seconds.
func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }
