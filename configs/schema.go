package configs

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is one store gateway's configuration.
type Config struct {
	Store    Store       `toml:"store"`
	Data     Data        `toml:"data"`
	HTTP     HTTP        `toml:"http"`
	HQ       HQLink      `toml:"hq"`
	Offers   OfferPolicy `toml:"offers"`
	Footfall Footfall    `toml:"footfall"`
	Signage  Signage     `toml:"signage"`
	Log      Log         `toml:"log"`
	Barcodes Barcodes    `toml:"barcodes"`
	Zones    []Place     `toml:"zones"`
	Lanes    []Place     `toml:"lanes"`
	Doors    []Place     `toml:"doors"`
	Devices  []Device    `toml:"devices"`
}

// Store is the shop's identity and trading hours.
type Store struct {
	Tenant   string  `toml:"tenant"`   // the retailer, as in MQTT topics: [a-z0-9-]
	ID       string  `toml:"id"`       // the store, as in MQTT topics: [a-z0-9-]
	Name     string  `toml:"name"`     // shown on the overview page
	TimeZone string  `toml:"timezone"` // IANA name; intervals and days follow it
	Hours    []Hours `toml:"hours"`    // opening hours; none means always open
	Currency string  `toml:"currency"` // ISO 4217 code of the tills' amounts; default EUR
	// DayStart is the local time ("HH:MM", 00:00 to 12:00) at which a
	// trading day starts, for the daily traffic figures: a store open past
	// midnight sets "04:00" so that its night counts for the day before.
	// It must fall on a footfall.interval boundary. Default "00:00".
	DayStart string `toml:"day_start"`

	loc        *time.Location
	dayStartOK bool // DayStart is valid
}

// DayStartOffset is DayStart as a time after local midnight.
func (s Store) DayStartOffset() time.Duration {
	m, err := parseClock(s.DayStart)
	if err != nil {
		return 0
	}
	return time.Duration(m) * time.Minute
}

// Location is the store's time zone, resolved by validation.
func (s Store) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// Hours opens the store on Days from Open to Close, local time.
type Hours struct {
	Days  string `toml:"days"`  // "mon-fri", "sat", "mon,wed,fri"
	Open  string `toml:"open"`  // "08:30"
	Close string `toml:"close"` // "20:00"; "24:00" for midnight
}

// Data is where the gateway keeps its state.
type Data struct {
	Dir string `toml:"dir"` // holds redcarpet.db and card.key
	// CardKeyFile holds the per-store secret that keys card and barcode
	// pseudonyms (HMAC-SHA-256). Default <dir>/card.key, created with mode
	// 0600 on first start.
	CardKeyFile string `toml:"card_key_file"`
	// DBKeyFile holds the AES-256 key (64 hex characters) sealing members'
	// personal fields in the database. When systemd passes a credential
	// named db.key (LoadCredential=db.key:…), $CREDENTIALS_DIRECTORY/db.key
	// is used instead. Default <dir>/db.key, created with mode 0600 on
	// first start. Never the card key: losing one must not expose the other.
	DBKeyFile string `toml:"db_key_file"`
	// OutboxQuotaMiB bounds the events queued for HQ during an outage.
	// Beyond it the oldest exposure logs, then recognitions, are dropped
	// and counted; footfall, device health and erasure acknowledgements
	// never are. Default 512.
	OutboxQuotaMiB int `toml:"outbox_quota_mib"`
}

// HTTP is the local web server: pages, SSE streams, POS API, metrics.
type HTTP struct {
	Listen string `toml:"listen"` // host:port
	// AdminTokenFile holds the store manager's token, valid for every
	// lane. Default <data.dir>/admin.token, created on first start.
	AdminTokenFile string `toml:"admin_token_file"`
}

// HQLink is the MQTT connection to HQ.
type HQLink struct {
	Broker       string `toml:"broker"`    // tcp://host:1883, ssl://host:8883
	ClientID     string `toml:"client_id"` // default redcarpet-<tenant>-<store>
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	CAFile       string `toml:"ca_file"`
	CertFile     string `toml:"cert_file"`
	KeyFile      string `toml:"key_file"`

	BatchMaxEvents int      `toml:"batch_max_events"` // events per MQTT message, default 200
	BatchMaxBytes  int      `toml:"batch_max_bytes"`  // payload bytes per message, default 128 KiB
	BatchMaxAge    Duration `toml:"batch_max_age"`    // wait for more events at most this long, default 500ms
	InFlight       int      `toml:"in_flight"`        // unacknowledged messages, default 16
	BackoffMin     Duration `toml:"backoff_min"`      // first reconnect delay, default 500ms
	BackoffMax     Duration `toml:"backoff_max"`      // reconnect delay cap, default 30s
	AckTimeout     Duration `toml:"ack_timeout"`      // PUBACK wait before reconnecting, default 20s
}

