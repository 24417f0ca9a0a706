package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// simTill plays the demo's tills: it rings up the baskets the simulation
// plans (sim.Checkout) through the same engine calls the POS API makes,
// in simulated time.
//
// A member who identifies at the lane opens their basket with the lane's
// reader or scanner, as in a real store; once the engine shows that new
// basket, the till posts the lines the simulation planned for it, applies
// the offers that apply (as most cashiers do) and closes it at the
// checkout's end. A member basket nobody planned (one opened from the POS
// API) gets lines drawn from the member's categories. An anonymous
// checkout the till opens itself: an anonymous basket, its lines, closed
// at the end.
//
// A lane rings one basket at a time, in the order the simulation hands
// the checkouts over, even when the engine lags behind the simulation
// (a member's basket may show after the next checkout was handed over).
// The till wraps the display the engine tells, and never blocks it or the
// simulation.
type simTill struct {
	edge.Display
	engine *edge.Engine
	member func(id string) (edge.Member, error)
	clock  *sim.Clock

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	seen    map[string]bool            // member baskets being rung up
	pending map[string][]*memberBasket // lane → member checkouts waiting for their basket, in order
	last    map[string]<-chan struct{} // lane → closed when the lane's last job is done
	rng     *rand.Rand
}

// memberBasket is a member's checkout waiting for the engine to open their
// basket.
type memberBasket struct {
	member string
	opened chan string // gets the basket id; buffered
}

func newSimTill(d edge.Display, member func(string) (edge.Member, error), seed uint64, clock *sim.Clock) *simTill {
	ctx, cancel := context.WithCancel(context.Background())
	return &simTill{Display: d, member: member, clock: clock, ctx: ctx, cancel: cancel,
		seen: map[string]bool{}, pending: map[string][]*memberBasket{}, last: map[string]<-chan struct{}{},
		rng: rand.New(rand.NewPCG(seed, 0x7111))}
}

// Checkout takes a checkout from the simulation (sim.Opts.Till) and queues
// it at its lane.
func (t *simTill) Checkout(c sim.Checkout) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Member == "" {
		t.queue(c.Lane, func() { t.ringAnonymous(c) })
		return
	}
	mb := &memberBasket{member: c.Member, opened: make(chan string, 1)}
	t.pending[c.Lane] = append(t.pending[c.Lane], mb)
	seed := t.rng.Uint64()
	t.queue(c.Lane, func() {
		basket, ok := t.awaitBasket(c, mb)
		if ok {
			t.ringMember(c, basket, seed)
		}
	})
}

// ShowCheckout passes the panel on and hands a new member basket to the
// checkout waiting for it, or rings it up when nobody planned it.
func (t *simTill) ShowCheckout(lane string, v edge.CheckoutView) {
	t.Display.ShowCheckout(lane, v)
	if v.Member == nil || v.Basket == nil || v.Basket.Closed || len(v.Basket.Lines) > 0 || t.engine == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[v.Basket.ID] {
		return
	}
	t.seen[v.Basket.ID] = true
	ps := t.pending[lane]
	if i := slices.IndexFunc(ps, func(mb *memberBasket) bool { return mb.member == v.Member.ID }); i >= 0 {
		ps[i].opened <- v.Basket.ID
		t.pending[lane] = slices.Delete(ps, i, i+1)
		return
	}
	c := sim.Checkout{Lane: lane, Member: v.Member.ID}
	seed, basket := t.rng.Uint64(), v.Basket.ID
	t.queue(lane, func() { t.ringMember(c, basket, seed) })
}

// awaitBasket waits for the basket of member checkout c to open: until a
// minute of simulated time after c's end, and at least two real seconds.
func (t *simTill) awaitBasket(c sim.Checkout, mb *memberBasket) (string, bool) {
	timer := time.NewTimer(max(t.clock.Until(c.End.Add(time.Minute)), 2*time.Second))
	defer timer.Stop()
	select {
	case id := <-mb.opened:
		return id, true
	case <-t.ctx.Done():
		return "", false
	case <-timer.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending[c.Lane] = slices.DeleteFunc(t.pending[c.Lane], func(x *memberBasket) bool { return x == mb })
	select {
	case id := <-mb.opened: // opened as the wait ended
		return id, true
	default:
		return "", false
	}
}

// queue runs job after the lane's jobs queued before it. t.mu is held.
func (t *simTill) queue(lane string, job func()) {
	if t.ctx.Err() != nil {
		return
	}
	prev, done := t.last[lane], make(chan struct{})
	t.last[lane] = done
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(done)
		if prev != nil {
			select {
			case <-prev:
			case <-t.ctx.Done():
				return
			}
		}
		job()
	}()
}

