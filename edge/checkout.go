package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Checkout sessions.
//
// Each lane has at most one open basket, owned by the engine goroutine like
// every other piece of mutable state. A basket opens when a member's card
// is tapped or their loyalty or shopping-list barcode is scanned at the
// lane, when the till opens it with a typed member number, or anonymously
// (the till posts lines for a shopper who did not identify; a card
// presented later attaches the member to it). The till posts the basket's
// lines; the engine prices the applicable offers; the cashier applies
// them (a shopping-list session applies them by itself); redeeming and
// closing are idempotent by the till's key. Redemptions and the closed
// basket are committed to the outbox before the till gets its answer, and
// the member's purchase history is updated in the member store at once.

// Line is one line of a basket as the till sends it.
type Line struct {
	SKU       string `json:"sku"`
	Category  string `json:"category,omitempty"`
	Brand     string `json:"brand,omitempty"`
	Qty       int    `json:"qty"`
	UnitPrice Money  `json:"unit_price"`
}

// Amount is the line's total.
func (l Line) Amount() Money { return Money(l.Qty) * l.UnitPrice }

// Basket limits.
const (
	MaxLines   = 500
	MaxLineQty = 10_000
	maxIDLen   = 64
)

// ValidateLines checks lines as the till sent them.
func ValidateLines(lines []Line) error {
	if len(lines) > MaxLines {
		return fmt.Errorf("%d lines: at most %d", len(lines), MaxLines)
	}
	for i, l := range lines {
		switch {
		case l.SKU == "" || len(l.SKU) > maxIDLen:
			return fmt.Errorf("lines[%d].sku: required, at most %d bytes", i, maxIDLen)
		case len(l.Category) > maxIDLen || len(l.Brand) > maxIDLen:
			return fmt.Errorf("lines[%d]: category and brand are at most %d bytes", i, maxIDLen)
		case l.Qty < 1 || l.Qty > MaxLineQty:
			return fmt.Errorf("lines[%d].qty: %d, want 1..%d", i, l.Qty, MaxLineQty)
		case l.UnitPrice < 0 || l.UnitPrice > maxMoney/MaxLineQty/MaxLines:
			return fmt.Errorf("lines[%d].unit_price: %s out of range", i, l.UnitPrice)
		}
	}
	return nil
}

// BasketOffer is a personal offer on a lane's panel, priced on the basket.
type BasketOffer struct {
	OfferView
	Categories []string `json:"categories,omitempty"`
	// AppliesTo is the part of the basket the discount applies to: the
	// lines in the offer's categories (all lines for an offer bound to no
	// category). Zero: nothing in the basket qualifies yet.
	AppliesTo Money `json:"applies_to"`
	Discount  Money `json:"discount"` // what applying it takes off now
	Applied   bool  `json:"applied"`
	Auto      bool  `json:"auto,omitempty"` // applied by itself (a shopping-list special)
	Redeemed  bool  `json:"redeemed"`
}

// Basket is a lane's basket as the till and the cashier see it.
type Basket struct {
	ID       string    `json:"basket_id"`
	Lane     string    `json:"lane"`
	Opened   time.Time `json:"opened"`
	List     bool      `json:"shopping_list,omitempty"` // opened by a shopping-list scan
	Lines    []Line    `json:"lines"`
	Items    int       `json:"items"`
	Subtotal Money     `json:"subtotal"`
	Discount Money     `json:"discount"` // applied offers
	Total    Money     `json:"total"`
	Closed   bool      `json:"closed,omitempty"`
	Paid     Money     `json:"paid,omitempty"` // the total the till closed it with
}

// Identify says how the till names the member of a new basket: a typed
// member number (the number printed on the card, or the member id) or a
// scanned barcode. Both empty opens an anonymous basket.
type Identify struct {
	Number  string `json:"member_number,omitempty"`
	Barcode string `json:"barcode,omitempty"`
}

