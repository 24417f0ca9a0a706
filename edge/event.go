package edge

import (
	"errors"
	"fmt"
	"time"
)

// Kind names what an Event reports.
type Kind string

// Raw device events. They stay in the gateway: the outbox refuses them, so a
// raw card UID or barcode can never leave the store.
const (
	KindCardRead     Kind = "card.read"     // a card was presented to a reader
	KindScan         Kind = "scan"          // a barcode was scanned
	KindDoorCrossing Kind = "door.crossing" // people crossed a door
)

// Business events. The engine writes them to the outbox before anyone is told
// about them; the uplink sends them to HQ.
const (
	KindRecognition  Kind = "member.recognised" // a member was identified at a place
	KindOfferShown   Kind = "offer.shown"       // an offer was put on a screen
	KindFootfall     Kind = "footfall.interval" // a closed counting interval of a door
	KindDeviceStatus Kind = "device.status"     // a device came up, went down or degraded
	KindErased       Kind = "member.erased"     // an erasure request from HQ was carried out
	KindRedeemed     Kind = "offer.redeemed"    // an offer was redeemed at a checkout lane
	KindBasket       Kind = "basket.closed"     // a basket was paid at a checkout lane
	KindPlayed       Kind = "offer.played"      // a signage screen played a personal offer (proof of play)
	KindTraffic      Kind = "traffic.interval"  // a closed counting interval of the whole store
	KindTrafficDay   Kind = "traffic.day"       // a closed trading day of the whole store
	KindVisit        Kind = "visit.closed"      // a member's visit ended
	KindWithheld     Kind = "offer.withheld"    // an offer a holdout member would have been shown
)

// Local reports whether events of this kind must never leave the gateway.
func (k Kind) Local() bool {
	return k == KindCardRead || k == KindScan || k == KindDoorCrossing
}

// fromTraffic reports whether the engine's traffic tracker produces events
// of this kind (so its state must be committed with them).
func (k Kind) fromTraffic() bool {
	return k == KindFootfall || k == KindTraffic || k == KindTrafficDay || k == KindVisit
}

// Topic returns the kind's segment in uplink topics
// (redcarpet/v1/{tenant}/{store}/up/{topic}).
func (k Kind) Topic() string {
	switch k {
	case KindRecognition:
		return "recognition"
	case KindOfferShown:
		return "exposure"
	case KindFootfall:
		return "footfall"
	case KindDeviceStatus:
		return "device"
	case KindErased:
		return "erasure"
	case KindRedeemed:
		return "redemption"
	case KindBasket:
		return "basket"
	case KindPlayed:
		return "play"
	case KindTraffic:
		return "traffic"
	case KindTrafficDay:
		return "day"
	case KindVisit:
		return "visit"
	case KindWithheld:
		return "holdout"
	}
	return ""
}

// Priority orders the uplink: 0 goes first. Within a priority, order is kept.
// Priority 0 (aggregates, device health, erasure acknowledgements) is never
// dropped; under the outbox quota, priority 2 (exposure logs) goes first,
// then priority 1 (recognitions).
func (k Kind) Priority() int {
	switch k {
	case KindFootfall, KindDeviceStatus, KindErased, KindRedeemed, KindBasket, KindTraffic, KindTrafficDay:
		return 0
	case KindRecognition, KindPlayed, KindVisit, KindWithheld:
		return 1
	default:
		return 2
	}
}

// Event is the one value that flows from drivers to the engine and from the
// engine to the outbox. Exactly one payload field is set, the one that
// matches Kind.
type Event struct {
	// ID is stable once assigned: the outbox assigns "<epoch>-<seq>" when the
	// event is appended, and HQ deduplicates on it. Raw events have no ID.
	ID     string    `json:"id,omitempty"`
	Kind   Kind      `json:"kind"`
	Source string    `json:"source"` // device name, or "engine"
	Time   time.Time `json:"time"`

	Card        *CardRead     `json:"card,omitempty"`
	Scan        *Scan         `json:"scan,omitempty"`
	Crossing    *Crossing     `json:"crossing,omitempty"`
	Recognition *Recognition  `json:"recognition,omitempty"`
	Exposure    *Exposure     `json:"exposure,omitempty"`
	Footfall    *Footfall     `json:"footfall,omitempty"`
	Device      *DeviceStatus `json:"device,omitempty"`
	Erased      *Erased       `json:"erased,omitempty"`
	Redemption  *Redemption   `json:"redemption,omitempty"`
	Basket      *BasketClosed `json:"basket,omitempty"`
	Played      *Played       `json:"played,omitempty"`
	Traffic     *Traffic      `json:"traffic,omitempty"`
	Day         *TrafficDay   `json:"day,omitempty"`
	Visit       *Visit        `json:"visit,omitempty"`
	Withheld    *Exposure     `json:"withheld,omitempty"`
}