// OfferPolicy decides how many offers are shown and how often.
type OfferPolicy struct {
	CheckoutMax int `toml:"checkout_max"` // offers on a checkout panel, default 3
	// FrequencyCap: the same member is not shown the same offer on the same
	// screen again within this window. Default 30m.
	FrequencyCap Duration `toml:"frequency_cap"`
	// DailyCap bounds the offers shown to one member per store day, all
	// screens and lanes together. Default 6.
	DailyCap int `toml:"daily_cap"`
	// SignageShowFor is how long a personal offer interrupts the signage
	// loop. Default 10s.
	SignageShowFor Duration `toml:"signage_show_for"`
	// VisitGap: a recognition this long after the member's previous one
	// starts a new visit. Default 2h.
	VisitGap Duration `toml:"visit_gap"`
}

// Footfall configures door counting.
type Footfall struct {
	Interval Duration `toml:"interval"` // default 15m; must divide a day
	// ClosingReset is the local time ("HH:MM"; "00:00" or "24:00" for
	// midnight, "01:00" for a store closing after midnight) at which
	// occupancy is set to zero each day: whoever the counters never saw
	// leave is recorded as the day's mismatch. Empty: never reset.
	ClosingReset string `toml:"closing_reset"`
	// StaffWindow is how far apart a staff member's card read at a door
	// reader and the crossing it marks as staff may be (1s to 60s);
	// crossings count that much later. Default 5s.
	StaffWindow Duration `toml:"staff_window"`
}

// ClosingOffset is ClosingReset as a time after local midnight (24h for
// midnight); 0 when there is no closing reset.
func (f Footfall) ClosingOffset() time.Duration {
	if f.ClosingReset == "" {
		return 0
	}
	m, err := parseClock(f.ClosingReset)
	if err != nil {
		return 0
	}
	if m == 0 {
		m = 24 * 60
	}
	return time.Duration(m) * time.Minute
}

// Signage is the default content loop of the signage player.
type Signage struct {
	Slides []Slide `toml:"slides"`
}

// Slide is one card of the signage content loop.
type Slide struct {
	Title   string   `toml:"title"`
	Body    string   `toml:"body"`
	Image   string   `toml:"image"` // URL or path served by the gateway
	ShowFor Duration `toml:"show_for"`
	// Dayparting: the slide plays only on Days ("mon-fri"; empty: every
	// day) between From and Until ("07:00", "11:30"; empty: all day), in
	// the store's time zone, and only in Zones (empty: every zone).
	Days  string   `toml:"days"`
	From  string   `toml:"from"`
	Until string   `toml:"until"`
	Zones []string `toml:"zones"`
}

// Daypart returns the slide's days (Sunday first) and its window in
// minutes after midnight, resolved by validation.
func (s Slide) Daypart() (days [7]bool, from, until int) {
	days = [7]bool{true, true, true, true, true, true, true}
	if s.Days != "" {
		days, _ = ParseDays(s.Days)
	}
	from, until = 0, 24*60
	if s.From != "" {
		from, _ = parseClock(s.From)
		until, _ = parseClock(s.Until)
	}
	return days, from, until
}

// Log configures the daemon's structured log.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error; default info
	Format string `toml:"format"` // text or json; default text
}

// Place is a zone, lane or door.
type Place struct {
	ID   string `toml:"id"`
	Name string `toml:"name"`
	// TokenFile (lanes only) holds the checkout terminal's token for the
	// POS API and the checkout page. Default <data.dir>/lane-<id>.token,
	// created with a random token (mode 0600) on first start.
	TokenFile string `toml:"token_file"`
}