// Redeemed is what a redeem or close request redeemed.
type Redeemed struct {
	BasketID    string        `json:"basket_id"`
	Redemptions []Redemption  `json:"redemptions"`
	Discount    Money         `json:"discount"`
	Basket      *BasketClosed `json:"basket,omitempty"` // set by close
}

// Checkout errors; the POS API maps them to HTTP statuses.
var (
	ErrNoBasket      = errors.New("no open basket at this lane")
	ErrOtherBasket   = errors.New("the lane's open basket has another id")
	ErrNoMember      = errors.New("no member with this number")
	ErrNoOffer       = errors.New("no such offer on this basket")
	ErrNotApplicable = errors.New("the offer does not apply to this basket")
	ErrKeyReused     = errors.New("idempotency key already used for another request")
	ErrNotRecorded   = errors.New("could not record it in the outbox yet; retry with the same key")
	ErrStopped       = errors.New("the engine is not running")
	ErrUnknownLane   = errors.New("unknown lane")
)

// PurchaseHistory records purchases in the member store, so the next visit
// already reflects them. edge/store implements it.
type PurchaseHistory interface {
	// RecordPurchase moves the member's purchase cycle of each category to
	// at and adds the redemptions to their per-offer counts.
	RecordPurchase(memberID string, at time.Time, categories []string, redeemed []string) error
}

// laneSession is a lane's open basket.
type laneSession struct {
	basket   Basket
	member   *Member // nil: anonymous
	via      Via
	offers   []BasketOffer
	shown    map[string]bool // offers exposed in this session
	declined map[string]bool // offers the cashier removed: never applied by themselves again
	at       time.Time       // last activity
	redeemed []string        // offers redeemed in this session
}

// sessionIdle is how long an untouched basket stays open.
const sessionIdle = 30 * time.Minute

// keyKeep is how long an idempotency key is remembered.
const keyKeep = 24 * time.Hour

// keyRecord is the answer given to an idempotency key.
type keyRecord struct {
	At      time.Time       `json:"at"`
	Lane    string          `json:"lane"`
	Op      string          `json:"op"`
	Request string          `json:"request,omitempty"` // the request's own fields: a retry sends the same
	Result  json.RawMessage `json:"result"`
}

// posCmd is a till request run on the engine goroutine.
type posCmd struct {
	run  func(now time.Time) (any, error)
	done chan posReply
}

type posReply struct {
	v   any
	err error
}

// posDo runs a till request for lane on the engine goroutine.
func posDo[T any](ctx context.Context, e *Engine, lane string, fn func(now time.Time) (T, error)) (T, error) {
	if !e.hasLane(lane) {
		var zero T
		return zero, ErrUnknownLane
	}
	return engineDo(ctx, e, fn)
}

// engineDo runs fn on the engine goroutine, commits what it produced, and
// returns its result.
func engineDo[T any](ctx context.Context, e *Engine, fn func(now time.Time) (T, error)) (T, error) {
	var zero T
	c := &posCmd{run: func(now time.Time) (any, error) { return fn(now) }, done: make(chan posReply, 1)}
	select {
	case e.cmds <- c:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-e.stopped:
		return zero, ErrStopped
	}
	select {
	case r := <-c.done:
		if r.err != nil {
			return zero, r.err
		}
		return r.v.(T), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-e.stopped:
		return zero, ErrStopped
	}
}

func (e *Engine) hasLane(lane string) bool {
	return len(e.o.Lanes) == 0 || slices.Contains(e.o.Lanes, lane)
}

// runCmd runs one till request and commits what it produced.
func (e *Engine) runCmd(c *posCmd) {
	now := e.o.Now()
	e.reloadOffers()
	e.roll(now)
	e.newStoreDay(now)
	v, err := c.run(now)
	before := e.commitErrors.Load()
	e.commit()
	if err == nil && e.commitErrors.Load() != before {
		err = ErrNotRecorded
	}
	e.flushHistory()
	e.publish(now)
	c.done <- posReply{v, err}
}

