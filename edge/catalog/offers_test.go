package catalog

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// offerCSV returns a CSV file of one valid offer with some columns changed.
func offerCSV(cols map[string]string) string {
	base := map[string]string{
		"id": "O1", "title": "Butter", "channels": "signage",
		"valid_from": "2026-11-01", "valid_to": "2026-11-30",
	}
	for k, v := range cols {
		base[k] = v
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(offerColumns)
	row := make([]string, len(offerColumns))
	for i, c := range offerColumns {
		row[i] = base[c]
	}
	w.Write(row)
	w.Flush()
	return b.String()
}

type offerCase struct {
	name   string
	in     string // a CSV column=value pair, or a JSON line
	field  string
	reason string // in the reason; field and reason empty: the line is good
	check  func(*testing.T, edge.Offer)
}

func runOfferCases(t *testing.T, f Format, cases []offerCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if f == FormatCSV {
				col, val, _ := strings.Cut(tt.in, "=")
				in = offerCSV(map[string]string{col: val})
			}
			g := offers(f, in)
			if g.err != nil {
				t.Fatalf("fatal: %v", g.err)
			}
			if tt.field == "" && tt.reason == "" {
				if len(g.bad) > 0 {
					t.Fatalf("bad: %v", g.bad[0])
				}
				if tt.check != nil {
					tt.check(t, g.good[0])
				}
				return
			}
			if len(g.bad) != 1 {
				t.Fatalf("line accepted: %s", showOffer(g.good[0]))
			}
			if le := g.bad[0]; le.Field != tt.field || !strings.Contains(le.Err.Error(), tt.reason) {
				t.Errorf("got %q; want field %q with %q", le.Reason(), tt.field, tt.reason)
			}
		})
	}
}

func window(from, to time.Time) func(*testing.T, edge.Offer) {
	return func(t *testing.T, o edge.Offer) {
		if !o.ValidFrom.Equal(from) || !o.ValidTo.Equal(to) {
			t.Errorf("window [%v, %v), want [%v, %v)", o.ValidFrom, o.ValidTo, from, to)
		}
	}
}

