package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// simTill plays the demo's tills. When a member's basket opens at a lane
// (their card or loyalty card at the lane), it posts lines drawn from the
// member's categories, applies the offers that apply, and closes the
// basket, through the same engine calls the POS API makes. It wraps the
// display the engine tells, and never blocks it.
type simTill struct {
	edge.Display
	engine *edge.Engine
	member func(id string) (edge.Member, error)
	delay  time.Duration // real time between the till's steps

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	seen   map[string]bool // baskets handled
	rng    *rand.Rand
}

func newSimTill(d edge.Display, member func(string) (edge.Member, error), seed uint64, delay time.Duration) *simTill {
	ctx, cancel := context.WithCancel(context.Background())
	return &simTill{Display: d, member: member, delay: delay, ctx: ctx, cancel: cancel,
		seen: map[string]bool{}, rng: rand.New(rand.NewPCG(seed, 0x7111))}
}

// ShowCheckout passes the panel on and starts ringing up a new member basket.
func (t *simTill) ShowCheckout(lane string, v edge.CheckoutView) {
	t.Display.ShowCheckout(lane, v)
	if v.Member == nil || v.Basket == nil || v.Basket.Closed || len(v.Basket.Lines) > 0 || t.engine == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[v.Basket.ID] || t.ctx.Err() != nil {
		return
	}
	t.seen[v.Basket.ID] = true
	seed := t.rng.Uint64()
	t.wg.Add(1)
	go t.ring(lane, v.Basket.ID, v.Member.ID, seed)
}

// stop waits for the baskets being rung up, abandoning those that wait.
func (t *simTill) stop() {
	t.cancel()
	t.wg.Wait()
}

func (t *simTill) ring(lane, basket, memberID string, seed uint64) {
	defer t.wg.Done()
	r := rand.New(rand.NewPCG(seed, 1))
	pause := func() bool {
		select {
		case <-t.ctx.Done():
			return false
		case <-time.After(t.delay/2 + time.Duration(r.Int64N(int64(t.delay)+1))):
			return true
		}
	}
	m, err := t.member(memberID)
	if err != nil || !pause() {
		return
	}
	v, err := t.engine.SetLines(t.ctx, lane, basket, demoLines(r, m))
	if err != nil || !pause() {
		return
	}
	for _, o := range v.Offers {
		if o.AppliesTo > 0 && !o.Applied && r.Float64() < 0.8 { // most cashiers press the key
			if v, err = t.engine.ApplyOffer(t.ctx, lane, basket, o.ID, true); err != nil {
				return
			}
		}
	}
	if !pause() {
		return
	}
	t.engine.CloseBasket(t.ctx, lane, basket, "demo-"+basket, -1)
}

// demoLines draws a basket from the member's categories, the ones they
// spend most on first.
func demoLines(r *rand.Rand, m edge.Member) []edge.Line {
	cats := make([]string, 0, len(m.Affinity))
	for c := range m.Affinity {
		cats = append(cats, c)
	}
	slices.SortFunc(cats, func(a, b string) int {
		if m.Affinity[a] != m.Affinity[b] {
			if m.Affinity[a] > m.Affinity[b] {
				return -1
			}
			return 1
		}
		if a < b {
			return -1
		}
		return 1
	})
	if len(cats) == 0 {
		cats = []string{"grocery"}
	}
	var lines []edge.Line
	for i, c := range cats[:min(len(cats), 4)] {
		for range 1 + r.IntN(3-min(i, 2)) {
			lines = append(lines, edge.Line{
				SKU: fmt.Sprintf("%s-%02d", c, 1+r.IntN(40)), Category: c, Qty: 1 + r.IntN(3),
				UnitPrice: edge.Money(99 + 50*r.IntN(18)), // 0.99 to 9.49
			})
		}
	}
	return lines
}