// OpenBasket opens a basket at lane, replacing one left open. With an
// identification that names no member it fails with ErrNoMember and
// changes nothing.
func (e *Engine) OpenBasket(ctx context.Context, lane string, id Identify) (CheckoutView, error) {
	return posDo(ctx, e, lane, func(now time.Time) (CheckoutView, error) {
		var m *Member
		via := Via("")
		list := false
		switch {
		case id.Barcode != "":
			mm, class, err := e.dir.MemberByBarcode(id.Barcode)
			if err != nil {
				return CheckoutView{}, e.notFound(err)
			}
			m, via, list = &mm, ViaBarcode, class == ScanList
		case id.Number != "":
			mm, err := e.memberByNumber(id.Number)
			if err != nil {
				return CheckoutView{}, e.notFound(err)
			}
			m, via = &mm, ViaTyped
		}
		if m != nil && m.Staff { // a staff card: no recognition, visit or offer
			m, via, list = nil, "", false
		}
		if m != nil {
			e.recognise(m, "checkout/"+lane, via, Placement{Lane: lane}, now, now)
		}
		s := e.newSession(lane, m, via, list, now)
		e.price(s, "checkout/"+lane, now)
		return e.showLane(lane, s, now), nil
	})
}

func (e *Engine) notFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		e.unknown.Add(1)
		return ErrNoMember
	}
	return err
}

// memberByNumber resolves a typed member number: the loyalty number
// printed on the card (its barcode digits), else the member id.
func (e *Engine) memberByNumber(n string) (Member, error) {
	m, _, err := e.dir.MemberByBarcode(n)
	if errors.Is(err, ErrNotFound) {
		return e.dir.Member(n)
	}
	return m, err
}

// CurrentBasket returns the lane's panel: its open basket, if any.
func (e *Engine) CurrentBasket(ctx context.Context, lane string) (CheckoutView, error) {
	return posDo(ctx, e, lane, func(now time.Time) (CheckoutView, error) {
		s := e.lanes[lane]
		if s == nil {
			return CheckoutView{}, ErrNoBasket
		}
		return e.view(lane, s, now), nil
	})
}

// SetLines replaces the lines of the lane's basket (basketID may be empty:
// the open one), opening an anonymous basket when none is open, and
// prices the offers.
func (e *Engine) SetLines(ctx context.Context, lane, basketID string, lines []Line) (CheckoutView, error) {
	if err := ValidateLines(lines); err != nil {
		return CheckoutView{}, err
	}
	return posDo(ctx, e, lane, func(now time.Time) (CheckoutView, error) {
		s := e.lanes[lane]
		if s == nil && basketID == "" {
			s = e.newSession(lane, nil, "", false, now)
		}
		if err := sameBasket(s, basketID); err != nil {
			return CheckoutView{}, err
		}
		s.basket.Lines = slices.Clone(lines)
		s.at = now
		e.price(s, "checkout/"+lane, now)
		return e.showLane(lane, s, now), nil
	})
}

// ApplyOffer applies (on) or removes an offer on the lane's basket.
func (e *Engine) ApplyOffer(ctx context.Context, lane, basketID, offerID string, on bool) (CheckoutView, error) {
	return posDo(ctx, e, lane, func(now time.Time) (CheckoutView, error) {
		s := e.lanes[lane]
		if err := sameBasket(s, basketID); err != nil {
			return CheckoutView{}, err
		}
		i := slices.IndexFunc(s.offers, func(o BasketOffer) bool { return o.ID == offerID })
		if i < 0 {
			return CheckoutView{}, ErrNoOffer
		}
		o := &s.offers[i]
		switch {
		case o.Redeemed:
			// Redeemed: nothing to change.
		case on && o.AppliesTo <= 0:
			return CheckoutView{}, ErrNotApplicable
		default:
			o.Applied, o.Auto = on, false
			if s.declined == nil {
				s.declined = map[string]bool{}
			}
			s.declined[o.ID] = !on
		}
		s.at = now
		e.price(s, "checkout/"+lane, now)
		return e.showLane(lane, s, now), nil
	})
}

