package configs_test

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Paris wherever the tests run

	"github.com/redcarpet-retail/redcarpet/configs"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// problemsOf returns the *configs.Error inside err, failing the test when
// err is nil or of another type.
func problemsOf(t *testing.T, err error) *configs.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want a *configs.Error")
	}
	var ce *configs.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *configs.Error", err, err)
	}
	return ce
}

func fields(ce *configs.Error) []string {
	out := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		out[i] = p.Field
	}
	return out
}

// TestSamples loads every sample shipped in configs.Samples, so a sample
// added later is covered without touching this test.
func TestSamples(t *testing.T) {
	names, err := fs.Glob(configs.Samples, "*.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{configs.DemoFile, "store.example.toml", "hq.example.toml"} {
		if !slices.Contains(names, want) {
			t.Errorf("sample %s is not embedded (have %v)", want, names)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, err := configs.Samples.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "hq") {
				c, err := configs.ParseHQ(name, data)
				if err != nil {
					t.Fatalf("ParseHQ: %v", err)
				}
				if c.Broker.URL == "" || c.Sink.Kind == "" {
					t.Errorf("HQ sample decoded to %+v, want broker and sink set", c)
				}
				return
			}
			c, err := configs.Parse(name, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.Store.Tenant == "" || len(c.Devices) == 0 {
				t.Errorf("sample decoded to store %+v with %d devices, want a tenant and devices", c.Store, len(c.Devices))
			}
			if c.Store.Location() == time.UTC && c.Store.TimeZone != "UTC" {
				t.Errorf("time zone %q was not resolved", c.Store.TimeZone)
			}
		})
	}
}

func TestDemo(t *testing.T) {
	c, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Devices {
		if !configs.DeviceKinds[d.Kind].Sim {
			t.Errorf("demo device %s has kind %s, want a simulated kind", d.Name, d.Kind)
		}
	}
	if _, ok := c.Device("lane-2-scanner"); !ok {
		t.Error(`Device("lane-2-scanner") not found in the demo`)
	}
	if _, ok := c.Device("no-such-device"); ok {
		t.Error(`Device("no-such-device") found`)
	}
}

// TestBadConfig checks that one file with many problems reports every one
// of them, together, each naming its field.
func TestBadConfig(t *testing.T) {
	_, err := configs.Load(filepath.Join("testdata", "bad.toml"))
	ce := problemsOf(t, err)
	if ce.File != filepath.Join("testdata", "bad.toml") {
		t.Errorf("File = %q, want the path given to Load", ce.File)
	}
	want := []string{
		"store.tenant",         // "Acme Corp"
		"store.timezone",       // Europe/Lyon
		"store.hours[0].close", // closes before it opens
		"store.hours[1].days",  // sun-funday
		"store.hours[1].open",  // 8:00
		"store.hours[1].close", // 25:00
		"http.listen",          // no port
		"hq.broker",            // http://
		"offers.frequency_cap", // "15 minutes"
		"footfall.interval",    // 7m does not divide a day
		"zones[1].id",          // duplicate
		"devices[0].kind",      // unknown kind
		"devices[1].lane",      // undeclared lane
		"devices[2].lane",      // scanner without a lane
		"devices[3].irq_pin",   // mfrc522 without irq_pin
		"devices[4].beam_a_pin",
		"devices[4].d0_pin", // rdm6300 with pins it does not use
		"devices[5].name",   // duplicate name
	}
	got := fields(ce)
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("no problem reported for %s", f)
		}
	}
	for _, f := range got {
		if !slices.Contains(want, f) {
			t.Errorf("unexpected problem for %s", f)
		}
	}
	for _, p := range ce.Problems {
		if p.Msg == "" {
			t.Errorf("problem for %s has no message", p.Field)
		}
		if !strings.Contains(err.Error(), p.Field+": ") {
			t.Errorf("error text does not name %s:\n%v", p.Field, err)
		}
	}
}

