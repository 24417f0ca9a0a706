package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// item is a planned event, or a checkout, with what the simulation knows
// about it.
type item struct {
	ev  edge.Event // for a checkout, only its Time is set
	co  *Checkout  // non-nil: a checkout for the till, not a device event
	seq uint64     // generation order: breaks ties in time, keeping each story's order
	tag tag
}

// tag marks the items that begin or end a visit and what kind of shopper
// or card they concern, for Stats.
type tag uint8

const (
	tagArrive  tag = 1 << iota // the shopper's In crossing
	tagLeave                   // the shopper's Out crossing
	tagMember                  // with tagArrive: the shopper is a member
	tagBought                  // with tagLeave: the shopper bought something
	tagUnknown                 // a card read of a card no member holds
	tagStaff                   // a staff badge or crossing
)

// Checkout is a basket paid at a lane, as the till sees it: no device
// reports it, so Sim.Run hands it to Opts.Till. The plan has one for every
// shopper who buys, at the lane's counter from Start to End; a lane serves
// one shopper at a time, so a lane's checkouts never overlap.
//
// When Member is set, the member identifies at the lane: their card or
// loyalty barcode is read two to six seconds after Start (and their
// shopping list may be scanned after it), which opens their basket in the
// engine; the till posts Lines to that basket and closes it at End. When
// Member is empty the shopper stays anonymous: the till opens an anonymous
// basket at Start, posts Lines and closes it at End. (A member who
// presents an unknown card first is anonymous: the checkout then follows
// the failed read by a few seconds.)
type Checkout struct {
	Lane       string      // lane id (configs.Device.Lane)
	Start, End time.Time   // the cashier starts; the shopper has paid
	Member     string      // the member who identifies; "" anonymous
	Lines      []edge.Line // the basket (see Lines)
}

// story collects one shopper's, or one staff stint's, items.
type story []item

func (s *story) add(t time.Time, tg tag, ev edge.Event) {
	ev.Time = t
	*s = append(*s, item{ev: ev, tag: tg})
}

func (s *story) checkout(co *Checkout) {
	*s = append(*s, item{ev: edge.Event{Time: co.Start}, co: co})
}

// start is the time of the story's first item.
func (s story) start() time.Time { return s[0].ev.Time }

func crossing(device string, dir edge.Direction) edge.Event {
	return edge.Event{Kind: edge.KindDoorCrossing, Source: device, Crossing: &edge.Crossing{Dir: dir, Count: 1}}
}

func cardRead(device string, uid []byte) edge.Event {
	return edge.Event{Kind: edge.KindCardRead, Source: device, Card: &edge.CardRead{UID: uid}}
}

func scan(device, code string, class edge.ScanClass) edge.Event {
	return edge.Event{Kind: edge.KindScan, Source: device, Scan: &edge.Scan{Code: code, Symbology: Symbology, Class: class}}
}

// between returns a uniform duration in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// frac returns d scaled by a uniform factor in [lo, hi).
func frac(r *rand.Rand, d time.Duration, lo, hi float64) time.Duration {
	return time.Duration(float64(d) * (lo + (hi-lo)*r.Float64()))
}

// Checkout timing.
const (
	// maxQueue is the longest a shopper waits for a lane; one who would
	// wait longer leaves without buying.
	maxQueue = 10 * time.Minute
	// busyFor is how long after the end of their planned dwell a member
	// may still be in the store (queue, service, walk to the door): they
	// are not drawn as another shopper before then.
	busyFor = maxQueue + 7*time.Minute
)

// visit is a shopper's plan while the day's lanes are being scheduled.
type visit struct {
	s      story
	door   int
	who    *identity // nil: not a member
	leave  time.Time // when they leave without queueing
	buy    bool
	ready  time.Time // when they reach the lanes
	lines  []edge.Line
	lane   int
	at     time.Time // served from at…
	served time.Time // …to served
}

// shoppers plans the visits of shoppers arriving at arrivals (sorted), in
// three passes: each shopper's visit up to the lanes, in arrival order;
// the lanes, in the order buyers reach them; then each buyer's checkout
// and every shopper's leaving, in arrival order. It returns one story per
// shopper, in arrival order.
func (p *Plan) shoppers(r *rand.Rand, arrivals []time.Time) []story {
	busy := map[int]time.Time{} // member index → when they are gone for sure
	visits := make([]visit, len(arrivals))
	for i, t0 := range arrivals {
		p.enter(r, &visits[i], t0, busy)
	}
	p.lanes(r, visits)
	out := make([]story, len(visits))
	for i := range visits {
		out[i] = p.finish(r, &visits[i])
	}
	return out
}