// stop abandons the baskets being rung up and waits for the tills.
func (t *simTill) stop() {
	t.mu.Lock()
	t.cancel()
	t.mu.Unlock()
	t.wg.Wait()
}

// until waits until the simulated clock reads at; false when the till stops.
func (t *simTill) until(at time.Time) bool {
	d := t.clock.Until(at)
	if d <= 0 {
		return t.ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// step returns the instant frac of the way through checkout c.
func step(c sim.Checkout, frac float64) time.Time {
	return c.Start.Add(time.Duration(float64(c.End.Sub(c.Start)) * frac))
}

// ringMember rings up member basket at c.Lane: c's lines, or lines drawn
// from the member's categories when the simulation did not plan it (c has
// no lines).
func (t *simTill) ringMember(c sim.Checkout, basket string, seed uint64) {
	defer func() {
		t.mu.Lock()
		delete(t.seen, basket)
		t.mu.Unlock()
	}()
	r := rand.New(rand.NewPCG(seed, 1))
	if len(c.Lines) == 0 {
		m, err := t.member(c.Member)
		if err != nil {
			return
		}
		c.Lines = sim.Lines(r, &m)
		c.Start = t.clock.Now()
		c.End = c.Start.Add(30*time.Second + time.Duration(r.Int64N(int64(30*time.Second))))
	}
	if !t.until(step(c, 0.4)) {
		return
	}
	v, err := t.engine.SetLines(t.ctx, c.Lane, basket, c.Lines)
	if err != nil || !t.until(step(c, 0.7)) {
		return
	}
	// Most cashiers press the key of each offer that applies. An offer
	// takes its lines: one applied may leave another with nothing to apply
	// to, so each choice looks at the panel as it is now.
	tried := map[string]bool{}
	for {
		i := slices.IndexFunc(v.Offers, func(o edge.BasketOffer) bool {
			return o.AppliesTo > 0 && !o.Applied && !o.Redeemed && !tried[o.ID]
		})
		if i < 0 {
			break
		}
		id := v.Offers[i].ID
		tried[id] = true
		if r.Float64() >= 0.8 {
			continue
		}
		nv, err := t.engine.ApplyOffer(t.ctx, c.Lane, basket, id, true)
		switch {
		case errors.Is(err, edge.ErrNotApplicable):
		case err != nil:
			return
		default:
			v = nv
		}
	}
	if !t.until(c.End) {
		return
	}
	t.engine.CloseBasket(t.ctx, c.Lane, basket, "demo-"+basket, -1)
}

// ringAnonymous opens an anonymous basket at c.Lane, posts c's lines and
// closes it. A basket still open at the lane (a member's, running late) is
// given until the end of c to close first.
func (t *simTill) ringAnonymous(c sim.Checkout) {
	for t.clock.Now().Before(c.End) {
		_, err := t.engine.CurrentBasket(t.ctx, c.Lane)
		if errors.Is(err, edge.ErrNoBasket) {
			break
		}
		if err != nil || !t.until(t.clock.Now().Add(5*time.Second)) {
			return
		}
	}
	v, err := t.engine.OpenBasket(t.ctx, c.Lane, edge.Identify{})
	if err != nil || v.Basket == nil || !t.until(step(c, 0.4)) {
		return
	}
	basket := v.Basket.ID
	if _, err := t.engine.SetLines(t.ctx, c.Lane, basket, c.Lines); err != nil || !t.until(c.End) {
		return
	}
	t.engine.CloseBasket(t.ctx, c.Lane, basket, "demo-"+basket, -1)
}
