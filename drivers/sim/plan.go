package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Symbology is the AIM identifier of the simulated scans (EAN-13).
const Symbology = "]E0"

// maxClosedDays ends an unlimited plan whose store stays closed this many
// days in a row: it would never produce another event.
const maxClosedDays = 366

// Plan is the deterministic event sequence of a simulation, in simulated
// time order and without pacing. It generates one day at a time as Next
// consumes it. A Plan is not safe for concurrent use.
type Plan struct {
	o       Opts
	start   time.Time
	store   layout
	members []identity // shoppers who may be members: Opts.Members less staff
	staff   []staffMember
	// memberCum holds the cumulative visit weights of members, for drawing.
	memberCum []float64
	// known holds every member card UID, so unknown cards never collide.
	known map[string]bool
	ref   float64

	q       queue
	seq     uint64
	horizon time.Time // local midnight beginning the next day to generate
	days    int       // days generated
	closed  int       // consecutive closed days generated
	ended   bool      // no more days to generate
	stats   Stats
}

// identity is what a member shopper carries and buys.
type identity struct {
	id            string
	cards         [][]byte
	loyalty, list string
	prof          profile
}

// layout is the part of the store the simulation uses.
type layout struct {
	doors       []door
	doorWeights []weighted[int]
	staffDoor   int        // index in doors of the first door with a reader; -1: none
	entrance    []string   // reader names used on arrival
	zones       [][]string // reader names per zone visited while shopping
	lanes       []lane
}

type door struct {
	counter string   // sim_door device name
	readers []string // sim_rfid devices at the same door
}

type lane struct {
	id                string
	scanners, readers []string
}

// NewPlan returns the plan of o. It fails if o is invalid.
func NewPlan(o Opts) (*Plan, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	p := &Plan{
		o:     o,
		store: newLayout(o.Devices),
		known: map[string]bool{},
		ref:   referenceWeight(),
	}
	p.start = o.Start.In(o.Location)
	if o.Start.IsZero() {
		p.start = Opening(time.Now(), o.Location, o.Hours)
	}
	p.start = p.start.Round(0)
	y, m, d := p.start.Date()
	p.horizon = time.Date(y, m, d, 0, 0, 0, 0, o.Location)

	total := 0.0
	for _, rec := range o.Members {
		var cards [][]byte
		for _, c := range rec.Cards {
			if len(c) > 0 {
				cards = append(cards, slices.Clone(c))
				p.known[string(c)] = true
			}
		}
		if rec.Member.Staff {
			p.staff = append(p.staff, staffMember{cards: cards})
			continue
		}
		p.members = append(p.members, identity{
			id: rec.Member.ID, cards: cards, loyalty: rec.Loyalty, list: rec.List,
			prof: memberProfile(&rec.Member),
		})
		total += visitWeight(&rec.Member)
		p.memberCum = append(p.memberCum, total)
	}
	return p, nil
}

// Start returns the simulated instant the plan starts at: Opts.Start, or
// the opening it resolved to.
func (p *Plan) Start() time.Time { return p.start }

// Next returns the next device event, or false when the plan has ended
// (only with Opts.Days set, or when the store never opens). Event times
// never decrease. The checkouts planned in between are counted in Stats
// and otherwise skipped: only Sim.Run delivers them (to Opts.Till).
func (p *Plan) Next() (edge.Event, bool) {
	for {
		it, ok := p.pop()
		if !ok {
			return edge.Event{}, false
		}
		p.stats.add(&it)
		if it.co == nil {
			return it.ev, true
		}
	}
}

// Stats counts the events Next has returned and the checkouts it passed.
func (p *Plan) Stats() Stats { return p.stats }

// pop returns the next item, generating days as needed: an item before the
// horizon cannot be preceded by anything of a later day, whose shoppers all
// arrive after its midnight.
func (p *Plan) pop() (item, bool) {
	for !p.ended && (len(p.q) == 0 || !p.q[0].ev.Time.Before(p.horizon)) {
		p.generateDay()
	}
	if len(p.q) == 0 {
		return item{}, false
	}
	return heap.Pop(&p.q).(item), true
}

// Opening returns the opening time of now's local day in loc, or of the
// next day the store opens within a week, by hours (nil: 08:00 to 20:00
// every day); local midnight if the store does not open within a week. A
// zero Opts.Start resolves to Opening(time.Now(), …): use it to fix the
// start before generating members relative to it.
func Opening(now time.Time, loc *time.Location, hours func(time.Time) (time.Time, time.Time, bool)) time.Time {
	o := Opts{Location: loc, Hours: hours}.withDefaults()
	y, m, d := now.In(o.Location).Date()
	for i := range 8 {
		if open, _, ok := o.Hours(time.Date(y, m, d+i, 12, 0, 0, 0, o.Location)); ok {
			return open.In(o.Location)
		}
	}
	return time.Date(y, m, d, 0, 0, 0, 0, o.Location)
}

