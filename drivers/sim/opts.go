package sim

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Opts configures a simulation. Start from DefaultOpts and change what you
// need; a zero field takes the default documented on it.
type Opts struct {
	// Seed selects the simulated shoppers. The same Seed and Opts give the
	// same events (see the package documentation for the exact guarantee).
	Seed uint64

	// Speed is simulated seconds per real second. Default 60: a 12-hour
	// trading day passes in 12 real minutes. Plans ignore it; only the Clock
	// and Run use it.
	Speed float64

	// Start is the simulated instant the simulation begins at. Shoppers who
	// would have arrived earlier on that day are left out entirely, so every
	// door still balances. Zero means today's opening time in Location (the
	// next opening if the store is closed today), resolved from the real
	// clock when the plan is built: set Start for a reproducible sequence.
	Start time.Time

	// Days limits the simulation to this many calendar days, counting
	// Start's day as the first. Zero means no end: the plan goes on day
	// after day.
	Days int

	// Location is the store's time zone. Opening hours, calendar days and
	// the time-of-day curve follow it. Default time.UTC. Use
	// configs.Store.Location().
	Location *time.Location

	// Hours returns the opening and closing instants of the local day that
	// contains t, and false when the store is closed that day. The plan
	// calls it with noon of each simulated day. configs.Store.OpeningOn has
	// this signature and these semantics. Default: 08:00 to 20:00 every day.
	Hours func(t time.Time) (open, close time.Time, ok bool)

	// Devices are the store's devices. Kinds sim_door, sim_rfid and
	// sim_scanner are simulated; every other kind is ignored. At least one
	// sim_door is required: shoppers come in and leave through doors.
	// Readers placed at a door are where members may tap coming in and
	// going out, and where staff badge (at the first door with one);
	// readers placed in the zone "entrance" are where members tap on
	// arrival; other zone readers are visited while shopping; each lane
	// with a reader or scanner is a checkout where shoppers pay and members
	// identify.
	Devices []configs.Device

	// Members are the loyalty members the simulated shoppers may be: a
	// member shopper taps one of the member's Cards and scans the member's
	// Loyalty or List barcode, and buys from their Affinity and Matrix.
	// Members flagged Staff are the store's staff (see Staff): never
	// shoppers. Without members, nobody carries a loyalty card. The plan
	// copies what it needs.
	Members []edge.MemberRecord

	// Till, when set, is called by Sim.Run with each Checkout when the
	// clock reaches its Start, in order with the events (a member's
	// checkout before the read that identifies them). It runs on Run's
	// goroutine: it must return at once. The Checkout, Lines included, is
	// the till's to keep. Plans ignore it.
	Till func(Checkout)

	// ArrivalsPerDay is the expected number of shoppers on a day open from
	// 08:00 to 20:00. Days with other hours get the share of the time-of-day
	// curve they cover: a Sunday morning sees far fewer. Default 1800.
	ArrivalsPerDay float64

	// Behaviour holds the shopper behaviour shares. The zero value means
	// DefaultBehaviour; a non-zero value is used as given, so start from
	// DefaultBehaviour when changing one share.
	Behaviour Behaviour
}

// Behaviour is how simulated shoppers behave. Shares and probabilities are
// 0..1.
type Behaviour struct {
	// MemberShare is the share of shoppers who are members carrying their
	// card or loyalty barcode. Default 0.35.
	MemberShare float64
	// UTurn is the share of shoppers who step in and turn back within
	// seconds: an In and an Out crossing, nothing else. Default 0.02.
	UTurn float64
	// EntranceTap is the probability that a member taps their card at the
	// entrance reader on arrival: a reader in zone "entrance", else in the
	// first zone with one, else at the door they came in by. Default 0.5.
	EntranceTap float64
	// DoorTap is the probability that a member taps their card at the
	// reader of the door they came in by, if it has one, just after coming
	// in; and, drawn again, just before leaving through it. Default 0.3.
	DoorTap float64
	// ZoneTap is the probability that a member taps their card at the reader
	// of each zone they visit. Shoppers visit one to three zones. Default
	// 0.35.
	ZoneTap float64
	// Conversion is the probability that a shopper who stays buys
	// something, i.e. pays at a checkout lane, around 11:30 and 17:45; it
	// follows the time of day from 0.78 of it in mid-afternoon to 1.2 of it
	// early and late (at most 1). Without lanes nobody buys. Default 0.62:
	// from about 48% to 74% of shoppers.
	Conversion float64
	// CheckoutID is the probability that a member identifies at the lane
	// when buying; the others pay anonymously. Default 0.9.
	CheckoutID float64
	// LaneTap is the probability that a member identifying at a lane with
	// both a reader and a scanner taps the card rather than scanning the
	// loyalty barcode. Default 0.4.
	LaneTap float64
	// ListScan is the probability that a member at a lane with a scanner
	// also scans their personal shopping-list barcode. Default 0.2.
	ListScan float64
	// UnknownCard is the probability that a tap is made with a card no
	// member holds (a transit card, another chain's card). Default 0.03.
	UnknownCard float64
	// DwellMin, DwellMedian and DwellMax bound the time from entering to
	// leaving: log-normal around the median, truncated to [min, max].
	// Defaults 4m, 15m and 45m; DwellMin is at least one minute.
	DwellMin, DwellMedian, DwellMax time.Duration
}