// Device is one reader, scanner or door counter and how to reach it.
// Exactly one of Zone, Lane or Door places it; which fields are required
// depends on Kind (see DeviceKinds).
type Device struct {
	Name string `toml:"name"`
	Kind string `toml:"kind"`
	Zone string `toml:"zone"`
	Lane string `toml:"lane"`
	Door string `toml:"door"`

	// Connection. Only the fields of the device's kind may be set.
	SPI      string `toml:"spi"`       // mfrc522: "/dev/spidev0.0" or "SPI0.0"
	ResetPin string `toml:"reset_pin"` // mfrc522: "GPIO25"
	IRQPin   string `toml:"irq_pin"`   // mfrc522: "GPIO24"
	Port     string `toml:"port"`      // serial: "/dev/serial/by-id/..."
	Baud     int    `toml:"baud"`      // serial: default 9600
	Input    string `toml:"input"`     // evdev: "/dev/input/by-id/...-event-kbd"
	D0Pin    string `toml:"d0_pin"`    // wiegand
	D1Pin    string `toml:"d1_pin"`    // wiegand
	BeamAPin string `toml:"beam_a_pin"`
	BeamBPin string `toml:"beam_b_pin"`
	// CounterID is the id a commercial people counter sends in its pushes.
	CounterID string `toml:"counter_id"`

	// Options. Only the options of the device's kind may be set; each has
	// a per-kind default (see DeviceKinds and the README).
	Debounce        Duration `toml:"debounce"`         // RFID: same card ignored this long; beams: signal settling time
	PollTimeout     Duration `toml:"poll_timeout"`     // mfrc522: one read attempt, default 750ms
	FrameGap        Duration `toml:"frame_gap"`        // wiegand: silence that ends a frame, default 25ms
	Terminator      string   `toml:"terminator"`       // serial_scanner: line (default: CR, LF or CR LF), cr, lf, crlf, tab, idle
	IdleGap         Duration `toml:"idle_gap"`         // serial_scanner: silence that ends a scan with terminator "idle", default 80ms
	StripPrefix     string   `toml:"strip_prefix"`     // scanners: removed from the start of a scan when present
	StripSuffix     string   `toml:"strip_suffix"`     // scanners: removed from the end of a scan when present
	NumberFormat    string   `toml:"number_format"`    // wedge_rfid: decimal (default) or hex
	BrokenLevel     string   `toml:"broken_level"`     // ir_beams: input level while a beam is broken, high (default) or low
	ObstructedAfter Duration `toml:"obstructed_after"` // ir_beams: a beam broken this long is a fault, default 10s
	MaxTransit      Duration `toml:"max_transit"`      // ir_beams: longest A→B passage counted, default 2s
	TokenFile       string   `toml:"token_file"`       // counter_push: file holding the bearer token the counter sends
	InRegister      string   `toml:"in_register"`      // counter_push: register counting entries, default "in"
	OutRegister     string   `toml:"out_register"`     // counter_push: register counting exits, default "out"
}

// Barcodes classifies scans store-wide: which codes are members' loyalty
// cards, personal shopping lists and coupons. Everything else is a product.
// The longest matching prefix decides; GS1 element strings are classified by
// their application identifiers.
type Barcodes struct {
	LoyaltyPrefixes []string `toml:"loyalty_prefixes"` // e.g. ["041"]; no default: every chain has its own
	ListPrefixes    []string `toml:"list_prefixes"`    // e.g. ["049"]
	CouponPrefixes  []string `toml:"coupon_prefixes"`  // default GS1 coupon ranges 99, 981-984 and UPC coupons (05)
	LoyaltyAIs      []string `toml:"loyalty_ais"`      // default ["8018"] (GSRN of a service recipient)
	CouponAIs       []string `toml:"coupon_ais"`       // default ["255", "8110", "8112"]
}

// Class is what a device reports: card reads, scans or door crossings.
type Class string

// Device classes.
const (
	ClassRFID    Class = "rfid"
	ClassScanner Class = "scanner"
	ClassDoor    Class = "door"
)

// KindSpec describes one device kind: its class, connection fields and
// options.
type KindSpec struct {
	Class    Class
	Required []string // fields that must be set
	Optional []string // fields that may be set
	Sim      bool     // simulated by drivers/sim
}

// DeviceKinds lists the supported device kinds.
var DeviceKinds = map[string]KindSpec{
	"mfrc522":        {Class: ClassRFID, Required: []string{"spi", "reset_pin", "irq_pin"}, Optional: []string{"debounce", "poll_timeout"}},
	"rdm6300":        {Class: ClassRFID, Required: []string{"port"}, Optional: []string{"baud", "debounce"}},
	"wiegand":        {Class: ClassRFID, Required: []string{"d0_pin", "d1_pin"}, Optional: []string{"debounce", "frame_gap"}},
	"wedge_rfid":     {Class: ClassRFID, Required: []string{"input"}, Optional: []string{"debounce", "number_format"}},
	"wedge_scanner":  {Class: ClassScanner, Required: []string{"input"}, Optional: []string{"strip_prefix", "strip_suffix"}},
	"serial_scanner": {Class: ClassScanner, Required: []string{"port"}, Optional: []string{"baud", "terminator", "idle_gap", "strip_prefix", "strip_suffix"}},
	"ir_beams":       {Class: ClassDoor, Required: []string{"beam_a_pin", "beam_b_pin"}, Optional: []string{"debounce", "broken_level", "obstructed_after", "max_transit"}},
	"counter_push":   {Class: ClassDoor, Required: []string{"counter_id", "token_file"}, Optional: []string{"in_register", "out_register"}},
	"sim_rfid":       {Class: ClassRFID, Sim: true},
	"sim_scanner":    {Class: ClassScanner, Sim: true},
	"sim_door":       {Class: ClassDoor, Sim: true},
}