// Redeem redeems the applied offers of the lane's basket. A retry with the
// same key returns the first answer and redeems nothing again.
func (e *Engine) Redeem(ctx context.Context, lane, basketID, key string) (Redeemed, error) {
	return e.keyed(ctx, lane, "redeem", key, basketID, func(now time.Time) (Redeemed, error) {
		s := e.lanes[lane]
		if err := sameBasket(s, basketID); err != nil {
			return Redeemed{}, err
		}
		r := e.redeem(s, lane, now)
		e.price(s, "checkout/"+lane, now)
		e.showLane(lane, s, now)
		return r, nil
	})
}

// CloseBasket closes the lane's basket with the total the till took
// (paid < 0: the basket's own total), redeeming the offers still applied.
// A retry with the same key returns the first answer.
func (e *Engine) CloseBasket(ctx context.Context, lane, basketID, key string, paid Money) (Redeemed, error) {
	return e.keyed(ctx, lane, "close", key, fmt.Sprintf("%s %d", basketID, paid), func(now time.Time) (Redeemed, error) {
		s := e.lanes[lane]
		if err := sameBasket(s, basketID); err != nil {
			return Redeemed{}, err
		}
		r := e.redeem(s, lane, now)
		e.price(s, "checkout/"+lane, now)
		b := &s.basket
		if paid < 0 {
			paid = b.Total
		}
		cats := []string{}
		for _, l := range b.Lines {
			if l.Category != "" && !slices.Contains(cats, l.Category) {
				cats = append(cats, l.Category)
			}
		}
		slices.Sort(cats)
		bc := &BasketClosed{BasketID: b.ID, Lane: lane, Items: b.Items, Subtotal: b.Subtotal,
			Discount: b.Discount, Total: paid, Currency: e.o.Currency, Categories: cats}
		if s.member != nil {
			bc.MemberID = s.member.ID
			e.history = append(e.history, purchase{s.member.ID, now, cats, nil})
		}
		e.pending = append(e.pending, Event{Kind: KindBasket, Source: "checkout/" + lane, Time: now, Basket: bc})
		e.baskets.Add(1)
		r.Basket = bc
		b.Closed, b.Paid = true, paid
		e.showLane(lane, s, now)
		delete(e.lanes, lane)
		e.dirty = true
		return r, nil
	})
}

// keyed runs an idempotent till request. A key seen before returns its
// first answer when the request is the same (lane, operation and fields)
// and fails with ErrKeyReused otherwise.
func (e *Engine) keyed(ctx context.Context, lane, op, key, request string, fn func(now time.Time) (Redeemed, error)) (Redeemed, error) {
	if key == "" || len(key) > 128 {
		return Redeemed{}, errors.New("an idempotency key of 1 to 128 bytes is required")
	}
	return posDo(ctx, e, lane, func(now time.Time) (Redeemed, error) {
		if k, ok := e.keys[key]; ok {
			if k.Lane != lane || k.Op != op || k.Request != request {
				return Redeemed{}, ErrKeyReused
			}
			var r Redeemed
			err := json.Unmarshal(k.Result, &r)
			return r, err
		}
		r, err := fn(now)
		if err != nil {
			return Redeemed{}, err
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return Redeemed{}, err
		}
		e.keys[key] = keyRecord{At: now, Lane: lane, Op: op, Request: request, Result: raw}
		e.dirty = true
		return r, nil
	})
}

func sameBasket(s *laneSession, id string) error {
	switch {
	case s == nil:
		return ErrNoBasket
	case id != "" && id != s.basket.ID:
		return ErrOtherBasket
	}
	return nil
}