func TestOfferCSV(t *testing.T) {
	runOfferCases(t, FormatCSV, []offerCase{
		{name: "minimal", in: "body=", check: func(t *testing.T, o edge.Offer) {
			want := edge.Offer{ID: "O1", Title: "Butter", Channels: []edge.Channel{edge.ChannelSignage},
				ValidFrom: date(2026, 11, 1), ValidTo: date(2026, 12, 1)}
			if showOffer(o) != showOffer(want) {
				t.Errorf("got  %s\nwant %s", showOffer(o), showOffer(want))
			}
		}},
		{name: "id missing", in: "id=", field: "id", reason: "is required"},
		{name: "id space", in: "id=O 1", field: "id", reason: "white space"},
		{name: "title missing", in: "title= ", field: "title", reason: "is required"},
		{name: "title new line", in: "title=Butter\n-20 %", field: "title", reason: "control"},
		{name: "title long", in: "title=" + strings.Repeat("t", 201), field: "title", reason: "longer than 200"},
		{name: "body lines", in: "body=Normandy butter\n250 g\tonly", check: func(t *testing.T, o edge.Offer) {
			if o.Body != "Normandy butter\n250 g\tonly" {
				t.Errorf("body %q", o.Body)
			}
		}},
		{name: "body control", in: "body=a\x1b[31mred", field: "body", reason: "control"},
		{name: "body long", in: "body=" + strings.Repeat("b", 2001), field: "body", reason: "longer than 2000"},
		{name: "channels missing", in: "channels=", field: "channels", reason: "is required"},
		{name: "channels only separators", in: "channels=; ;", field: "channels", reason: "is required"},
		{name: "channel unknown", in: "channels=signage;email", field: "channels", reason: `"email" is not one of signage, checkout`},
		{name: "channels case and repeats", in: "channels=Checkout; SIGNAGE;checkout", check: func(t *testing.T, o edge.Offer) {
			if !reflect.DeepEqual(o.Channels, []edge.Channel{edge.ChannelCheckout, edge.ChannelSignage}) {
				t.Errorf("channels %v", o.Channels)
			}
		}},
		{name: "segments", in: "segments=students;;young families;students;", check: func(t *testing.T, o edge.Offer) {
			if !reflect.DeepEqual(o.Segments, []string{"students", "young families"}) {
				t.Errorf("segments %q", o.Segments)
			}
		}},
		{name: "segment long", in: "segments=a;" + strings.Repeat("s", 65), field: "segments", reason: "item 2 is longer than 64"},
		{name: "stages", in: "stages=Active;lapsing;active", check: func(t *testing.T, o edge.Offer) {
			if !reflect.DeepEqual(o.Stages, []edge.Stage{edge.StageActive, edge.StageLapsing}) {
				t.Errorf("stages %q", o.Stages)
			}
		}},
		{name: "stage unknown", in: "stages=active;vip", field: "stages", reason: `"vip" is not one of`},
		{name: "categories", in: "categories=dairy;cheese", check: func(t *testing.T, o edge.Offer) {
			if !reflect.DeepEqual(o.Categories, []string{"dairy", "cheese"}) {
				t.Errorf("categories %q", o.Categories)
			}
		}},
		{name: "category control", in: "categories=da\x01iry", field: "categories", reason: "control"},
		{name: "valid_from missing", in: "valid_from=", field: "valid_from", reason: "is required"},
		{name: "valid_to missing", in: "valid_to=", field: "valid_to", reason: "is required"},
		{name: "valid_from slashes", in: "valid_from=01/11/2026", field: "valid_from", reason: "is not a date"},
		{name: "valid_from no zone", in: "valid_from=2026-11-01T08:00:00", field: "valid_from", reason: "RFC 3339"},
		{name: "valid_to year 9999", in: "valid_to=9999-12-31", field: "valid_to", reason: "year 10000 is outside"},
		{name: "valid_to before", in: "valid_to=2026-10-31", field: "valid_to", reason: "is not after valid_from"},
		{name: "valid_to rfc3339 equal", in: "valid_to=2026-11-01T00:00:00+01:00", field: "valid_to", reason: "is not after valid_from"},
		{name: "one day", in: "valid_to=2026-11-01", check: window(date(2026, 11, 1), date(2026, 11, 2))},
		{name: "rfc3339", in: "valid_to=2026-11-01T20:30:00Z", check: window(date(2026, 11, 1), time.Date(2026, 11, 1, 20, 30, 0, 0, time.UTC))},
		{name: "rfc3339 fraction", in: "valid_to=2026-11-01T20:30:00.5+01:00", check: window(date(2026, 11, 1), time.Date(2026, 11, 1, 19, 30, 0, 5e8, time.UTC))},
		{name: "discount", in: "discount_pct=12.5", check: func(t *testing.T, o edge.Offer) {
			if o.DiscountPct != 12.5 {
				t.Errorf("discount %v", o.DiscountPct)
			}
		}},
		{name: "discount percent sign", in: "discount_pct=20%", check: func(t *testing.T, o edge.Offer) {
			if o.DiscountPct != 20 {
				t.Errorf("discount %v", o.DiscountPct)
			}
		}},
		{name: "discount 100", in: "discount_pct=100"},
		{name: "discount above", in: "discount_pct=100.01", field: "discount_pct", reason: "outside 0..100"},
		{name: "discount negative", in: "discount_pct=-5", field: "discount_pct", reason: "outside 0..100"},
		{name: "discount comma", in: "discount_pct=12,5", field: "discount_pct", reason: "decimal separator"},
		{name: "discount NaN", in: "discount_pct=NaN", field: "discount_pct", reason: "not a number"},
		{name: "cap", in: "cap_per_member=3", check: func(t *testing.T, o edge.Offer) {
			if o.CapPerMember != 3 {
				t.Errorf("cap %v", o.CapPerMember)
			}
		}},
		{name: "cap zero", in: "cap_per_member=0"},
		{name: "cap negative", in: "cap_per_member=-1", field: "cap_per_member", reason: "outside 0.."},
		{name: "cap fraction", in: "cap_per_member=1.5", field: "cap_per_member", reason: "not a whole number"},
	})
}

// TestOfferDates: dates are local days in the store's zone, DST included.
func TestOfferDates(t *testing.T) {
	// 25 October 2026: Paris falls back from +02:00 to +01:00.
	g := offers(FormatCSV, offerCSV(map[string]string{"valid_from": "2026-10-25", "valid_to": "2026-10-25"}))
	if len(g.good) != 1 {
		t.Fatalf("bad: %v", g.bad)
	}
	o := g.good[0]
	if want := time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC); !o.ValidFrom.Equal(want) {
		t.Errorf("from %v, want %v", o.ValidFrom, want)
	}
	if want := time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC); !o.ValidTo.Equal(want) {
		t.Errorf("to %v, want %v (the next local midnight)", o.ValidTo, want)
	}
	if d := o.ValidTo.Sub(o.ValidFrom); d != 25*time.Hour {
		t.Errorf("the day lasts %v, want 25h", d)
	}
	if !o.ValidAt(time.Date(2026, 10, 25, 23, 59, 0, 0, paris)) || o.ValidAt(time.Date(2026, 10, 26, 0, 0, 0, 0, paris)) {
		t.Error("valid_to as a date must include the whole day and nothing after")
	}
}