// CardRead is a card presented to a reader. The UID is never serialised.
type CardRead struct {
	UID []byte `json:"-"`
}

// ScanClass is what a scanned code is, decided by the scanner driver.
type ScanClass string

// Scan classes.
const (
	ScanLoyalty ScanClass = "loyalty" // a member's loyalty card
	ScanList    ScanClass = "list"    // a member's personal shopping list
	ScanCoupon  ScanClass = "coupon"  // a paper or digital coupon
	ScanProduct ScanClass = "product" // an article
	ScanUnknown ScanClass = ""        // not classified
)

// Scan is one barcode read. The code is never serialised: loyalty and list
// codes identify members.
type Scan struct {
	Code      string    `json:"-"`
	Symbology string    `json:"symbology,omitempty"` // AIM identifier such as "]E0", when known
	Class     ScanClass `json:"class,omitempty"`
}

// Direction of a door crossing.
type Direction string

// Directions.
const (
	In  Direction = "in"
	Out Direction = "out"
)

// Crossing is one or more people crossing a door in one direction.
type Crossing struct {
	Dir   Direction `json:"dir"`
	Count int       `json:"count"`
}

// Via is how a member was identified.
type Via string

// Identification means.
const (
	ViaCard    Via = "card"
	ViaBarcode Via = "barcode"
	ViaTyped   Via = "typed" // a member number typed at the till
)

// Recognition is a member identified at a zone, lane or door.
type Recognition struct {
	MemberID string `json:"member_id"`
	Via      Via    `json:"via"`
	Zone     string `json:"zone,omitempty"`
	Lane     string `json:"lane,omitempty"`
	Door     string `json:"door,omitempty"`
	// NewVisit is true for the member's first recognition of a visit.
	NewVisit bool `json:"new_visit"`
}

// Channel is where offers appear.
type Channel string

// Channels.
const (
	ChannelSignage  Channel = "signage"
	ChannelCheckout Channel = "checkout"
)

// Exposure is an offer shown to a member on a screen (offer.shown) or, as
// the payload of offer.withheld, an offer that would have been shown had
// the member not been in its holdout (InHoldout): Rank is then the place
// it would have had, and the member was shown the next best instead.
type Exposure struct {
	OfferID  string  `json:"offer_id"`
	MemberID string  `json:"member_id"`
	Channel  Channel `json:"channel"`
	Screen   string  `json:"screen"` // zone id for signage, lane id for checkout
	Rank     int     `json:"rank"`   // 1 is the best offer of that display
	// DiscountPct is the depth this member was (or would have been)
	// offered: the offer's segment-matrix cell for them, or its flat
	// discount (DepthFor).
	DiscountPct float64 `json:"discount_pct,omitempty"`
	// Cell is the member's segment-matrix cell in the offer's category
	// ("switcher/heavy"), when the offer has a matrix.
	Cell string `json:"cell,omitempty"`
}