// redeem turns the applied, unredeemed offers of s into redemptions.
func (e *Engine) redeem(s *laneSession, lane string, now time.Time) Redeemed {
	r := Redeemed{BasketID: s.basket.ID, Redemptions: []Redemption{}}
	if s.member == nil {
		return r
	}
	var ids []string
	for i := range s.offers {
		o := &s.offers[i]
		if !o.Applied || o.Redeemed || o.Discount <= 0 {
			continue
		}
		o.Redeemed = true
		red := Redemption{OfferID: o.ID, MemberID: s.member.ID, Lane: lane, BasketID: s.basket.ID, Discount: o.Discount, Auto: o.Auto}
		r.Redemptions = append(r.Redemptions, red)
		r.Discount += o.Discount
		e.pending = append(e.pending, Event{Kind: KindRedeemed, Source: "checkout/" + lane, Time: now, Redemption: &red})
		e.redemptions.Add(1)
		if s.member.Redeemed == nil {
			s.member.Redeemed = map[string]int{}
		}
		s.member.Redeemed[o.ID]++
		s.redeemed = append(s.redeemed, o.ID)
		ids = append(ids, o.ID)
	}
	if len(ids) > 0 {
		e.history = append(e.history, purchase{s.member.ID, time.Time{}, nil, ids})
		e.dirty = true
	}
	return r
}

// purchase is a member store update waiting for the commit.
type purchase struct {
	member     string
	at         time.Time
	categories []string
	redeemed   []string
}

// flushHistory writes the purchases of committed baskets and redemptions
// to the member store. It runs after the commit: when the outbox could not
// be written, they wait with the events.
func (e *Engine) flushHistory() {
	if len(e.pending) > 0 || len(e.history) == 0 {
		return
	}
	for _, p := range e.history {
		if e.o.History == nil {
			break
		}
		if err := e.o.History.RecordPurchase(p.member, p.at, p.categories, p.redeemed); err != nil && !errors.Is(err, ErrNotFound) {
			e.log.Error("record purchase history", "err", err)
		}
	}
	e.history = e.history[:0]
}

// newSession opens a basket at lane, replacing whatever was open there.
func (e *Engine) newSession(lane string, m *Member, via Via, list bool, now time.Time) *laneSession {
	if old := e.lanes[lane]; old != nil {
		e.abandoned.Add(1)
	}
	s := &laneSession{
		basket: Basket{ID: newBasketID(lane, now), Lane: lane, Opened: now, List: list, Lines: []Line{}},
		member: m, via: via, shown: map[string]bool{}, at: now,
	}
	e.lanes[lane] = s
	e.dirty = true
	return s
}

func newBasketID(lane string, now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", lane, now.UTC().Format("20060102T150405"), hex.EncodeToString(b[:]))
}

