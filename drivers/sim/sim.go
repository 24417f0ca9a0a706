package sim

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Stats counts simulated events, shoppers and checkouts.
type Stats struct {
	Events    uint64 // all events
	CardReads uint64 // edge.KindCardRead events
	Scans     uint64 // edge.KindScan events
	Crossings uint64 // edge.KindDoorCrossing events, in and out, staff's included

	Shoppers    uint64 // shoppers who came in
	Members     uint64 // shoppers who came in and are members
	Left        uint64 // shoppers who left; Shoppers - Left are in the store
	Buyers      uint64 // shoppers who left after buying
	MemberTaps  uint64 // card reads of a member's card
	UnknownTaps uint64 // card reads of a card no member holds

	StaffBadges    uint64 // card reads of a staff card at the staff door
	StaffCrossings uint64 // crossings of staff, in and out

	Checkouts  uint64     // baskets paid: the plan's Checkout values
	Identified uint64     // of which a member identified at the lane
	Anonymous  uint64     // of which anonymous
	Units      uint64     // units in the baskets paid
	Spend      edge.Money // the baskets' value at shelf prices, before offers
}

func (s *Stats) add(it *item) {
	if co := it.co; co != nil {
		s.Checkouts++
		if co.Member == "" {
			s.Anonymous++
		} else {
			s.Identified++
		}
		for _, l := range co.Lines {
			s.Units += uint64(l.Qty)
			s.Spend += l.Amount()
		}
		return
	}
	s.Events++
	switch it.ev.Kind {
	case edge.KindCardRead:
		s.CardReads++
		switch {
		case it.tag&tagUnknown != 0:
			s.UnknownTaps++
		case it.tag&tagStaff != 0:
			s.StaffBadges++
		default:
			s.MemberTaps++
		}
	case edge.KindScan:
		s.Scans++
	case edge.KindDoorCrossing:
		s.Crossings++
		if it.tag&tagStaff != 0 {
			s.StaffCrossings++
		}
	}
	if it.tag&tagArrive != 0 {
		s.Shoppers++
		if it.tag&tagMember != 0 {
			s.Members++
		}
	}
	if it.tag&tagLeave != 0 {
		s.Left++
		if it.tag&tagBought != 0 {
			s.Buyers++
		}
	}
}

// Sim paces a Plan against a Clock: it sends each event when the clock
// reaches the event's time.
type Sim struct {
	plan    *Plan
	clock   *Clock
	running atomic.Bool

	mu    sync.Mutex
	stats Stats
}

// ErrRunning is returned by a second call of Sim.Run.
var ErrRunning = errors.New("sim: Run called twice")

// New returns a simulation of o. Its clock starts now, reading the plan's
// start (Opts.Start, or today's opening when that is zero).
func New(o Opts) (*Sim, error) {
	p, err := NewPlan(o)
	if err != nil {
		return nil, err
	}
	return &Sim{plan: p, clock: NewClock(p.Start(), p.o.Speed)}, nil
}

// Clock returns the simulation's clock, the clock the engine must use.
func (s *Sim) Clock() *Clock { return s.clock }

// Run sends the plan's events on out, each when the clock reaches its time;
// an event already due is sent at once, so a slow receiver delays events
// but loses none. Checkouts go to Opts.Till at their Start, in the same
// order. Run returns nil when ctx is cancelled (cancellation is not an
// error) or when the plan ends. It does not close out. Run may be called
// once; a second call returns ErrRunning.
func (s *Sim) Run(ctx context.Context, out chan<- edge.Event) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for ctx.Err() == nil {
		it, ok := s.plan.pop()
		if !ok {
			return nil
		}
		if d := s.clock.Until(it.ev.Time); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return nil
			}
		}
		if it.co != nil {
			if till := s.plan.o.Till; till != nil {
				till(*it.co)
			}
			s.mu.Lock()
			s.stats.add(&it)
			s.mu.Unlock()
			continue
		}
		select {
		case out <- it.ev:
			s.mu.Lock()
			s.stats.add(&it)
			s.mu.Unlock()
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// Stats counts the events Run has sent. It is safe for concurrent use.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