// Footfall is one closed counting interval of one door, in the store's time
// zone: [Start, End).
type Footfall struct {
	Door  string    `json:"door"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	In    int       `json:"in"`
	Out   int       `json:"out"`
	// Occupancy is the store's occupancy estimate when the interval closed.
	Occupancy int `json:"occupancy"`
	// StaffIn and StaffOut are the crossings among In and Out attributed to
	// staff (a staff badge read at this door within a few seconds).
	StaffIn  int `json:"staff_in,omitempty"`
	StaffOut int `json:"staff_out,omitempty"`
}

// Traffic is one closed counting interval [Start, End) of the whole store:
// door counts, visitors, occupancy, baskets and offers. Visitors are the
// entries that were not staff; occupancy counts visitors only.
type Traffic struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Day   string    `json:"day"` // the trading day it belongs to, YYYY-MM-DD
	In    int       `json:"in"`  // every entry, staff included
	Out   int       `json:"out"`
	// StaffIn and StaffOut are the staff crossings among In and Out.
	StaffIn  int `json:"staff_in"`
	StaffOut int `json:"staff_out"`
	Visitors int `json:"visitors"` // In - StaffIn
	// Occupancy is the visitors inside at End; Peak the most during the
	// interval.
	Occupancy int `json:"occupancy"`
	Peak      int `json:"peak"`
	// Clamped counts exits that found the store empty (drift: a missed
	// entry); they did not take occupancy below zero.
	Clamped int `json:"clamped,omitempty"`
	// Reset is set on the interval in which the closing reset happened: the
	// occupancy it cleared (visitors counted in and never out).
	Reset *int `json:"reset,omitempty"`
	// MemberVisits counts member visits that began in the interval.
	MemberVisits int `json:"member_visits"`
	// Baskets closed at the lanes, those of identified members among them,
	// and what they paid.
	Baskets       int    `json:"baskets"`
	MemberBaskets int    `json:"member_baskets"`
	Spend         Money  `json:"spend"`
	MemberSpend   Money  `json:"member_spend"`
	Currency      string `json:"currency"`
	// Offers shown (exposures), redeemed, and withheld from holdout members.
	OffersShown    int `json:"offers_shown"`
	OffersRedeemed int `json:"offers_redeemed"`
	OffersWithheld int `json:"offers_withheld,omitempty"`
}

// TrafficDay is one closed trading day of the whole store, [Start, End) in
// the store's time zone (23 or 25 hours on the days clocks change).
type TrafficDay struct {
	Day      string    `json:"day"` // YYYY-MM-DD
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	In       int       `json:"in"`
	Out      int       `json:"out"`
	StaffIn  int       `json:"staff_in"`
	StaffOut int       `json:"staff_out"`
	Visitors int       `json:"visitors"`
	// Peak is the highest occupancy of the day and when it was first reached.
	Peak   int       `json:"peak"`
	PeakAt time.Time `json:"peak_at,omitzero"`
	// Mismatch is the occupancy the closing reset cleared; Clamped the exits
	// that found the store empty. Both measure the counters' drift.
	Mismatch int `json:"mismatch"`
	Clamped  int `json:"clamped"`
	// DwellS is the mean visitor dwell in seconds, from occupancy over time
	// divided by visitors (Little's law); 0 without visitors.
	DwellS int64 `json:"dwell_s"`
	// Members counts the distinct members who visited; MemberDwellS is the
	// mean dwell of their closed visits, in seconds.
	Members      int   `json:"members"`
	MemberVisits int   `json:"member_visits"`
	MemberDwellS int64 `json:"member_dwell_s"`

	Baskets        int    `json:"baskets"`
	MemberBaskets  int    `json:"member_baskets"`
	Spend          Money  `json:"spend"`
	MemberSpend    Money  `json:"member_spend"`
	Currency       string `json:"currency"`
	OffersShown    int    `json:"offers_shown"`
	OffersRedeemed int    `json:"offers_redeemed"`
	OffersWithheld int    `json:"offers_withheld,omitempty"`

	Doors []DoorDay   `json:"doors"`
	Zones []ZoneDwell `json:"zones"`
}

// DoorDay is one door's crossings over a trading day.
type DoorDay struct {
	Door     string `json:"door"`
	In       int    `json:"in"`
	Out      int    `json:"out"`
	StaffIn  int    `json:"staff_in"`
	StaffOut int    `json:"staff_out"`
}

// ZoneDwell is what zone readers saw of member visits in one zone over a
// trading day: how many visits passed through it and their mean time there.
type ZoneDwell struct {
	Zone   string `json:"zone"`
	Visits int    `json:"visits"`
	DwellS int64  `json:"dwell_s"` // mean, seconds
}

// Visit is a member's visit, from their first recognition to the exit door
// or their last recognition before the visit gap.
type Visit struct {
	MemberID  string      `json:"member_id"`
	Start     time.Time   `json:"start"`
	End       time.Time   `json:"end"`
	DwellS    int64       `json:"dwell_s"`
	EntryDoor string      `json:"entry_door,omitempty"` // when recognised at a door on the way in
	ExitDoor  string      `json:"exit_door,omitempty"`  // when recognised at a door on the way out
	Zones     []ZoneVisit `json:"zones,omitempty"`
	Lanes     []string    `json:"lanes,omitempty"`
	Baskets   int         `json:"baskets"`
	Spend     Money       `json:"spend"`
	// Ended says how the visit ended: "door" (recognised at a door on the
	// way out) or "gap" (not seen for the visit gap).
	Ended string `json:"ended"`
}

// ZoneVisit is one zone of a member's visit: first and last read there and
// the time spent there: from the first read until the member was next seen
// elsewhere (or, never seen elsewhere after, until the last read there),
// added up over each time they came back to the zone.
type ZoneVisit struct {
	Zone   string    `json:"zone"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	DwellS int64     `json:"dwell_s"`
}