// enter plans a shopper arriving at t0, up to the lanes.
//
// The visit: In through a door at t0; a member may tap at the door's
// reader and at the entrance a few seconds later; one to three zones are
// visited between 10% and 70% of the dwell time, a member tapping at each
// with some probability; a buyer reaches the lanes between 75% and 90% of
// the dwell time. A u-turn is In and Out within seconds.
func (p *Plan) enter(r *rand.Rand, v *visit, t0 time.Time, busy map[int]time.Time) {
	b := &p.o.Behaviour
	l := &p.store
	v.door = pick(r, l.doorWeights)
	v.lane = -1
	d := &l.doors[v.door]

	if r.Float64() < b.UTurn {
		v.s.add(t0, tagArrive, crossing(d.counter, edge.In))
		v.leave = t0.Add(between(r, 5*time.Second, 30*time.Second))
		return
	}

	dwell := p.dwell(r)
	v.leave = t0.Add(dwell)
	if r.Float64() < b.MemberShare {
		if i, ok := p.drawMember(r, t0, busy); ok {
			v.who = &p.members[i]
			busy[i] = v.leave.Add(busyFor)
		}
	}
	v.buy = len(l.lanes) > 0 && r.Float64() < p.conversion(t0)

	arrive := tagArrive
	if v.who != nil {
		arrive |= tagMember
	}
	v.s.add(t0, arrive, crossing(d.counter, edge.In))

	if who := v.who; who != nil {
		if len(d.readers) > 0 && r.Float64() < b.DoorTap {
			p.tap(&v.s, r, t0.Add(between(r, 2*time.Second, 8*time.Second)), d.readers, who)
		}
		entrance := l.entrance
		if len(entrance) == 0 {
			entrance = d.readers
		}
		if len(entrance) > 0 && r.Float64() < b.EntranceTap {
			at := t0.Add(between(r, 3*time.Second, min(15*time.Second, dwell*8/100)))
			p.tap(&v.s, r, at, entrance, who)
		}
		if n := min(1+r.IntN(3), len(l.zones)); n > 0 {
			zones := r.Perm(len(l.zones))[:n]
			at := make([]time.Duration, n)
			for i := range at {
				at[i] = frac(r, dwell, 0.1, 0.7)
			}
			slices.Sort(at)
			for i, z := range zones {
				if r.Float64() < b.ZoneTap {
					p.tap(&v.s, r, t0.Add(at[i]), l.zones[z], who)
				}
			}
		}
	}
	if v.buy {
		v.ready = t0.Add(frac(r, dwell, 0.75, 0.9))
		if v.who != nil {
			v.lines = v.who.prof.lines(r)
		} else {
			v.lines = storeProfile.lines(r)
		}
	}
}

// lanes serves the buyers at the lanes in the order they reach them: each
// goes to the lane free soonest (one of the idle lanes at random), waits
// for it, and is served for a time that grows with their basket; the next
// shopper steps up a few seconds after. A buyer who would wait more than
// maxQueue does not buy.
func (p *Plan) lanes(r *rand.Rand, visits []visit) {
	var order []int
	for i := range visits {
		if visits[i].buy {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return visits[a].ready.Compare(visits[b].ready) })
	free := make([]time.Time, len(p.store.lanes))
	var idle []int
	for _, i := range order {
		v := &visits[i]
		var first time.Time
		idle = idle[:0]
		for l, f := range free {
			at := latest(v.ready, f)
			switch {
			case len(idle) == 0 || at.Before(first):
				first, idle = at, append(idle[:0], l)
			case at.Equal(first):
				idle = append(idle, l)
			}
		}
		if first.Sub(v.ready) > maxQueue {
			v.buy, v.lines = false, nil
			continue
		}
		v.lane = idle[r.IntN(len(idle))]
		v.at = first
		v.served = first.Add(service(r, v.lines))
		free[v.lane] = v.served.Add(between(r, 5*time.Second, 15*time.Second))
	}
}

// service is how long a lane takes for a basket: 15 to 35 seconds to pay
// and 2.5 to 4 seconds a unit.
func service(r *rand.Rand, lines []edge.Line) time.Duration {
	units := 0
	for _, l := range lines {
		units += l.Qty
	}
	perUnit := between(r, 2500*time.Millisecond, 4*time.Second)
	return between(r, 15*time.Second, 35*time.Second) + time.Duration(units)*perUnit
}

// finish plans a shopper's checkout, if they buy, and their leaving: out
// through the door they came in by, at the end of their dwell time or 20
// to 90 seconds after paying, whichever is later; a member may tap at the
// door's reader a few seconds before. The story comes out in time order.
func (p *Plan) finish(r *rand.Rand, v *visit) story {
	leave := tagLeave
	if v.buy {
		p.checkout(&v.s, r, v)
		leave |= tagBought
		v.leave = latest(v.leave, v.served.Add(between(r, 20*time.Second, 90*time.Second)))
	}
	d := &p.store.doors[v.door]
	if v.who != nil && len(d.readers) > 0 && r.Float64() < p.o.Behaviour.DoorTap {
		p.tap(&v.s, r, v.leave.Add(-between(r, 3*time.Second, 10*time.Second)), d.readers, v.who)
	}
	v.s.add(v.leave, leave, crossing(d.counter, edge.Out))
	slices.SortStableFunc(v.s, func(a, b item) int { return a.ev.Time.Compare(b.ev.Time) })
	return v.s
}