// price recomputes the basket's totals and its offers: those already on
// the panel stay; up to CheckoutMax personal offers are shown, preferring
// those that apply to the basket; a shopping-list session applies every
// applicable offer by itself. New offers on the panel are exposures.
func (e *Engine) price(s *laneSession, key string, now time.Time) {
	b := &s.basket
	b.Items, b.Subtotal = 0, 0
	for _, l := range b.Lines {
		b.Items += l.Qty
		b.Subtotal += l.Amount()
	}
	if s.member != nil {
		m := s.member
		keep := map[string]BasketOffer{}
		for _, o := range s.offers {
			keep[o.ID] = o
		}
		var next []BasketOffer
		byID := map[string]*Offer{}
		for i := range e.offers {
			byID[e.offers[i].ID] = &e.offers[i]
		}
		// Offers already on the panel stay while they are still valid and
		// the member is not held out of them (or redeemed in this basket).
		for _, o := range s.offers {
			if off := byID[o.ID]; (off != nil && Eligible(off, m, ChannelCheckout, now) && !HeldOut(off, m)) || o.Redeemed {
				next = append(next, o)
			}
		}
		if room := min(e.o.CheckoutMax-len(next), e.dailyRoom(m)); room > 0 {
			capped := e.capped(m, key, now)
			skip := func(o *Offer) bool { _, on := keep[o.ID]; return on || (capped(o) && !s.shown[o.ID]) }
			// Applicable offers first, then the best others. Offers the
			// member is held out of are withheld (recorded once per cap
			// window, with the panel place they would have had) and the
			// next best take their place, at the member's own depth.
			applicable := func(o *Offer) bool { return skip(o) || appliesTo(o, b.Lines) <= 0 }
			picked, withheld := Choose(e.offers, m, ChannelCheckout, now, room, applicable)
			if len(picked) < room && len(b.Lines) == 0 {
				more, held := Choose(e.offers, m, ChannelCheckout, now, room-len(picked), func(o *Offer) bool {
					return skip(o) || slices.ContainsFunc(picked, func(p Pick) bool { return p.Offer == o })
				})
				for _, p := range held {
					p.Rank += len(picked)
					withheld = append(withheld, p)
				}
				picked = append(picked, more...)
			}
			for _, p := range withheld {
				p.Rank += len(next)
				e.withhold(&Event{Source: key, Time: now}, m, p, ChannelCheckout, b.Lane, key, now)
			}
			for _, p := range picked {
				next = append(next, BasketOffer{OfferView: offerView(p.Offer, m, now), Categories: p.Offer.Categories})
			}
		}
		// One offer per line: applied (and redeemed) offers take their
		// lines first, in panel order; the others are priced on what is
		// left, and a shopping-list basket applies them by itself.
		covered := make([]bool, len(b.Lines))
		for pass := range 2 {
			for i := range next {
				o := &next[i]
				if (o.Applied || o.Redeemed) != (pass == 0) {
					continue
				}
				o.AppliesTo = 0
				var take []int
				for j, l := range b.Lines {
					if !covered[j] && (len(o.Categories) == 0 || slices.Contains(o.Categories, l.Category)) {
						o.AppliesTo += l.Amount()
						take = append(take, j)
					}
				}
				if pass == 1 && s.basket.List && o.AppliesTo > 0 && !s.declined[o.ID] {
					o.Applied, o.Auto = true, true
				}
				if o.AppliesTo <= 0 && !o.Redeemed {
					o.Applied, o.Auto = false, false
				}
				if !o.Redeemed { // DiscountPct is the member's depth (offerView)
					o.Discount = o.AppliesTo.Percent(o.DiscountPct)
				}
				if o.Applied || o.Redeemed {
					for _, j := range take {
						covered[j] = true
					}
				}
			}
		}
		for i := range next {
			o := &next[i]
			if !s.shown[o.ID] {
				s.shown[o.ID] = true
				if off := byID[o.ID]; off != nil {
					e.expose(&Event{Source: key, Time: now}, m, off, ChannelCheckout, b.Lane, key, i+1, now)
				}
			}
		}
		s.offers = next
	}
	b.Discount = 0
	for _, o := range s.offers {
		if o.Applied || o.Redeemed {
			b.Discount += o.Discount
		}
	}
	b.Discount = min(b.Discount, b.Subtotal)
	b.Total = b.Subtotal - b.Discount
	e.dirty = true
}

// appliesTo is the amount of lines an offer's discount applies to.
func appliesTo(o *Offer, lines []Line) Money {
	var sum Money
	for _, l := range lines {
		if len(o.Categories) == 0 || slices.Contains(o.Categories, l.Category) {
			sum += l.Amount()
		}
	}
	return sum
}

// view is the lane panel of session s.
func (e *Engine) view(lane string, s *laneSession, now time.Time) CheckoutView {
	b := s.basket
	b.Lines = slices.Clone(b.Lines)
	v := CheckoutView{At: now, Known: s.member != nil, Via: s.via, Basket: &b, Offers: slices.Clone(s.offers)}
	if v.Offers == nil {
		v.Offers = []BasketOffer{}
	}
	if s.member != nil {
		v.Member = memberView(s.member, now)
	}
	return v
}

// showLane sends the lane's panel to its terminals and returns it.
func (e *Engine) showLane(lane string, s *laneSession, now time.Time) CheckoutView {
	v := e.view(lane, s, now)
	e.show(func(d Display) { d.ShowCheckout(lane, v) })
	return v
}