// newLayout extracts the simulated devices.
func newLayout(devices []configs.Device) layout {
	l := layout{staffDoor: -1}
	doorIdx := map[string][]int{} // door id → indexes in l.doors
	zoneIdx := map[string]int{}
	laneIdx := map[string]int{}
	var entranceZone []string
	for _, d := range devices {
		if d.Kind == "sim_door" {
			doorIdx[d.Door] = append(doorIdx[d.Door], len(l.doors))
			l.doors = append(l.doors, door{counter: d.Name})
		}
	}
	for i := range l.doors {
		// The first door listed is the busiest: door i gets weight 1/(i+1).
		l.doorWeights = append(l.doorWeights, weighted[int]{i, 1 / float64(i+1)})
	}
	for _, d := range devices {
		switch {
		case d.Kind == "sim_rfid" && d.Door != "":
			for _, i := range doorIdx[d.Door] {
				l.doors[i].readers = append(l.doors[i].readers, d.Name)
			}
		case d.Kind == "sim_rfid" && d.Zone == "entrance":
			entranceZone = append(entranceZone, d.Name)
		case d.Kind == "sim_rfid" && d.Zone != "":
			i, ok := zoneIdx[d.Zone]
			if !ok {
				i = len(l.zones)
				zoneIdx[d.Zone] = i
				l.zones = append(l.zones, nil)
			}
			l.zones[i] = append(l.zones[i], d.Name)
		case (d.Kind == "sim_rfid" || d.Kind == "sim_scanner") && d.Lane != "":
			i, ok := laneIdx[d.Lane]
			if !ok {
				i = len(l.lanes)
				laneIdx[d.Lane] = i
				l.lanes = append(l.lanes, lane{id: d.Lane})
			}
			if d.Kind == "sim_scanner" {
				l.lanes[i].scanners = append(l.lanes[i].scanners, d.Name)
			} else {
				l.lanes[i].readers = append(l.lanes[i].readers, d.Name)
			}
		}
	}
	l.entrance = entranceZone
	if l.entrance == nil && len(l.zones) > 0 {
		l.entrance = l.zones[0] // no entrance zone: the first zone with a reader
	}
	for i, d := range l.doors {
		if len(d.readers) > 0 {
			l.staffDoor = i
			break
		}
	}
	return l
}

// visitWeight is how often a member shops relative to others: heavy
// shoppers come more often, lapsing and churned members rarely.
func visitWeight(m *edge.Member) float64 {
	w := 1.0
	switch {
	case strings.HasSuffix(m.Segment, "-heavy"):
		w = 3
	case strings.HasSuffix(m.Segment, "-medium"):
		w = 2
	}
	switch m.Stage {
	case edge.StageLapsing:
		w *= 0.4
	case edge.StageChurned:
		w *= 0.1
	}
	return w
}

// generateDay queues the shoppers of the day beginning at p.horizon and
// moves the horizon to the next day.
func (p *Plan) generateDay() {
	y, m, d := p.horizon.Date()
	p.horizon = time.Date(y, m, d+1, 0, 0, 0, 0, p.o.Location)
	p.days++
	if p.o.Days > 0 && p.days >= p.o.Days {
		p.ended = true
	}
	stories, ok := p.day(y, m, d)
	if !ok {
		if p.closed++; p.closed >= maxClosedDays {
			p.ended = true
		}
		return
	}
	p.closed = 0
	for _, s := range stories {
		if s.start().Before(p.start) {
			continue // began before the simulation started: left out whole
		}
		for _, it := range s {
			it.seq = p.seq
			p.seq++
			heap.Push(&p.q, it)
		}
	}
}

// day returns the stories of local day y-m-d, each in time order: its
// shoppers in arrival order, then its staff stints. It returns false when
// the store is closed that day.
func (p *Plan) day(y int, m time.Month, d int) ([]story, bool) {
	loc := p.o.Location
	open, close, ok := p.o.Hours(time.Date(y, m, d, 12, 0, 0, 0, loc))
	if !ok || !close.After(open) {
		return nil, false
	}

	// Each day draws from its own stream of the seed: a day's shoppers
	// depend on the seed, the date and the options, not on the days before.
	date := uint64(y)<<16 | uint64(m)<<8 | uint64(d)
	r := rand.New(rand.NewPCG(p.o.Seed, streamDays^date))
	open, close = open.In(loc), close.In(loc)
	minutes, weight := arrivalMinutes(open, close)
	n := int(math.Round(p.o.ArrivalsPerDay * weight / p.ref))
	arrivals := make([]time.Time, n)
	cum := cumulative(minutes)
	for i := range arrivals {
		k := min(searchCum(cum, r.Float64()*weight), len(minutes)-1)
		ms := time.Duration(k)*time.Minute + time.Duration(r.IntN(60_000))*time.Millisecond
		arrivals[i] = open.Add(ms)
	}
	slices.SortFunc(arrivals, time.Time.Compare)
	stories := p.shoppers(r, arrivals)

	// Staff draw from their own stream: the shoppers are the same with or
	// without them.
	if p.store.staffDoor >= 0 && len(p.staff) > 0 {
		rs := rand.New(rand.NewPCG(p.o.Seed, streamStaff^date))
		counter := p.store.doors[p.store.staffDoor].counter
		var busy []time.Time
		for _, s := range stories {
			for _, it := range s {
				if it.ev.Kind == edge.KindDoorCrossing && it.ev.Source == counter {
					busy = append(busy, it.ev.Time)
				}
			}
		}
		slices.SortFunc(busy, time.Time.Compare)
		day := time.Date(y, m, d, 0, 0, 0, 0, loc)
		stories = append(stories, p.staffStints(rs, p.shifts(rs, day, open, close), busy)...)
	}
	return stories, true
}

func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	sum := 0.0
	for i, v := range w {
		sum += v
		c[i] = sum
	}
	return c
}

// searchCum returns the index of the first cumulative weight above x.
func searchCum(cum []float64, x float64) int {
	i, _ := slices.BinarySearch(cum, x)
	for i < len(cum) && cum[i] <= x {
		i++
	}
	return i
}