// Class returns the device's class, or "" for an unknown kind.
func (d Device) Class() Class { return DeviceKinds[d.Kind].Class }

// kindFields returns the device's kind-specific fields that are set.
func (d Device) kindFields() map[string]bool {
	set := map[string]bool{}
	for name, v := range map[string]string{
		"spi": d.SPI, "reset_pin": d.ResetPin, "irq_pin": d.IRQPin, "port": d.Port,
		"input": d.Input, "d0_pin": d.D0Pin, "d1_pin": d.D1Pin,
		"beam_a_pin": d.BeamAPin, "beam_b_pin": d.BeamBPin, "counter_id": d.CounterID,
		"terminator": d.Terminator, "strip_prefix": d.StripPrefix, "strip_suffix": d.StripSuffix,
		"number_format": d.NumberFormat, "broken_level": d.BrokenLevel, "token_file": d.TokenFile,
		"in_register": d.InRegister, "out_register": d.OutRegister,
	} {
		if v != "" {
			set[name] = true
		}
	}
	if d.Baud != 0 {
		set["baud"] = true
	}
	for name, v := range map[string]Duration{
		"debounce": d.Debounce, "poll_timeout": d.PollTimeout, "frame_gap": d.FrameGap,
		"idle_gap": d.IdleGap, "obstructed_after": d.ObstructedAfter, "max_transit": d.MaxTransit,
	} {
		if v.Duration != 0 || v.bad != "" {
			set[name] = true
		}
	}
	return set
}

// Defaults used when a field is left out.
const (
	DefaultBatchMaxEvents = 200
	DefaultBatchMaxBytes  = 128 << 10
	DefaultInFlight       = 16
	DefaultCheckoutMax    = 3
	DefaultDailyCap       = 6
	DefaultBaud           = 9600
)