// memberView is what the cashier sees of m: their lifecycle stage from
// their own rhythm, and a churn warning when they are lapsing or churned.
func memberView(m *Member, now time.Time) *MemberView {
	stage := LifecycleStage(m, now)
	v := &MemberView{ID: m.ID, FirstName: m.FirstName, Tier: m.Tier, Stage: stage}
	last, usual := m.Rhythm()
	if last.IsZero() || last.After(now) {
		return v
	}
	days := int(now.Sub(last).Hours() / 24)
	v.LastVisitDays = &days
	if usual > 0 {
		v.UsualDays = math.Round(usual*10) / 10
	}
	if stage == StageLapsing || stage == StageChurned {
		v.Warning = fmt.Sprintf("%s: last visit %d days ago", stage, days)
		if usual > 0 {
			v.Warning += fmt.Sprintf(", usually every %s days", trimFloat(usual))
		}
	}
	return v
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

// expireSessions drops baskets untouched for sessionIdle and forgets old
// idempotency keys.
func (e *Engine) expireSessions(now time.Time) {
	for lane, s := range e.lanes {
		if now.Sub(s.at) >= sessionIdle {
			delete(e.lanes, lane)
			e.abandoned.Add(1)
			e.dirty = true
		}
	}
	for k, r := range e.keys {
		if now.Sub(r.At) >= keyKeep {
			delete(e.keys, k)
			e.dirty = true
		}
	}
}

// savedSession is a lane session in the engine checkpoint. The member is
// kept by id only and resolved again on restore.
type savedSession struct {
	Basket   Basket          `json:"basket"`
	MemberID string          `json:"member_id,omitempty"`
	Via      Via             `json:"via,omitempty"`
	Offers   []BasketOffer   `json:"offers,omitempty"`
	Shown    map[string]bool `json:"shown,omitempty"`
	Declined map[string]bool `json:"declined,omitempty"`
	At       time.Time       `json:"at"`
	Redeemed []string        `json:"redeemed,omitempty"`
}

func (e *Engine) saveSessions() map[string]savedSession {
	out := make(map[string]savedSession, len(e.lanes))
	for lane, s := range e.lanes {
		ss := savedSession{Basket: s.basket, Via: s.via, Offers: s.offers, Shown: s.shown, Declined: s.declined, At: s.at, Redeemed: s.redeemed}
		if s.member != nil {
			ss.MemberID = s.member.ID
		}
		out[lane] = ss
	}
	return out
}

func (e *Engine) restoreSessions(saved map[string]savedSession) {
	for lane, ss := range saved {
		if !e.hasLane(lane) {
			continue
		}
		s := &laneSession{basket: ss.Basket, via: ss.Via, offers: ss.Offers, shown: ss.Shown, declined: ss.Declined, at: ss.At, redeemed: ss.Redeemed}
		if s.shown == nil {
			s.shown = map[string]bool{}
		}
		if ss.MemberID != "" {
			m, err := e.dir.Member(ss.MemberID)
			if err != nil {
				continue // erased meanwhile, or unreadable: drop the basket
			}
			for _, id := range ss.Redeemed { // not yet in the store if the history write was lost
				if m.Redeemed == nil {
					m.Redeemed = map[string]int{}
				}
				if m.Redeemed[id] == 0 {
					m.Redeemed[id] = 1
				}
			}
			s.member = &m
		}
		e.lanes[lane] = s
	}
}

// MaxPlays bounds the plays of one RecordPlays call.
const MaxPlays = 100

// RecordPlays commits proof-of-play events reported by signage screens.
// The caller (the signage server) checks that each play answers an offer
// it sent to that zone.
func (e *Engine) RecordPlays(ctx context.Context, plays []Played) error {
	if len(plays) > MaxPlays {
		return fmt.Errorf("%d plays: at most %d", len(plays), MaxPlays)
	}
	_, err := engineDo(ctx, e, func(now time.Time) (struct{}, error) {
		for i := range plays {
			p := plays[i]
			e.pending = append(e.pending, Event{Kind: KindPlayed, Source: "signage/" + p.Zone, Time: p.Started, Played: &p})
		}
		e.plays.Add(uint64(len(plays)))
		return struct{}{}, nil
	})
	return err
}
