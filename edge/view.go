package edge

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Display receives what screens should show. The engine calls it after the
// matching business events were committed to the outbox. Implementations
// must not block: the engine goroutine calls them.
type Display interface {
	ShowSignage(zone string, v SignageView)
	ShowCheckout(lane string, v CheckoutView)
}

// OfferView is an offer as a screen shows it.
type OfferView struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
	// DiscountPct is the member's discount in percent: the depth of their
	// segment-matrix cell for an offer with a matrix (see DepthFor).
	DiscountPct float64   `json:"discount_pct"`
	ValidTo     time.Time `json:"valid_to"`
}

// SignageView is a personal offer on a public screen. It carries no personal
// data beyond Greeting, which holds a first name only if the member consented.
type SignageView struct {
	Greeting string    `json:"greeting"`
	Offer    OfferView `json:"offer"`
	// ShowForMS is how long the offer interrupts the content loop.
	ShowForMS int64     `json:"show_for_ms"`
	At        time.Time `json:"at"`
}

// CheckoutView is the member panel of a checkout lane.
type CheckoutView struct {
	At    time.Time `json:"at"`
	Known bool      `json:"known"` // false: the card or barcode is not a member's
	Via   Via       `json:"via"`
	// Member is nil when Known is false.
	Member *MemberView `json:"member,omitempty"`
	// Offers are the member's personal offers, priced on the basket.
	Offers []BasketOffer `json:"offers"`
	// Basket is the lane's open (or just closed) basket; nil when none.
	Basket *Basket `json:"basket,omitempty"`
}

// MemberView is what the cashier sees of a member.
type MemberView struct {
	ID        string `json:"id"`
	FirstName string `json:"first_name"`
	Tier      string `json:"tier"`
	Stage     Stage  `json:"stage"`
	// LastVisitDays is the days since the member's last purchase, when
	// known; UsualDays their usual days between purchases (0: unknown).
	LastVisitDays *int    `json:"last_visit_days,omitempty"`
	UsualDays     float64 `json:"usual_days,omitempty"`
	// Warning is a churn warning for the cashier ("lapsing: last visit 41
	// days ago, usually every 9 days"); empty when the member is on time.
	Warning string `json:"warning,omitempty"`
}

// offerView converts an offer for display to member m at now: the discount
// is the member's own (DepthFor), the depth of their segment-matrix cell
// when the offer has a matrix.
func offerView(o *Offer, m *Member, now time.Time) OfferView {
	pct, _, _ := DepthFor(o, m, now)
	return OfferView{ID: o.ID, Title: o.Title, Body: o.Body, DiscountPct: pct, ValidTo: o.ValidTo}
}

// Greeting returns the signage greeting for m: the first name only with the
// member's consent. Only the first word of the name is used, so a full name
// typed into the first-name field does not put a surname on a public
// screen; a name holding digits or '@' (a phone number or an email address
// in the wrong field) is not used at all.
func Greeting(m *Member) string {
	if !m.GreetByName {
		return "Welcome back!"
	}
	name, _, _ := strings.Cut(strings.TrimSpace(m.FirstName), " ")
	if name == "" || utf8.RuneCountInString(name) > 24 || strings.ContainsAny(name, "@0123456789") {
		return "Welcome back!"
	}
	return "Hello " + name + "!"
}