var (
	idRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

func (c *Config) validate(ps *problems) {
	c.Store.validate(ps)
	c.Data.validate(ps)
	c.HTTP.validate(ps)
	c.HQ.validate(ps, c.Store)
	c.Offers.validate(ps)
	c.Footfall.validate(ps)
	if c.Store.dayStartOK && c.Footfall.Interval.bad == "" && c.Footfall.Interval.Duration > 0 &&
		c.Store.DayStartOffset()%c.Footfall.Interval.Duration != 0 {
		ps.add("store.day_start", "%s is not on a footfall.interval boundary (%s)", c.Store.DayStart, c.Footfall.Interval.Duration)
	}
	c.Signage.validate(ps)
	c.Log.validate(ps)
	c.Barcodes.validate(ps)
	zones := validatePlaces(ps, "zones", c.Zones)
	lanes := validatePlaces(ps, "lanes", c.Lanes)
	doors := validatePlaces(ps, "doors", c.Doors)
	for i, sl := range c.Signage.Slides {
		for j, z := range sl.Zones {
			if !zones[z] {
				ps.add(fmt.Sprintf("signage.slides[%d].zones[%d]", i, j), "%q is not declared in [[zones]]", z)
			}
		}
	}
	for section, places := range map[string][]Place{"zones": c.Zones, "doors": c.Doors} {
		for i, p := range places {
			if p.TokenFile != "" {
				ps.add(fmt.Sprintf("%s[%d].token_file", section, i), "only checkout lanes have tokens")
			}
		}
	}
	names := map[string]int{}
	for i := range c.Devices {
		d := &c.Devices[i]
		f := fmt.Sprintf("devices[%d]", i)
		if d.Name == "" {
			ps.add(f+".name", "is required")
		} else if j, dup := names[d.Name]; dup {
			ps.add(f+".name", "%q is already used by devices[%d]", d.Name, j)
		} else {
			names[d.Name] = i
		}
		d.validate(ps, f, zones, lanes, doors)
	}
}

func (s *Store) validate(ps *problems) {
	if !idRE.MatchString(s.Tenant) {
		ps.add("store.tenant", "%q must be 1-63 characters of a-z, 0-9 and '-'", s.Tenant)
	}
	if !idRE.MatchString(s.ID) {
		ps.add("store.id", "%q must be 1-63 characters of a-z, 0-9 and '-'", s.ID)
	}
	if s.Currency == "" {
		s.Currency = "EUR"
	} else if !currencyRE.MatchString(s.Currency) {
		ps.add("store.currency", "%q is not an ISO 4217 code such as \"EUR\"", s.Currency)
	}
	if s.TimeZone == "" {
		ps.add("store.timezone", "is required (an IANA name such as \"Europe/Paris\")")
	} else if loc, err := time.LoadLocation(s.TimeZone); err != nil {
		ps.add("store.timezone", "unknown time zone %q", s.TimeZone)
	} else {
		s.loc = loc
	}
	if s.DayStart == "" {
		s.DayStart = "00:00"
	}
	if m, err := parseClock(s.DayStart); err != nil {
		ps.add("store.day_start", "%v", err)
	} else if m > 12*60 {
		ps.add("store.day_start", "%s is after 12:00: a trading day starts between 00:00 and 12:00", s.DayStart)
	} else {
		s.dayStartOK = true
	}
	for i, h := range s.Hours {
		f := fmt.Sprintf("store.hours[%d]", i)
		if _, err := ParseDays(h.Days); err != nil {
			ps.add(f+".days", "%v", err)
		}
		o, errO := parseClock(h.Open)
		if errO != nil {
			ps.add(f+".open", "%v", errO)
		}
		cl, errC := parseClock(h.Close)
		if errC != nil {
			ps.add(f+".close", "%v", errC)
		}
		if errO == nil && errC == nil && cl <= o {
			ps.add(f+".close", "%s is not after open %s", h.Close, h.Open)
		}
	}
}

func (d *Data) validate(ps *problems) {
	if d.Dir == "" {
		ps.add("data.dir", "is required")
	}
	if d.DBKeyFile != "" && d.CardKeyFile != "" && filepath.Clean(d.DBKeyFile) == filepath.Clean(d.CardKeyFile) {
		ps.add("data.db_key_file", "%q is also data.card_key_file: use two files", d.DBKeyFile)
	}
	defInt(&d.OutboxQuotaMiB, 512)
	intRange(ps, "data.outbox_quota_mib", d.OutboxQuotaMiB, 1, 1<<20)
}

func (h *HTTP) validate(ps *problems) {
	if h.Listen == "" {
		ps.add("http.listen", "is required (host:port, e.g. \"0.0.0.0:8080\")")
		return
	}
	if _, port, err := net.SplitHostPort(h.Listen); err != nil {
		ps.add("http.listen", "%q is not host:port", h.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		ps.add("http.listen", "port %q is not a number from 0 to 65535", port)
	}
}

func (h *HQLink) validate(ps *problems, s Store) {
	if h.Broker == "" {
		ps.add("hq.broker", "is required (e.g. \"ssl://mqtt.example.com:8883\")")
	} else if u, err := url.Parse(h.Broker); err != nil || u.Host == "" {
		ps.add("hq.broker", "%q is not a broker URL such as tcp://host:1883", h.Broker)
	} else if !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts"}, u.Scheme) {
		ps.add("hq.broker", "scheme %q is not one of tcp, mqtt, ssl, tls, mqtts", u.Scheme)
	} else if u.Port() == "" {
		ps.add("hq.broker", "%q has no port", h.Broker)
	}
	if h.ClientID == "" {
		h.ClientID = "redcarpet-" + s.Tenant + "-" + s.ID
	}
	if (h.CertFile == "") != (h.KeyFile == "") {
		ps.add("hq.cert_file", "cert_file and key_file must be set together")
	}
	if h.PasswordFile != "" && h.Username == "" {
		ps.add("hq.username", "is required when password_file is set")
	}
	defInt(&h.BatchMaxEvents, DefaultBatchMaxEvents)
	defInt(&h.BatchMaxBytes, DefaultBatchMaxBytes)
	defInt(&h.InFlight, DefaultInFlight)
	defDur(&h.BatchMaxAge, 500*time.Millisecond)
	defDur(&h.BackoffMin, 500*time.Millisecond)
	defDur(&h.BackoffMax, 30*time.Second)
	defDur(&h.AckTimeout, 20*time.Second)
	intRange(ps, "hq.batch_max_events", h.BatchMaxEvents, 1, 10000)
	intRange(ps, "hq.batch_max_bytes", h.BatchMaxBytes, 1024, 256<<20)
	intRange(ps, "hq.in_flight", h.InFlight, 1, 1000)
	h.BatchMaxAge.check(ps, "hq.batch_max_age", 0, time.Minute)
	h.BackoffMin.check(ps, "hq.backoff_min", 10*time.Millisecond, time.Hour)
	h.BackoffMax.check(ps, "hq.backoff_max", 10*time.Millisecond, time.Hour)
	h.AckTimeout.check(ps, "hq.ack_timeout", 100*time.Millisecond, 10*time.Minute)
	if h.BackoffMin.bad == "" && h.BackoffMax.bad == "" && h.BackoffMax.Duration < h.BackoffMin.Duration {
		ps.add("hq.backoff_max", "%s is below backoff_min %s", h.BackoffMax.Duration, h.BackoffMin.Duration)
	}
}

func (o *OfferPolicy) validate(ps *problems) {
	defInt(&o.CheckoutMax, DefaultCheckoutMax)
	intRange(ps, "offers.checkout_max", o.CheckoutMax, 1, 10)
	defDur(&o.FrequencyCap, 30*time.Minute)
	defInt(&o.DailyCap, DefaultDailyCap)
	intRange(ps, "offers.daily_cap", o.DailyCap, 1, 50)
	defDur(&o.SignageShowFor, 10*time.Second)
	defDur(&o.VisitGap, 2*time.Hour)
	o.FrequencyCap.check(ps, "offers.frequency_cap", 0, 30*24*time.Hour)
	o.SignageShowFor.check(ps, "offers.signage_show_for", time.Second, 10*time.Minute)
	o.VisitGap.check(ps, "offers.visit_gap", time.Minute, 24*time.Hour)
}

func (f *Footfall) validate(ps *problems) {
	defDur(&f.Interval, 15*time.Minute)
	f.Interval.check(ps, "footfall.interval", time.Minute, 24*time.Hour)
	if f.Interval.bad == "" && f.Interval.Duration >= time.Minute &&
		(24*time.Hour)%f.Interval.Duration != 0 {
		ps.add("footfall.interval", "%s does not divide a day evenly (use 5m, 15m, 30m, 1h…)", f.Interval.Duration)
	}
	if f.ClosingReset != "" {
		if _, err := parseClock(f.ClosingReset); err != nil {
			ps.add("footfall.closing_reset", "%v", err)
		}
	}
	defDur(&f.StaffWindow, 5*time.Second)
	f.StaffWindow.check(ps, "footfall.staff_window", time.Second, time.Minute)
}

func (s *Signage) validate(ps *problems) {
	for i := range s.Slides {
		sl := &s.Slides[i]
		f := fmt.Sprintf("signage.slides[%d]", i)
		if sl.Title == "" && sl.Image == "" {
			ps.add(f, "needs a title or an image")
		}
		defDur(&sl.ShowFor, 8*time.Second)
		sl.ShowFor.check(ps, f+".show_for", time.Second, time.Hour)
		if sl.Days != "" {
			if _, err := ParseDays(sl.Days); err != nil {
				ps.add(f+".days", "%v", err)
			}
		}
		if (sl.From == "") != (sl.Until == "") {
			ps.add(f+".from", "from and until go together (e.g. from = \"07:00\", until = \"11:00\")")
		} else if sl.From != "" {
			a, errA := parseClock(sl.From)
			b, errB := parseClock(sl.Until)
			switch {
			case errA != nil:
				ps.add(f+".from", "%v", errA)
			case errB != nil:
				ps.add(f+".until", "%v", errB)
			case b <= a:
				ps.add(f+".until", "%s is not after from %s", sl.Until, sl.From)
			}
		}
	}
}

func (l *Log) validate(ps *problems) {
	if l.Level == "" {
		l.Level = "info"
	}
	if l.Format == "" {
		l.Format = "text"
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, l.Level) {
		ps.add("log.level", "%q is not one of debug, info, warn, error", l.Level)
	}
	if !slices.Contains([]string{"text", "json"}, l.Format) {
		ps.add("log.format", "%q is not one of text, json", l.Format)
	}
}

func validatePlaces(ps *problems, section string, places []Place) map[string]bool {
	ids := map[string]bool{}
	for i, p := range places {
		f := fmt.Sprintf("%s[%d].id", section, i)
		switch {
		case !idRE.MatchString(p.ID):
			ps.add(f, "%q must be 1-63 characters of a-z, 0-9 and '-'", p.ID)
		case ids[p.ID]:
			ps.add(f, "%q is declared twice", p.ID)
		default:
			ids[p.ID] = true
		}
	}
	return ids
}

func (d *Device) validate(ps *problems, f string, zones, lanes, doors map[string]bool) {
	spec, ok := DeviceKinds[d.Kind]
	if !ok {
		kinds := make([]string, 0, len(DeviceKinds))
		for k := range DeviceKinds {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		ps.add(f+".kind", "%q is not one of %s", d.Kind, strings.Join(kinds, ", "))
		return
	}
	placed := 0
	for _, p := range []struct {
		field, id string
		known     map[string]bool
		section   string
	}{{"zone", d.Zone, zones, "zones"}, {"lane", d.Lane, lanes, "lanes"}, {"door", d.Door, doors, "doors"}} {
		if p.id == "" {
			continue
		}
		placed++
		if !p.known[p.id] {
			ps.add(f+"."+p.field, "%q is not declared in [[%s]]", p.id, p.section)
		}
	}
	switch {
	case placed > 1:
		ps.add(f, "set only one of zone, lane and door")
	case spec.Class == ClassRFID && placed == 0:
		ps.add(f, "an RFID reader needs a zone, a lane or a door")
	case spec.Class == ClassScanner && d.Lane == "":
		ps.add(f+".lane", "a scanner needs the lane it serves")
	case spec.Class == ClassDoor && d.Door == "":
		ps.add(f+".door", "a door counter needs the door it counts")
	}
	set := d.kindFields()
	for _, r := range spec.Required {
		if !set[r] {
			ps.add(f+"."+r, "is required for kind %q", d.Kind)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(set)) { // sorted: the same file gives the same error
		if !slices.Contains(spec.Required, name) && !slices.Contains(spec.Optional, name) {
			ps.add(f+"."+name, "is not used by kind %q", d.Kind)
		}
	}
	if set["baud"] {
		intRange(ps, f+".baud", d.Baud, 300, 4000000)
	} else if slices.Contains(spec.Optional, "baud") {
		d.Baud = DefaultBaud
	}
	d.options(ps, f, spec)
}

// options applies the kind's defaults and checks the options' values.
func (d *Device) options(ps *problems, f string, spec KindSpec) {
	has := func(name string) bool { return slices.Contains(spec.Optional, name) }
	if has("debounce") {
		if spec.Class == ClassDoor {
			defDur(&d.Debounce, 20*time.Millisecond)
			d.Debounce.check(ps, f+".debounce", time.Millisecond, time.Second)
		} else {
			defDur(&d.Debounce, 1500*time.Millisecond)
			lo := time.Duration(0)
			if d.Kind == "mfrc522" {
				lo = 300 * time.Millisecond // above the driver's 250 ms rest after a read
			}
			d.Debounce.check(ps, f+".debounce", lo, time.Minute)
		}
	}
	if has("poll_timeout") {
		defDur(&d.PollTimeout, 750*time.Millisecond)
		d.PollTimeout.check(ps, f+".poll_timeout", 50*time.Millisecond, 10*time.Second)
	}
	if has("frame_gap") {
		defDur(&d.FrameGap, 25*time.Millisecond)
		d.FrameGap.check(ps, f+".frame_gap", 2*time.Millisecond, time.Second)
	}
	if has("terminator") {
		if d.Terminator == "" {
			d.Terminator = "line"
		}
		if !slices.Contains([]string{"line", "cr", "lf", "crlf", "tab", "idle"}, d.Terminator) {
			ps.add(f+".terminator", "%q is not one of line, cr, lf, crlf, tab, idle", d.Terminator)
		}
	}
	if has("idle_gap") {
		defDur(&d.IdleGap, 80*time.Millisecond)
		d.IdleGap.check(ps, f+".idle_gap", 5*time.Millisecond, 5*time.Second)
	}
	if has("number_format") {
		if d.NumberFormat == "" {
			d.NumberFormat = "decimal"
		}
		if d.NumberFormat != "decimal" && d.NumberFormat != "hex" {
			ps.add(f+".number_format", "%q is not one of decimal, hex", d.NumberFormat)
		}
	}
	if has("broken_level") {
		if d.BrokenLevel == "" {
			d.BrokenLevel = "high"
		}
		if d.BrokenLevel != "high" && d.BrokenLevel != "low" {
			ps.add(f+".broken_level", "%q is not one of high, low", d.BrokenLevel)
		}
	}
	if has("obstructed_after") {
		defDur(&d.ObstructedAfter, 10*time.Second)
		d.ObstructedAfter.check(ps, f+".obstructed_after", time.Second, time.Hour)
	}
	if has("max_transit") {
		defDur(&d.MaxTransit, 2*time.Second)
		d.MaxTransit.check(ps, f+".max_transit", 50*time.Millisecond, time.Minute)
	}
	if has("in_register") {
		if d.InRegister == "" {
			d.InRegister = "in"
		}
		if d.OutRegister == "" {
			d.OutRegister = "out"
		}
		if d.InRegister == d.OutRegister {
			ps.add(f+".out_register", "%q is also in_register", d.OutRegister)
		}
	}
}

// Default coupon classification: GS1 coupon number ranges (99, 981-984),
// UPC coupons as EAN-13 (05), and the coupon application identifiers.
var (
	DefaultCouponPrefixes = []string{"99", "981", "982", "983", "984", "05"}
	DefaultLoyaltyAIs     = []string{"8018"}
	DefaultCouponAIs      = []string{"255", "8110", "8112"}
)

var digitsRE = regexp.MustCompile(`^[0-9]{1,13}$`)

func (b *Barcodes) validate(ps *problems) {
	if b.CouponPrefixes == nil {
		b.CouponPrefixes = slices.Clone(DefaultCouponPrefixes)
	}
	if b.LoyaltyAIs == nil {
		b.LoyaltyAIs = slices.Clone(DefaultLoyaltyAIs)
	}
	if b.CouponAIs == nil {
		b.CouponAIs = slices.Clone(DefaultCouponAIs)
	}
	seen := map[string]string{}
	for _, l := range []struct {
		field string
		v     []string
	}{{"loyalty_prefixes", b.LoyaltyPrefixes}, {"list_prefixes", b.ListPrefixes}, {"coupon_prefixes", b.CouponPrefixes}} {
		for i, p := range l.v {
			f := fmt.Sprintf("barcodes.%s[%d]", l.field, i)
			if !digitsRE.MatchString(p) {
				ps.add(f, "%q must be 1 to 13 digits", p)
			} else if other, dup := seen[p]; dup {
				ps.add(f, "%q is also in barcodes.%s", p, other)
			} else {
				seen[p] = l.field
			}
		}
	}
	for _, l := range []struct {
		field string
		v     []string
	}{{"loyalty_ais", b.LoyaltyAIs}, {"coupon_ais", b.CouponAIs}} {
		for i, ai := range l.v {
			if len(ai) < 2 || len(ai) > 4 || !digitsRE.MatchString(ai) {
				ps.add(fmt.Sprintf("barcodes.%s[%d]", l.field, i), "%q is not a GS1 application identifier (2 to 4 digits)", ai)
			}
		}
	}
}

func defInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func defDur(v *Duration, def time.Duration) {
	if v.Duration == 0 && v.bad == "" {
		v.Duration = def
	}
}

func intRange(ps *problems, field string, v, lo, hi int) {
	if v < lo || v > hi {
		ps.add(field, "%d is outside %d..%d", v, lo, hi)
	}
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseDays parses "mon-fri", "sat", "mon,wed,fri" or "sat-mon".
func ParseDays(s string) ([7]bool, error) {
	var days [7]bool
	if strings.TrimSpace(s) == "" {
		return days, fmt.Errorf("is required (e.g. \"mon-fri\")")
	}
	idx := func(n string) (int, error) {
		i := slices.Index(dayNames, strings.ToLower(strings.TrimSpace(n)))
		if i < 0 {
			return 0, fmt.Errorf("%q is not a day (sun, mon, tue, wed, thu, fri, sat)", n)
		}
		return i, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := idx(from)
		if err != nil {
			return days, err
		}
		b := a
		if isRange {
			if b, err = idx(to); err != nil {
				return days, err
			}
		}
		for i := a; ; i = (i + 1) % 7 {
			days[i] = true
			if i == b {
				break
			}
		}
	}
	return days, nil
}

// parseClock parses "HH:MM" into minutes after midnight; "24:00" is allowed.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil ||
		hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}

// OpenAt reports whether the store is open at t (in its time zone). A store
// without hours is always open.
func (s Store) OpenAt(t time.Time) bool {
	if len(s.Hours) == 0 {
		return true
	}
	lt := t.In(s.Location())
	mins := lt.Hour()*60 + lt.Minute()
	for _, h := range s.Hours {
		days, err := ParseDays(h.Days)
		o, err1 := parseClock(h.Open)
		c, err2 := parseClock(h.Close)
		if err != nil || err1 != nil || err2 != nil {
			continue
		}
		if days[lt.Weekday()] && mins >= o && mins < c {
			return true
		}
	}
	return false
}

// OpeningOn returns the opening and closing times on t's local day, and
// false when the store is closed that day. With several ranges the day runs
// from the earliest opening to the latest closing.
func (s Store) OpeningOn(t time.Time) (open, close time.Time, ok bool) {
	loc := s.Location()
	lt := t.In(loc)
	y, mo, d := lt.Date()
	if len(s.Hours) == 0 {
		start := time.Date(y, mo, d, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 0, 1), true
	}
	first, last := 24*60+1, -1
	for _, h := range s.Hours {
		days, err := ParseDays(h.Days)
		o, err1 := parseClock(h.Open)
		c, err2 := parseClock(h.Close)
		if err != nil || err1 != nil || err2 != nil || !days[lt.Weekday()] {
			continue
		}
		first, last = min(first, o), max(last, c)
	}
	if last < 0 {
		return time.Time{}, time.Time{}, false
	}
	return time.Date(y, mo, d, first/60, first%60, 0, 0, loc), time.Date(y, mo, d, last/60, last%60, 0, 0, loc), true
}

// Device returns the device with the given name.
func (c *Config) Device(name string) (Device, bool) {
	for _, d := range c.Devices {
		if d.Name == name {
			return d, true
		}
	}
	return Device{}, false
}