func TestOfferJSON(t *testing.T) {
	base := `"id":"O1","title":"Butter","channels":["signage"],"valid_from":"2026-11-01","valid_to":"2026-11-30"`
	runOfferCases(t, FormatJSONL, []offerCase{
		{name: "full", in: `{"id":"O1","title":"Butter -20 %","body":"Normandy\nbutter","channels":["signage","Checkout"],` +
			`"segments":["students"],"stages":["active"],"categories":["dairy"],"valid_from":"2026-11-01T08:00:00+01:00",` +
			`"valid_to":"2026-11-30","discount_pct":20,"cap_per_member":1}`,
			check: func(t *testing.T, o edge.Offer) {
				want := edge.Offer{ID: "O1", Title: "Butter -20 %", Body: "Normandy\nbutter",
					Channels: []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout}, Segments: []string{"students"},
					Stages: []edge.Stage{edge.StageActive}, Categories: []string{"dairy"},
					ValidFrom: time.Date(2026, 11, 1, 8, 0, 0, 0, time.FixedZone("", 3600)), ValidTo: date(2026, 12, 1),
					DiscountPct: 20, CapPerMember: 1}
				if showOffer(o) != showOffer(want) {
					t.Errorf("got  %s\nwant %s", showOffer(o), showOffer(want))
				}
			}},
		{name: "minimal", in: "{" + base + "}"},
		{name: "unknown field", in: "{" + base + `,"priority":1}`, field: "priority", reason: "unknown field"},
		{name: "channels a string", in: `{"id":"O1","title":"B","channels":"signage","valid_from":"2026-11-01","valid_to":"2026-11-30"}`, field: "channels", reason: "want an array, got string"},
		{name: "channels empty", in: `{"id":"O1","title":"B","channels":[],"valid_from":"2026-11-01","valid_to":"2026-11-30"}`, field: "channels", reason: "is required"},
		{name: "channel empty", in: `{"id":"O1","title":"B","channels":[""],"valid_from":"2026-11-01","valid_to":"2026-11-30"}`, field: "channels", reason: "is not one of"},
		{name: "segment empty", in: "{" + base + `,"segments":["a",""]}`, field: "segments", reason: "item 2 is empty"},
		{name: "stage empty", in: "{" + base + `,"stages":[""]}`, field: "stages", reason: "empty"},
		{name: "discount a string", in: "{" + base + `,"discount_pct":"20"}`, field: "discount_pct", reason: "want a number, got string"},
		{name: "discount above", in: "{" + base + `,"discount_pct":101}`, field: "discount_pct", reason: "outside"},
		{name: "cap fraction", in: "{" + base + `,"cap_per_member":1.5}`, field: "cap_per_member", reason: "want a whole number"},
		{name: "cap negative", in: "{" + base + `,"cap_per_member":-2}`, field: "cap_per_member", reason: "outside"},
		{name: "valid_from a number", in: `{"id":"O1","title":"B","channels":["signage"],"valid_from":20261101,"valid_to":"2026-11-30"}`, field: "valid_from", reason: "want a string"},
		{name: "no title", in: `{"id":"O1","channels":["signage"],"valid_from":"2026-11-01","valid_to":"2026-11-30"}`, field: "title", reason: "is required"},
	})
}

func TestOfferRepeats(t *testing.T) {
	in := `{"id":"O1","title":"B","channels":["signage"],"valid_from":"2026-11-01","valid_to":"2026-11-30"}` + "\n" +
		`{"id":"O1","title":"again","channels":["signage"],"valid_from":"2026-11-01","valid_to":"2026-11-30"}` + "\n"
	g := offers(FormatJSONL, in)
	if len(g.bad) != 1 || g.bad[0].Error() != "line 2: id: is already on line 1" {
		t.Errorf("bad: %v", g.bad)
	}
}

// TestJSONTypeErrorsHideValues: a value of the wrong type is described by
// its kind only.
func TestJSONTypeErrorsHideValues(t *testing.T) {
	g := offers(FormatJSONL, `{"id":"O1","title":"T","channels":["signage"],"valid_from":"2026-11-01","valid_to":"2026-11-30","cap_per_member":123456789012345678901234567890}`)
	if len(g.bad) != 1 || strings.Contains(g.bad[0].Error(), "1234") {
		t.Errorf("bad: %v", g.bad)
	}
}