// DeviceState is a device's health.
type DeviceState string

// Device states.
const (
	DeviceUp       DeviceState = "up"
	DeviceDown     DeviceState = "down"
	DeviceDegraded DeviceState = "degraded"
)

// DeviceStatus reports a device's health change.
type DeviceStatus struct {
	Device string      `json:"device"`
	Kind   string      `json:"kind"`
	State  DeviceState `json:"state"`
	Detail string      `json:"detail,omitempty"`
}

// Erased acknowledges an erasure request: the member, their card and
// barcode index entries and every queued event naming them are gone.
type Erased struct {
	MemberID  string `json:"member_id"`
	RequestID string `json:"request_id"`
	Events    int    `json:"events_removed"` // queued events that named the member
}

// Redemption is an offer redeemed on a basket at a lane.
type Redemption struct {
	OfferID  string `json:"offer_id"`
	MemberID string `json:"member_id"`
	Lane     string `json:"lane"`
	BasketID string `json:"basket_id"`
	Discount Money  `json:"discount"`       // granted on this basket
	Auto     bool   `json:"auto,omitempty"` // applied automatically (a shopping-list special)
}

// BasketClosed is a basket paid at a lane. MemberID is empty for a shopper
// who did not identify.
type BasketClosed struct {
	BasketID string `json:"basket_id"`
	Lane     string `json:"lane"`
	MemberID string `json:"member_id,omitempty"`
	Items    int    `json:"items"`    // units
	Subtotal Money  `json:"subtotal"` // before offer discounts
	Discount Money  `json:"discount"` // offer discounts redeemed
	Total    Money  `json:"total"`    // paid, as the till reported it
	Currency string `json:"currency"` // ISO 4217
	// Categories are the basket's categories, for HQ's category reports.
	Categories []string `json:"categories,omitempty"`
}

// Played is proof that a signage screen played a personal offer: which
// offer, on which screen of which zone, when and how long. It names no
// member (the matching offer.shown exposure does).
type Played struct {
	OfferID    string    `json:"offer_id"`
	Zone       string    `json:"zone"`
	Screen     string    `json:"screen"` // the player's own id, kept by the browser
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
}

// Member is the member a business event names for erasure, or "": the
// events an erasure removes from the outbox (recognitions, exposures,
// withheld offers, visits). Redemptions and baskets are sales records and
// stay.
func (e *Event) Member() string {
	switch {
	case e.Recognition != nil:
		return e.Recognition.MemberID
	case e.Exposure != nil:
		return e.Exposure.MemberID
	case e.Withheld != nil:
		return e.Withheld.MemberID
	case e.Visit != nil:
		return e.Visit.MemberID
	}
	return ""
}

// ErrBadEvent is returned for an event whose payload does not match its kind.
var ErrBadEvent = errors.New("bad event")

// Validate checks that exactly the payload of the event's kind is set.
func (e *Event) Validate() error {
	want := map[Kind]bool{
		KindCardRead: e.Card != nil, KindScan: e.Scan != nil, KindDoorCrossing: e.Crossing != nil,
		KindRecognition: e.Recognition != nil, KindOfferShown: e.Exposure != nil,
		KindFootfall: e.Footfall != nil, KindDeviceStatus: e.Device != nil, KindErased: e.Erased != nil,
		KindRedeemed: e.Redemption != nil, KindBasket: e.Basket != nil, KindPlayed: e.Played != nil,
		KindTraffic: e.Traffic != nil, KindTrafficDay: e.Day != nil, KindVisit: e.Visit != nil,
		KindWithheld: e.Withheld != nil,
	}
	has, known := want[e.Kind]
	if !known {
		return fmt.Errorf("%w: unknown kind %q", ErrBadEvent, e.Kind)
	}
	if !has {
		return fmt.Errorf("%w: %s without its payload", ErrBadEvent, e.Kind)
	}
	n := 0
	for _, set := range want {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: %s with %d payloads", ErrBadEvent, e.Kind, n)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("%w: %s without a time", ErrBadEvent, e.Kind)
	}
	return nil
}