// checkout plans a buyer at their lane, served from v.at to v.served: a
// member identifies (Behaviour.CheckoutID) by tapping their card at the
// lane's reader or scanning their loyalty barcode, and may then scan their
// shopping list; everyone else, and a member whose card turns out unknown,
// pays anonymously.
func (p *Plan) checkout(s *story, r *rand.Rand, v *visit) {
	b := &p.o.Behaviour
	ln := &p.store.lanes[v.lane]
	co := &Checkout{Lane: ln.id, Start: v.at, End: v.served, Lines: v.lines}
	who := v.who
	if who == nil || r.Float64() >= b.CheckoutID {
		s.checkout(co)
		return
	}
	at := v.at.Add(between(r, 2*time.Second, 6*time.Second))
	canTap := len(ln.readers) > 0 && len(who.cards) > 0
	canScan := len(ln.scanners) > 0 && who.loyalty != ""
	switch {
	case canTap && (!canScan || r.Float64() < b.LaneTap):
		uid, tg := p.card(r, who)
		if tg&tagUnknown != 0 {
			// The card is no member's: the cashier rings the basket up
			// anonymously once the panel said so.
			s.add(v.at.Add(between(r, time.Second, 3*time.Second)), tg, cardRead(ln.readers[r.IntN(len(ln.readers))], uid))
			co.Start = v.at.Add(between(r, 4*time.Second, 8*time.Second))
			s.checkout(co)
			return
		}
		co.Member = who.id
		s.checkout(co)
		s.add(at, tg, cardRead(ln.readers[r.IntN(len(ln.readers))], uid))
	case canScan:
		co.Member = who.id
		s.checkout(co)
		s.add(at, 0, scan(ln.scanners[r.IntN(len(ln.scanners))], who.loyalty, edge.ScanLoyalty))
	default:
		s.checkout(co)
		return
	}
	if len(ln.scanners) > 0 && who.list != "" && r.Float64() < b.ListScan {
		lt := at.Add(between(r, 2*time.Second, 10*time.Second))
		if lt.Before(v.served) {
			s.add(lt, 0, scan(ln.scanners[r.IntN(len(ln.scanners))], who.list, edge.ScanList))
		}
	}
}

// drawMember picks a member not in the store at t, by visit weight. It gives
// up after a few draws of members already shopping.
func (p *Plan) drawMember(r *rand.Rand, t time.Time, busy map[int]time.Time) (int, bool) {
	if len(p.members) == 0 {
		return 0, false
	}
	total := p.memberCum[len(p.memberCum)-1]
	for range 5 {
		i := min(searchCum(p.memberCum, r.Float64()*total), len(p.members)-1)
		if until, in := busy[i]; !in || until.Before(t) {
			return i, true
		}
	}
	return 0, false
}

// dwell draws a visit length: log-normal around the median, redrawn when
// outside [DwellMin, DwellMax].
func (p *Plan) dwell(r *rand.Rand) time.Duration {
	b := &p.o.Behaviour
	for range 20 {
		d := time.Duration(float64(b.DwellMedian) * math.Exp(0.5*r.NormFloat64()))
		if d >= b.DwellMin && d <= b.DwellMax {
			return d.Round(time.Millisecond)
		}
	}
	return b.DwellMedian
}

// tap plans a card read at one of readers at t: the member's card, or with
// probability UnknownCard a card no member holds.
func (p *Plan) tap(s *story, r *rand.Rand, t time.Time, readers []string, who *identity) {
	reader := readers[r.IntN(len(readers))]
	if uid, tg := p.card(r, who); uid != nil {
		s.add(t, tg, cardRead(reader, uid))
	}
}

// card returns the card a member presents: with probability UnknownCard
// one no member holds (tagged tagUnknown), else one of theirs (nil if they
// have none). Each call returns its own copy: the receiver may keep or
// clear it.
func (p *Plan) card(r *rand.Rand, who *identity) ([]byte, tag) {
	if r.Float64() < p.o.Behaviour.UnknownCard {
		uid := randomUID(r)
		for p.known[string(uid)] {
			uid = randomUID(r)
		}
		return uid, tagUnknown
	}
	if len(who.cards) == 0 {
		return nil, 0
	}
	return slices.Clone(who.cards[r.IntN(len(who.cards))]), 0
}

// queue orders items by time, then generation order. It implements
// heap.Interface.
type queue []item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if c := q[i].ev.Time.Compare(q[j].ev.Time); c != 0 {
		return c < 0
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = item{}
	*q = old[:len(old)-1]
	return it
}
