package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// item is a planned event with what the simulation knows about it.
type item struct {
	ev  edge.Event
	seq uint64 // generation order: breaks ties in time, keeping each shopper's order
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
)

// story collects one shopper's events in the order they happen.
type story []item

func (s *story) add(t time.Time, tg tag, ev edge.Event) {
	ev.Time = t
	*s = append(*s, item{ev: ev, tag: tg})
}

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

// shopper plans the visit of a shopper arriving at t0. busy holds when the
// members already in the store leave; a member is never in the store twice
// at once.
//
// The visit: In through a door at t0; a member may tap at the entrance a
// few seconds later; one to three zones are visited between 10% and 70% of
// the dwell time, a member tapping at each with some probability; a buyer
// reaches a lane between 75% and 90% of the dwell time, where a member
// identifies by card or loyalty barcode and may scan a shopping list a few
// seconds later; Out through the same door at t0 + dwell. Dwell is at least a
// minute, so these steps never overlap and the story's times increase.
func (p *Plan) shopper(r *rand.Rand, t0 time.Time, busy map[int]time.Time) story {
	b := &p.o.Behaviour
	l := &p.store
	var s story
	in := pick(r, l.doorWeights)

	if r.Float64() < b.UTurn {
		s.add(t0, tagArrive, crossing(l.doors[in].counter, edge.In))
		s.add(t0.Add(between(r, 5*time.Second, 30*time.Second)), tagLeave, crossing(l.doors[in].counter, edge.Out))
		return s
	}

	var who *identity
	dwell := p.dwell(r)
	if r.Float64() < b.MemberShare {
		if i, ok := p.drawMember(r, t0, busy); ok {
			who = &p.members[i]
			busy[i] = t0.Add(dwell)
		}
	}
	bought := r.Float64() < b.Conversion

	arrive := tagArrive
	if who != nil {
		arrive |= tagMember
	}
	s.add(t0, arrive, crossing(l.doors[in].counter, edge.In))

	if who != nil {
		entrance := l.doors[in].readers
		if len(entrance) == 0 {
			entrance = l.entrance
		}
		if len(entrance) > 0 && r.Float64() < b.EntranceTap {
			at := t0.Add(between(r, 3*time.Second, min(15*time.Second, dwell*8/100)))
			p.tap(&s, r, at, entrance, who)
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
					p.tap(&s, r, t0.Add(at[i]), l.zones[z], who)
				}
			}
		}
		if bought && len(l.lanes) > 0 {
			p.checkout(&s, r, t0.Add(frac(r, dwell, 0.75, 0.9)), dwell, who)
		}
	}

	leave := tagLeave
	if bought {
		leave |= tagBought
	}
	s.add(t0.Add(dwell), leave, crossing(l.doors[in].counter, edge.Out))
	return s
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

// checkout plans a buying member at a lane at t.
func (p *Plan) checkout(s *story, r *rand.Rand, t time.Time, dwell time.Duration, who *identity) {
	b := &p.o.Behaviour
	ln := p.store.lanes[r.IntN(len(p.store.lanes))]
	if r.Float64() < b.CheckoutID {
		canTap := len(ln.readers) > 0 && len(who.cards) > 0
		canScan := len(ln.scanners) > 0 && who.loyalty != ""
		switch {
		case canTap && (!canScan || r.Float64() < b.LaneTap):
			p.tap(s, r, t, ln.readers, who)
		case canScan:
			s.add(t, 0, scan(ln.scanners[r.IntN(len(ln.scanners))], who.loyalty, edge.ScanLoyalty))
		}
	}
	if len(ln.scanners) > 0 && who.list != "" && r.Float64() < b.ListScan {
		at := t.Add(between(r, 2*time.Second, min(10*time.Second, dwell*5/100)))
		s.add(at, 0, scan(ln.scanners[r.IntN(len(ln.scanners))], who.list, edge.ScanList))
	}
}

// tap plans a card read at one of readers at t: the member's card, or with
// probability UnknownCard a card no member holds.
func (p *Plan) tap(s *story, r *rand.Rand, t time.Time, readers []string, who *identity) {
	reader := readers[r.IntN(len(readers))]
	if r.Float64() < p.o.Behaviour.UnknownCard {
		uid := randomUID(r)
		for p.known[string(uid)] {
			uid = randomUID(r)
		}
		s.add(t, tagUnknown, cardRead(reader, uid))
		return
	}
	if len(who.cards) == 0 {
		return
	}
	// Each event gets its own copy: the receiver may keep or clear it.
	s.add(t, 0, cardRead(reader, slices.Clone(who.cards[r.IntN(len(who.cards))])))
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