// TestErrorGolden pins the full error text of a multi-problem file, so a
// change of wording or order is reviewed. Run with -update to rewrite it.
func TestErrorGolden(t *testing.T) {
	for _, name := range []string{"bad", "unknown_keys", "syntax", "type"} {
		t.Run(name, func(t *testing.T) {
			_, err := configs.Load(filepath.Join("testdata", name+".toml"))
			problemsOf(t, err)
			got := err.Error() + "\n"
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("error text changed (go test -update to accept):\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

// TestErrorStable checks that the same file always yields the same text:
// a golden file is only useful if the order of problems is deterministic.
func TestErrorStable(t *testing.T) {
	data := []byte(strings.Replace(baseConfig, `port = "/dev/serial0"`,
		"port = \"/dev/serial0\"\nspi = \"SPI0.0\"\nreset_pin = \"GPIO25\"\nirq_pin = \"GPIO24\"\nd0_pin = \"GPIO5\"\nd1_pin = \"GPIO6\"\ninput = \"/dev/input/event1\"", 1))
	_, err := configs.Parse("stable.toml", data)
	first := problemsOf(t, err).Error()
	if n := strings.Count(first, "is not used by kind"); n != 6 {
		t.Fatalf("want 6 unused-field problems, got %d:\n%s", n, first)
	}
	for range 50 {
		_, err := configs.Parse("stable.toml", data)
		if got := err.Error(); got != first {
			t.Fatalf("same file, different error:\n--- first\n%s\n--- now\n%s", first, got)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	_, err := configs.Load(filepath.Join("testdata", "unknown_keys.toml"))
	ce := problemsOf(t, err)
	want := []configs.Problem{
		{Line: 2, Msg: `unknown key "verbose"`},
		{Line: 25, Msg: `unknown key "devices.pin"`},
	}
	if !slices.Equal(ce.Problems, want) {
		t.Errorf("problems = %+v, want %+v", ce.Problems, want)
	}
	for _, s := range []string{"line 2: ", "line 25: ", `"verbose"`, `"devices.pin"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error text lacks %q:\n%v", s, err)
		}
	}
}

func TestDecodeErrorLine(t *testing.T) {
	tests := []struct {
		file  string
		line  int
		field string
		msg   string
	}{
		{"syntax.toml", 7, "", "new lines"},         // unterminated string
		{"type.toml", 14, "hq.in_flight", "string"}, // "sixteen" into an int
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := configs.Load(filepath.Join("testdata", tt.file))
			ce := problemsOf(t, err)
			if len(ce.Problems) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(ce.Problems), err)
			}
			p := ce.Problems[0]
			if p.Line != tt.line || p.Field != tt.field || !strings.Contains(p.Msg, tt.msg) {
				t.Errorf("problem = %+v, want line %d, field %q, message containing %q", p, tt.line, tt.field, tt.msg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := configs.Load(filepath.Join(t.TempDir(), "absent.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestDefaults(t *testing.T) {
	c, err := configs.Load(filepath.Join("testdata", "minimal.toml"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"footfall.interval", c.Footfall.Interval.Duration, 15 * time.Minute},
		{"footfall.staff_window", c.Footfall.StaffWindow.Duration, 5 * time.Second},
		{"footfall.closing_reset", c.Footfall.ClosingReset, ""},
		{"footfall ClosingOffset()", c.Footfall.ClosingOffset(), time.Duration(0)},
		{"store.day_start", c.Store.DayStart, "00:00"},
		{"store DayStartOffset()", c.Store.DayStartOffset(), time.Duration(0)},
		{"offers.checkout_max", c.Offers.CheckoutMax, configs.DefaultCheckoutMax},
		{"offers.checkout_max literal", c.Offers.CheckoutMax, 3},
		{"offers.frequency_cap", c.Offers.FrequencyCap.Duration, 30 * time.Minute},
		{"offers.signage_show_for", c.Offers.SignageShowFor.Duration, 10 * time.Second},
		{"offers.visit_gap", c.Offers.VisitGap.Duration, 2 * time.Hour},
		{"hq.client_id", c.HQ.ClientID, "redcarpet-acme-lyon-part-dieu"},
		{"hq.batch_max_events", c.HQ.BatchMaxEvents, 200},
		{"hq.batch_max_bytes", c.HQ.BatchMaxBytes, 128 << 10},
		{"hq.in_flight", c.HQ.InFlight, 16},
		{"hq.batch_max_age", c.HQ.BatchMaxAge.Duration, 500 * time.Millisecond},
		{"hq.backoff_min", c.HQ.BackoffMin.Duration, 500 * time.Millisecond},
		{"hq.backoff_max", c.HQ.BackoffMax.Duration, 30 * time.Second},
		{"hq.ack_timeout", c.HQ.AckTimeout.Duration, 20 * time.Second},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"signage.slides[0].show_for", c.Signage.Slides[0].ShowFor.Duration, 8 * time.Second},
		{"devices[0].baud (rdm6300)", c.Devices[0].Baud, 9600},
		{"devices[1].baud (serial_scanner)", c.Devices[1].Baud, configs.DefaultBaud},
		{"devices[2].baud (mfrc522, not serial)", c.Devices[2].Baud, 0},
		{"devices[0].Class()", c.Devices[0].Class(), configs.ClassRFID},
		{"devices[1].Class()", c.Devices[1].Class(), configs.ClassScanner},
		{"store.Location()", c.Store.Location().String(), "Europe/Paris"},
	}
	for _, tt := range checks {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}

	// A value that is set is kept, not replaced by the default.
	data, err := os.ReadFile(filepath.Join("testdata", "minimal.toml"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), `broker = "ssl://mqtt.acme.example:8883"`,
		"broker = \"tcp://mqtt.acme.example:1883\"\nclient_id = \"gw-7\"", 1)
	src = strings.Replace(src, `port = "/dev/serial0"`, "port = \"/dev/serial0\"\nbaud = 19200", 1)
	c, err = configs.Parse("explicit.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.HQ.ClientID != "gw-7" || c.Devices[0].Baud != 19200 {
		t.Errorf("client_id %q, baud %d; want gw-7, 19200", c.HQ.ClientID, c.Devices[0].Baud)
	}
}

// baseConfig is valid; TestValidation breaks it one line at a time.
const baseConfig = `
[store]
tenant = "acme"
id = "lyon"
timezone = "Europe/Paris"

[[store.hours]]
days = "mon-sat"
open = "08:00"
close = "21:00"

[data]
dir = "/var/lib/redcarpet"

[http]
listen = "0.0.0.0:8080"

[hq]
broker = "ssl://mqtt.acme.example:8883"
ca_file = "/etc/redcarpet/ca.pem"
in_flight = 16
backoff_min = "500ms"
backoff_max = "30s"

[offers]
checkout_max = 3
frequency_cap = "30m"

[footfall]
interval = "15m"

[log]
level = "info"

[[zones]]
id = "entrance"

[[lanes]]
id = "1"

[[doors]]
id = "main"

[[devices]]
name = "entrance-rfid"
kind = "rdm6300"
zone = "entrance"
port = "/dev/serial0"

[[devices]]
name = "lane-1-scanner"
kind = "wedge_scanner"
lane = "1"
input = "/dev/input/event3"

[[devices]]
name = "door-counter"
kind = "counter_push"
door = "main"
counter_id = "xc-01"
token_file = "/etc/redcarpet/counter.token"

[[signage.slides]]
title = "Welcome"
`

// TestValidation changes one line of a valid config and checks exactly
// which fields are reported.
func TestValidation(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string // fields, in order; nil means valid
	}{
		{"valid", "", "", nil},
		{"id upper case", `id = "lyon"`, `id = "Lyon"`, []string{"store.id"}},
		{"tenant too long", `tenant = "acme"`, `tenant = "` + strings.Repeat("a", 64) + `"`, []string{"store.tenant"}},
		{"tenant leading dash", `tenant = "acme"`, `tenant = "-acme"`, []string{"store.tenant"}},
		{"no time zone", `timezone = "Europe/Paris"`, ``, []string{"store.timezone"}},
		{"close at midnight", `close = "21:00"`, `close = "24:00"`, nil},
		{"close past midnight", `close = "21:00"`, `close = "24:01"`, []string{"store.hours[0].close"}},
		{"close equals open", `close = "21:00"`, `close = "08:00"`, []string{"store.hours[0].close"}},
		{"days missing", `days = "mon-sat"`, ``, []string{"store.hours[0].days"}},
		{"minute 60", `open = "08:00"`, `open = "08:60"`, []string{"store.hours[0].open"}},
		{"no data dir", `dir = "/var/lib/redcarpet"`, ``, []string{"data.dir"}},
		{"db key file", `dir = "/var/lib/redcarpet"`, "dir = \"/var/lib/redcarpet\"\ndb_key_file = \"/etc/redcarpet/db.key\"", nil},
		{"db key is the card key", `dir = "/var/lib/redcarpet"`, "dir = \"/var/lib/redcarpet\"\ncard_key_file = \"/k/card.key\"\ndb_key_file = \"/k/./card.key\"", []string{"data.db_key_file"}},
		{"no listen", `listen = "0.0.0.0:8080"`, ``, []string{"http.listen"}},
		{"port too big", `listen = "0.0.0.0:8080"`, `listen = "0.0.0.0:70000"`, []string{"http.listen"}},
		{"port by name", `listen = "0.0.0.0:8080"`, `listen = "0.0.0.0:http"`, []string{"http.listen"}},
		{"no broker", `broker = "ssl://mqtt.acme.example:8883"`, ``, []string{"hq.broker"}},
		{"broker without port", `broker = "ssl://mqtt.acme.example:8883"`, `broker = "ssl://mqtt.acme.example"`, []string{"hq.broker"}},
		{"broker without scheme", `broker = "ssl://mqtt.acme.example:8883"`, `broker = "mqtt.acme.example:8883"`, []string{"hq.broker"}},
		{"broker mqtts", `broker = "ssl://mqtt.acme.example:8883"`, `broker = "mqtts://mqtt.acme.example:8883"`, nil},
		{"cert without key", `ca_file = "/etc/redcarpet/ca.pem"`, `cert_file = "/etc/redcarpet/gw.pem"`, []string{"hq.cert_file"}},
		{"password without user", `ca_file = "/etc/redcarpet/ca.pem"`, `password_file = "/etc/redcarpet/pw"`, []string{"hq.username"}},
		{"in_flight too big", `in_flight = 16`, `in_flight = 5000`, []string{"hq.in_flight"}},
		{"in_flight negative", `in_flight = 16`, `in_flight = -1`, []string{"hq.in_flight"}},
		{"backoff_max below min", `backoff_max = "30s"`, `backoff_max = "100ms"`, []string{"hq.backoff_max"}},
		// A malformed duration is one problem, not also "0s is below backoff_min".
		{"backoff_max malformed", `backoff_max = "30s"`, `backoff_max = "half a minute"`, []string{"hq.backoff_max"}},
		{"backoff_min malformed", `backoff_min = "500ms"`, `backoff_min = "soon"`, []string{"hq.backoff_min"}},
		{"checkout_max too big", `checkout_max = 3`, `checkout_max = 11`, []string{"offers.checkout_max"}},
		{"slide daypart", `title = "Welcome"`, "title = \"Welcome\"\ndays = \"mon-fri\"\nfrom = \"07:00\"\nuntil = \"11:00\"", nil},
		{"slide bad days", `title = "Welcome"`, "title = \"Welcome\"\ndays = \"mon-fry\"", []string{"signage.slides[0].days"}},
		{"slide from without until", `title = "Welcome"`, "title = \"Welcome\"\nfrom = \"07:00\"", []string{"signage.slides[0].from"}},
		{"slide until before from", `title = "Welcome"`, "title = \"Welcome\"\nfrom = \"11:00\"\nuntil = \"07:00\"", []string{"signage.slides[0].until"}},
		{"slide unknown zone", `title = "Welcome"`, "title = \"Welcome\"\nzones = [\"garden\"]", []string{"signage.slides[0].zones[0]"}},
		{"currency", `timezone = "Europe/Paris"`, "timezone = \"Europe/Paris\"\ncurrency = \"euro\"", []string{"store.currency"}},
		{"frequency_cap negative", `frequency_cap = "30m"`, `frequency_cap = "-1m"`, []string{"offers.frequency_cap"}},
		{"interval below a minute", `interval = "15m"`, `interval = "30s"`, []string{"footfall.interval"}},
		{"interval 90m divides a day", `interval = "15m"`, `interval = "1h30m"`, nil},
		{"interval 25m does not", `interval = "15m"`, `interval = "25m"`, []string{"footfall.interval"}},
		{"interval malformed", `interval = "15m"`, `interval = "15 minutes"`, []string{"footfall.interval"}},
		// Traffic: the trading day's start, the closing reset, the staff window.
		{"day_start 04:00", `timezone = "Europe/Paris"`, "timezone = \"Europe/Paris\"\nday_start = \"04:00\"", nil},
		{"day_start 12:00", `timezone = "Europe/Paris"`, "timezone = \"Europe/Paris\"\nday_start = \"12:00\"", nil},
		{"day_start without a leading zero", `timezone = "Europe/Paris"`, "timezone = \"Europe/Paris\"\nday_start = \"4:00\"", []string{"store.day_start"}},
		{"day_start after noon", `timezone = "Europe/Paris"`, "timezone = \"Europe/Paris\"\nday_start = \"13:00\"", []string{"store.day_start"}},
		{"day_start 24:00", `timezone = "Europe/Paris"`, "timezone = \"Europe/Paris\"\nday_start = \"24:00\"", []string{"store.day_start"}},
		{"day_start between intervals", `timezone = "Europe/Paris"`, "timezone = \"Europe/Paris\"\nday_start = \"04:10\"", []string{"store.day_start"}},
		{"closing_reset", `interval = "15m"`, "interval = \"15m\"\nclosing_reset = \"21:30\"", nil},
		{"closing_reset after midnight", `interval = "15m"`, "interval = \"15m\"\nclosing_reset = \"01:00\"", nil},
		{"closing_reset at midnight", `interval = "15m"`, "interval = \"15m\"\nclosing_reset = \"00:00\"", nil},
		{"closing_reset minute 60", `interval = "15m"`, "interval = \"15m\"\nclosing_reset = \"21:60\"", []string{"footfall.closing_reset"}},
		{"closing_reset 9pm", `interval = "15m"`, "interval = \"15m\"\nclosing_reset = \"9pm\"", []string{"footfall.closing_reset"}},
		{"staff_window 10s", `interval = "15m"`, "interval = \"15m\"\nstaff_window = \"10s\"", nil},
		{"staff_window below a second", `interval = "15m"`, "interval = \"15m\"\nstaff_window = \"500ms\"", []string{"footfall.staff_window"}},
		{"staff_window above a minute", `interval = "15m"`, "interval = \"15m\"\nstaff_window = \"2m\"", []string{"footfall.staff_window"}},
		{"staff_window malformed", `interval = "15m"`, "interval = \"15m\"\nstaff_window = \"soon\"", []string{"footfall.staff_window"}},
		{"log level", `level = "info"`, `level = "verbose"`, []string{"log.level"}},
		{"slide without title", `title = "Welcome"`, `body = "no title, no image"`, []string{"signage.slides[0]"}},
		{"slide image only", `title = "Welcome"`, `image = "/static/welcome.png"`, nil},
		{"reader in two places", `zone = "entrance"`, "zone = \"entrance\"\ndoor = \"main\"", []string{"devices[0]"}},
		{"reader nowhere", `zone = "entrance"`, ``, []string{"devices[0]"}},
		{"reader in undeclared door", `zone = "entrance"`, `door = "back"`, []string{"devices[0].door"}},
		{"rdm6300 without port", `port = "/dev/serial0"`, ``, []string{"devices[0].port"}},
		{"baud too low", `port = "/dev/serial0"`, "port = \"/dev/serial0\"\nbaud = 100", []string{"devices[0].baud"}},
		{"baud on a wedge", `input = "/dev/input/event3"`, "input = \"/dev/input/event3\"\nbaud = 9600", []string{"devices[1].baud"}},
		{"scanner in a zone", `lane = "1"`, `zone = "entrance"`, []string{"devices[1].lane"}},
		{"counter without door", `door = "main"`, `lane = "1"`, []string{"devices[2].door"}},
		{"device without name", `name = "door-counter"`, ``, []string{"devices[2].name"}},
		{"zone id empty", "[[zones]]\nid = \"entrance\"", "[[zones]]\nid = \"entrance\"\n[[zones]]\nname = \"no id\"", []string{"zones[1].id"}},
		// Device options belong to their kinds and are range-checked.
		{"debounce on a reader", `port = "/dev/serial0"`, "port = \"/dev/serial0\"\ndebounce = \"3s\"", nil},
		{"mfrc522 debounce below its rest", `kind = "rdm6300"`, "kind = \"mfrc522\"\nspi = \"SPI0.0\"\nreset_pin = \"GPIO25\"\nirq_pin = \"GPIO24\"\ndebounce = \"200ms\"", []string{"devices[0].port", "devices[0].debounce"}},
		{"debounce too long", `port = "/dev/serial0"`, "port = \"/dev/serial0\"\ndebounce = \"2m\"", []string{"devices[0].debounce"}},
		{"terminator on a reader", `port = "/dev/serial0"`, "port = \"/dev/serial0\"\nterminator = \"cr\"", []string{"devices[0].terminator"}},
		{"strip_prefix on a wedge scanner", `input = "/dev/input/event3"`, "input = \"/dev/input/event3\"\nstrip_prefix = \"\\u0002\"", nil},
		{"number_format on a wedge scanner", `input = "/dev/input/event3"`, "input = \"/dev/input/event3\"\nnumber_format = \"hex\"", []string{"devices[1].number_format"}},
		{"counter without token", `token_file = "/etc/redcarpet/counter.token"`, ``, []string{"devices[2].token_file"}},
		{"counter registers equal", `counter_id = "xc-01"`, "counter_id = \"xc-01\"\nin_register = \"out\"", []string{"devices[2].out_register"}},
		{"loyalty prefix", `[[zones]]`, "[barcodes]\nloyalty_prefixes = [\"041\"]\nlist_prefixes = [\"049\"]\n[[zones]]", nil},
		{"prefix not digits", `[[zones]]`, "[barcodes]\nloyalty_prefixes = [\"A41\"]\n[[zones]]", []string{"barcodes.loyalty_prefixes[0]"}},
		{"prefix in two classes", `[[zones]]`, "[barcodes]\nloyalty_prefixes = [\"99\"]\n[[zones]]", []string{"barcodes.coupon_prefixes[0]"}},
		{"bad AI", `[[zones]]`, "[barcodes]\ncoupon_ais = [\"25\", \"81125\"]\n[[zones]]", []string{"barcodes.coupon_ais[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := baseConfig
			if tt.old != "" {
				if n := strings.Count(src, tt.old); n != 1 {
					t.Fatalf("%q occurs %d times in baseConfig, want once", tt.old, n)
				}
				src = strings.Replace(src, tt.old, tt.new, 1)
			}
			_, err := configs.Parse("base.toml", []byte(src))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			ce := problemsOf(t, err)
			if got := fields(ce); !slices.Equal(got, tt.want) {
				t.Errorf("fields = %q, want %q\n%v", got, tt.want, err)
			}
		})
	}
}

func TestParseHQ(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"defaults", `
[broker]
url = "tcp://127.0.0.1:1883"
client_id = "hq-1"
tenant = "acme"
[sink]
path = "/tmp/hq.db"
`, nil},
		{"everything wrong", `
[broker]
url = "127.0.0.1:1883"
cert_file = "hq.pem"
tenant = "Acme"
[sink]
kind = "mysql"
[http]
listen = "9090"
[log]
format = "xml"
`, []string{"broker.url", "broker.client_id", "broker.cert_file", "broker.tenant", "sink.kind", "http.listen", "log.format"}},
		{"postgres without dsn", `
[broker]
url = "tcp://127.0.0.1:1883"
client_id = "hq-1"
tenant = "acme"
[sink]
kind = "postgres"
`, []string{"sink.dsn"}},
		{"downlink retention too small", `
[broker]
url = "tcp://127.0.0.1:1883"
client_id = "hq-1"
tenant = "acme"
[sink]
path = "/var/lib/redcarpet-hq/hq.db"
[downlink]
retention = 10
`, []string{"downlink.retention"}},
		{"all tenants without a downlink list", `
[broker]
url = "tcp://127.0.0.1:1883"
client_id = "hq-1"
[sink]
path = "/tmp/hq.db"
`, []string{"downlink.tenants"}},
		{"downlink sharing the ingest's client id", `
[broker]
url = "tcp://127.0.0.1:1883"
client_id = "hq-1"
tenant = "acme"
[sink]
path = "/tmp/hq.db"
[downlink]
client_id = "hq-1"
`, []string{"downlink.client_id"}},
		{"embedded without path", `
[broker]
url = "tcp://127.0.0.1:1883"
client_id = "hq-1"
tenant = "acme"
`, []string{"sink.path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := configs.ParseHQ("hq.toml", []byte(tt.src))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Broker.ShareGroup != "redcarpet-hq" || c.Broker.Tenant != "acme" || c.Sink.Kind != "embedded" || c.Log.Level != "info" ||
					!slices.Equal(c.Downlink.Tenants, []string{"acme"}) || c.Downlink.ClientID != "hq-1-downlink" || c.Downlink.Location() != time.UTC {
					t.Errorf("defaults not applied: %+v", c)
				}
				return
			}
			if got := fields(problemsOf(t, err)); !slices.Equal(got, tt.want) {
				t.Errorf("fields = %q, want %q", got, tt.want)
			}
		})
	}
	_, err := configs.ParseHQ("hq.toml", []byte("[broker]\nurl = \"tcp://h:1\"\nclientid = \"x\"\n"))
	if ce := problemsOf(t, err); len(ce.Problems) != 1 || ce.Problems[0].Line != 3 {
		t.Errorf("unknown key in HQ config: %v, want one problem on line 3", err)
	}
}

func TestParseDays(t *testing.T) {
	// want lists the open days, Sunday first as in time.Weekday.
	tests := []struct {
		in      string
		want    string // "smtwtfs" with '-' for a closed day
		wantErr string
	}{
		{in: "mon-fri", want: "-mtwtf-"},
		{in: "sat-mon", want: "sm----s"},
		{in: "fri-tue", want: "smt--fs"},
		{in: "mon,wed", want: "-m-w---"},
		{in: "sun", want: "s------"},
		{in: "wed-wed", want: "---w---"},
		{in: "sun-sat", want: "smtwtfs"},
		{in: "MON-Fri", want: "-mtwtf-"},
		{in: " mon , wed-thu ", want: "-m-wt--"},
		{in: "mon-fri,sat", want: "-mtwtfs"},
		{in: "", wantErr: "required"},
		{in: "  ", wantErr: "required"},
		{in: "funday", wantErr: `"funday" is not a day`},
		{in: "mon-fry", wantErr: `"fry" is not a day`},
		{in: "monday", wantErr: `"monday" is not a day`},
		{in: "mon,", wantErr: "is not a day"},
		{in: "mon-tue-wed", wantErr: "is not a day"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			days, err := configs.ParseDays(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDays(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for i, open := range days {
				if open {
					got.WriteByte("smtwtfs"[i])
				} else {
					got.WriteByte('-')
				}
			}
			if got.String() != tt.want {
				t.Errorf("ParseDays(%q) = %s, want %s", tt.in, got.String(), tt.want)
			}
		})
	}
}

// storeWithHours returns a validated Store in Europe/Paris with the given
// [[store.hours]] tables.
func storeWithHours(t *testing.T, hours string) configs.Store {
	t.Helper()
	src := "[store]\ntenant = \"acme\"\nid = \"lyon\"\ntimezone = \"Europe/Paris\"\n" + hours + `
[data]
dir = "/d"
[http]
listen = ":8080"
[hq]
broker = "tcp://127.0.0.1:1883"
`
	c, err := configs.Parse("hours.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c.Store
}

func hoursTable(days, open, close string) string {
	return "[[store.hours]]\ndays = \"" + days + "\"\nopen = \"" + open + "\"\nclose = \"" + close + "\"\n"
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestOpenAt(t *testing.T) {
	weekdays := hoursTable("mon-fri", "08:00", "12:00") + hoursTable("mon-fri", "14:00", "19:00") + hoursTable("sat", "09:00", "24:00")
	night := hoursTable("sun", "01:00", "04:00")
	daily := hoursTable("sun-sat", "08:00", "20:00")
	tests := []struct {
		name  string
		hours string
		at    string // UTC
		want  bool
	}{
		{"no hours: always open", "", "2026-03-29T02:30:00Z", true},
		{"monday morning", weekdays, "2026-03-23T07:00:00Z", true},   // 08:00 CET, opening minute
		{"monday before", weekdays, "2026-03-23T06:59:00Z", false},   // 07:59 CET
		{"monday lunch", weekdays, "2026-03-23T12:00:00Z", false},    // 13:00 CET
		{"monday afternoon", weekdays, "2026-03-23T13:00:00Z", true}, // 14:00 CET
		{"monday closing minute", weekdays, "2026-03-23T18:00:00Z", false},
		{"saturday late", weekdays, "2026-03-28T22:59:00Z", true}, // 23:59 CET
		{"sunday: no hours that day", weekdays, "2026-03-29T10:00:00Z", false},
		// 2026-03-29: clocks go from 02:00 CET to 03:00 CEST.
		{"spring: 01:59 CET", night, "2026-03-29T00:59:00Z", true},
		{"spring: 03:30 CEST", night, "2026-03-29T01:30:00Z", true},
		{"spring: 04:00 CEST", night, "2026-03-29T02:00:00Z", false},
		{"spring: daily opens 08:00 CEST", daily, "2026-03-29T06:00:00Z", true},
		{"spring: day before 07:00 CET", daily, "2026-03-28T06:00:00Z", false},
		// 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET.
		{"autumn: 00:59 CEST", night, "2026-10-24T22:59:00Z", false},
		{"autumn: first 02:30 (CEST)", night, "2026-10-25T00:30:00Z", true},
		{"autumn: second 02:30 (CET)", night, "2026-10-25T01:30:00Z", true},
		{"autumn: 03:59 CET", night, "2026-10-25T02:59:00Z", true},
		{"autumn: 04:00 CET", night, "2026-10-25T03:00:00Z", false},
		{"autumn: daily 19:59 CET", daily, "2026-10-25T18:59:00Z", true},
		{"autumn: daily 20:00 CET", daily, "2026-10-25T19:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storeWithHours(t, tt.hours)
			if got := s.OpenAt(utc(tt.at)); got != tt.want {
				t.Errorf("OpenAt(%s = %s local) = %v, want %v", tt.at, utc(tt.at).In(s.Location()).Format("Mon 15:04 MST"), got, tt.want)
			}
		})
	}
}

func TestOpeningOn(t *testing.T) {
	weekdays := hoursTable("mon-fri", "08:00", "12:00") + hoursTable("mon-fri", "14:00", "19:00") + hoursTable("sat", "09:00", "24:00")
	night := hoursTable("sun", "01:00", "04:00")
	daily := hoursTable("sun-sat", "08:00", "20:00")
	tests := []struct {
		name        string
		hours       string
		on          string // any instant; its Paris day is used
		open, close string // UTC; "" when closed
		length      time.Duration
	}{
		{"two ranges: earliest to latest", weekdays, "2026-03-23T12:00:00Z", "2026-03-23T07:00:00Z", "2026-03-23T18:00:00Z", 11 * time.Hour},
		{"closing at 24:00", weekdays, "2026-03-28T12:00:00Z", "2026-03-28T08:00:00Z", "2026-03-28T23:00:00Z", 15 * time.Hour},
		{"sunday: closed", weekdays, "2026-03-29T12:00:00Z", "", "", 0},
		// 23:30 UTC Saturday is already Sunday in Paris.
		{"local day, not UTC day", weekdays, "2026-03-21T23:30:00Z", "", "", 0},
		{"spring night: 3h of wall clock, 2h real", night, "2026-03-29T12:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z", 2 * time.Hour},
		{"autumn night: 3h of wall clock, 4h real", night, "2026-10-25T12:00:00Z", "2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z", 4 * time.Hour},
		{"spring daily in CEST", daily, "2026-03-29T12:00:00Z", "2026-03-29T06:00:00Z", "2026-03-29T18:00:00Z", 12 * time.Hour},
		{"day before in CET", daily, "2026-03-28T12:00:00Z", "2026-03-28T07:00:00Z", "2026-03-28T19:00:00Z", 12 * time.Hour},
		{"autumn daily in CET", daily, "2026-10-25T12:00:00Z", "2026-10-25T07:00:00Z", "2026-10-25T19:00:00Z", 12 * time.Hour},
		{"no hours, spring: a 23h day", "", "2026-03-29T12:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", 23 * time.Hour},
		{"no hours, autumn: a 25h day", "", "2026-10-25T12:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", 25 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storeWithHours(t, tt.hours)
			open, close, ok := s.OpeningOn(utc(tt.on))
			if tt.open == "" {
				if ok {
					t.Errorf("OpeningOn = %v..%v, want closed", open, close)
				}
				return
			}
			if !ok {
				t.Fatal("OpeningOn says closed, want open")
			}
			if !open.Equal(utc(tt.open)) || !close.Equal(utc(tt.close)) {
				t.Errorf("OpeningOn = %s..%s, want %s..%s", open.UTC().Format(time.RFC3339), close.UTC().Format(time.RFC3339), tt.open, tt.close)
			}
			if got := close.Sub(open); got != tt.length {
				t.Errorf("open for %v, want %v", got, tt.length)
			}
			if open.Location().String() != "Europe/Paris" {
				t.Errorf("opening time in %s, want the store's zone", open.Location())
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	b, err := configs.D(90 * time.Second).MarshalText()
	if err != nil || string(b) != "1m30s" {
		t.Errorf("MarshalText = %q, %v; want 1m30s", b, err)
	}
	var d configs.Duration
	if err := d.UnmarshalText([]byte("250ms")); err != nil || d.Duration != 250*time.Millisecond {
		t.Errorf("UnmarshalText(250ms) = %v, %v", d.Duration, err)
	}
}

func TestDeviceOptionDefaults(t *testing.T) {
	src := strings.Replace(baseConfig, "[[signage.slides]]", `[[devices]]
name = "beams"
kind = "ir_beams"
door = "main"
beam_a_pin = "GPIO17"
beam_b_pin = "GPIO27"

[[devices]]
name = "scanner"
kind = "serial_scanner"
lane = "1"
port = "/dev/ttyACM0"

[[devices]]
name = "wiegand"
kind = "wiegand"
lane = "1"
d0_pin = "GPIO5"
d1_pin = "GPIO6"

[[devices]]
name = "card-wedge"
kind = "wedge_rfid"
lane = "1"
input = "/dev/input/event4"

[[signage.slides]]`, 1)
	c, err := configs.Parse("defaults.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dev := func(name string) configs.Device { d, _ := c.Device(name); return d }
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"rdm6300 debounce", dev("entrance-rfid").Debounce.Duration, 1500 * time.Millisecond},
		{"beams debounce", dev("beams").Debounce.Duration, 20 * time.Millisecond},
		{"beams broken_level", dev("beams").BrokenLevel, "high"},
		{"beams obstructed_after", dev("beams").ObstructedAfter.Duration, 10 * time.Second},
		{"beams max_transit", dev("beams").MaxTransit.Duration, 2 * time.Second},
		{"scanner terminator", dev("scanner").Terminator, "line"},
		{"scanner idle_gap", dev("scanner").IdleGap.Duration, 80 * time.Millisecond},
		{"wiegand frame_gap", dev("wiegand").FrameGap.Duration, 25 * time.Millisecond},
		{"wedge number_format", dev("card-wedge").NumberFormat, "decimal"},
		{"counter in_register", dev("door-counter").InRegister, "in"},
		{"counter out_register", dev("door-counter").OutRegister, "out"},
		{"coupon prefixes", strings.Join(c.Barcodes.CouponPrefixes, ","), "99,981,982,983,984,05"},
		{"coupon AIs", strings.Join(c.Barcodes.CouponAIs, ","), "255,8110,8112"},
		{"loyalty AIs", strings.Join(c.Barcodes.LoyaltyAIs, ","), "8018"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseHQPostgres(t *testing.T) {
	c, err := configs.ParseHQ("hq.toml", []byte(`
[broker]
url = "tcp://127.0.0.1:1883"
client_id = "hq-1"
tenant = "acme"
[sink]
kind = "postgres"
dsn = "postgres://redcarpet@127.0.0.1:5432/redcarpet"
[downlink]
retention = 5000
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.DSN == "" || c.Downlink.Retention != 5000 || c.Downlink.PageSize != 500 {
		t.Errorf("postgres config %+v", c)
	}
}

// TestTrafficClock checks the times of day handed to the engine.
func TestTrafficClock(t *testing.T) {
	for _, tt := range []struct {
		dayStart, closing string
		start, reset      time.Duration
	}{
		{"", "", 0, 0},
		{"04:00", "01:00", 4 * time.Hour, time.Hour},
		{"00:00", "21:30", 0, 21*time.Hour + 30*time.Minute},
		{"06:15", "00:00", 6*time.Hour + 15*time.Minute, 24 * time.Hour},
		{"00:00", "24:00", 0, 24 * time.Hour},
	} {
		src := strings.Replace(baseConfig, `timezone = "Europe/Paris"`, fmt.Sprintf("timezone = \"Europe/Paris\"\nday_start = %q", tt.dayStart), 1)
		src = strings.Replace(src, `interval = "15m"`, fmt.Sprintf("interval = \"15m\"\nclosing_reset = %q", tt.closing), 1)
		if tt.dayStart == "" {
			src = strings.Replace(src, "day_start = \"\"\n", "", 1)
		}
		c, err := configs.Parse("clock.toml", []byte(src))
		if err != nil {
			t.Fatalf("day_start %q closing_reset %q: %v", tt.dayStart, tt.closing, err)
		}
		if got := c.Store.DayStartOffset(); got != tt.start {
			t.Errorf("day_start %q: offset %s, want %s", tt.dayStart, got, tt.start)
		}
		if got := c.Footfall.ClosingOffset(); got != tt.reset {
			t.Errorf("closing_reset %q: offset %s, want %s", tt.closing, got, tt.reset)
		}
	}
}