// DefaultBehaviour is the shopper behaviour used when Opts.Behaviour is zero.
var DefaultBehaviour = Behaviour{
	MemberShare: 0.35,
	UTurn:       0.02,
	EntranceTap: 0.5,
	DoorTap:     0.3,
	ZoneTap:     0.35,
	Conversion:  0.62,
	CheckoutID:  0.9,
	LaneTap:     0.4,
	ListScan:    0.2,
	UnknownCard: 0.03,
	DwellMin:    4 * time.Minute,
	DwellMedian: 15 * time.Minute,
	DwellMax:    45 * time.Minute,
}

// DefaultOpts are the defaults of the Opts fields that have one (Hours: nil
// means 08:00 to 20:00 every day). Seed, Start, Days, Devices and Members
// are the caller's.
var DefaultOpts = Opts{
	Speed:          60,
	Location:       time.UTC,
	ArrivalsPerDay: 1800,
	Behaviour:      DefaultBehaviour,
}

// Default opening hours when Opts.Hours is nil.
const (
	defaultOpen  = 8 * time.Hour
	defaultClose = 20 * time.Hour
)

// withDefaults returns o with every zero field that has a default set to it.
func (o Opts) withDefaults() Opts {
	if o.Speed == 0 {
		o.Speed = DefaultOpts.Speed
	}
	if o.Location == nil {
		o.Location = DefaultOpts.Location
	}
	if o.ArrivalsPerDay == 0 {
		o.ArrivalsPerDay = DefaultOpts.ArrivalsPerDay
	}
	if o.Behaviour == (Behaviour{}) {
		o.Behaviour = DefaultBehaviour
	}
	if o.Hours == nil {
		loc := o.Location
		o.Hours = func(t time.Time) (time.Time, time.Time, bool) {
			y, m, d := t.In(loc).Date()
			day := time.Date(y, m, d, 0, 0, 0, 0, loc)
			return day.Add(defaultOpen), day.Add(defaultClose), true
		}
	}
	return o
}

// validate reports every bad field of o, which has its defaults applied.
func (o *Opts) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !(o.Speed > 0) || math.IsInf(o.Speed, 0) {
		bad("speed %v is not a positive number", o.Speed)
	}
	if o.Days < 0 {
		bad("days %d is negative", o.Days)
	}
	if !(o.ArrivalsPerDay >= 0) || math.IsInf(o.ArrivalsPerDay, 0) {
		bad("arrivals per day %v is not a non-negative number", o.ArrivalsPerDay)
	}
	doors := 0
	for _, d := range o.Devices {
		if d.Kind == "sim_door" {
			doors++
		}
	}
	if doors == 0 {
		bad("no sim_door device: shoppers need a door")
	}
	b := &o.Behaviour
	for _, s := range []struct {
		name string
		v    float64
	}{
		{"member share", b.MemberShare}, {"u-turn", b.UTurn}, {"entrance tap", b.EntranceTap}, {"door tap", b.DoorTap},
		{"zone tap", b.ZoneTap}, {"conversion", b.Conversion}, {"checkout id", b.CheckoutID},
		{"lane tap", b.LaneTap}, {"list scan", b.ListScan}, {"unknown card", b.UnknownCard},
	} {
		if !(s.v >= 0 && s.v <= 1) {
			bad("%s %v is outside 0..1", s.name, s.v)
		}
	}
	if b.DwellMin < time.Minute || b.DwellMedian < b.DwellMin || b.DwellMax < b.DwellMedian {
		bad("dwell min %s, median %s, max %s: want 1m <= min <= median <= max",
			b.DwellMin, b.DwellMedian, b.DwellMax)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sim: bad options: %w", err)
	}
	return nil
}
