package catalog

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// memberCSV returns a CSV file of one member with the given columns set
// (id defaults to M1).
func memberCSV(cols map[string]string) string {
	if _, ok := cols["id"]; !ok {
		cols["id"] = "M1"
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(memberColumns)
	row := make([]string, len(memberColumns))
	for i, c := range memberColumns {
		row[i] = cols[c]
	}
	w.Write(row)
	w.Flush()
	return b.String()
}

type memberCase struct {
	name   string
	in     string // a CSV column=value pair, or a JSON line
	field  string // "" when the line is good
	reason string // in the reason
	check  func(*testing.T, edge.MemberRecord)
}

func runMemberCases(t *testing.T, f Format, cases []memberCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if f == FormatCSV {
				col, val, _ := strings.Cut(tt.in, "=")
				in = memberCSV(map[string]string{col: val})
			}
			g := members(f, in)
			if g.err != nil {
				t.Fatalf("fatal: %v", g.err)
			}
			if g.res.Lines != 1 {
				t.Fatalf("%d lines", g.res.Lines)
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
				t.Fatalf("line accepted: %s", showMember(g.good[0]))
			}
			le := g.bad[0]
			if le.Line != 2 && f == FormatCSV || le.Line != 1 && f == FormatJSONL {
				t.Errorf("line %d", le.Line)
			}
			if le.Field != tt.field || !strings.Contains(le.Err.Error(), tt.reason) {
				t.Errorf("got %q; want field %q with %q", le.Reason(), tt.field, tt.reason)
			}
			// Identifiers are never echoed.
			if tt.field == "cards" || strings.HasSuffix(tt.field, "barcode") || tt.field == "first_name" {
				_, val, _ := strings.Cut(tt.in, "=")
				if f == FormatCSV && len(val) > 2 && strings.Contains(le.Error(), val) {
					t.Errorf("reason %q quotes the value", le)
				}
			}
		})
	}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, paris) }

func TestMemberCSV(t *testing.T) {
	long := strings.Repeat("a", 65)
	runMemberCases(t, FormatCSV, []memberCase{
		{name: "minimal", in: "tier=", check: func(t *testing.T, r edge.MemberRecord) {
			want := edge.MemberRecord{Member: edge.Member{ID: "M1"}}
			if !reflect.DeepEqual(r, want) {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "id missing", in: "id=", field: "id", reason: "is required"},
		{name: "id blank", in: "id=   ", field: "id", reason: "is required"},
		{name: "id trimmed", in: "id= M 1", field: "id", reason: "white space"},
		{name: "id with tab", in: "id=M\t1", field: "id", reason: "white space"},
		{name: "id control", in: "id=M\x071", field: "id", reason: "control"},
		{name: "id nbsp", in: "id=M\u00a01", field: "id", reason: "white space"},
		{name: "id zero width", in: "id=M\u200b1", field: "id", reason: "control"},
		{name: "id too long", in: "id=" + long, field: "id", reason: "longer than 64"},
		{name: "id 64 bytes", in: "id=" + long[1:]},
		{name: "id unicode", in: "id=Zoé-42"},
		{name: "id bad utf-8", in: "id=M\xff", field: "id", reason: "UTF-8"},
		{name: "first_name", in: "first_name=Anne-Sophie Léa", check: func(t *testing.T, r edge.MemberRecord) {
			if r.Member.FirstName != "Anne-Sophie Léa" {
				t.Errorf("first name %q", r.Member.FirstName)
			}
		}},
		{name: "first_name control", in: "first_name=An\x1bna", field: "first_name", reason: "control"},
		{name: "first_name new line", in: "first_name=An\nna", field: "first_name", reason: "control"},
		{name: "first_name bad utf-8", in: "first_name=An\xc3", field: "first_name", reason: "UTF-8"},
		{name: "first_name long", in: "first_name=" + long, field: "first_name", reason: "longer"},
		{name: "tier long", in: "tier=" + long, field: "tier", reason: "longer than 64"},
		{name: "segment control", in: "segment=a\x00b", field: "segment", reason: "control"},
		{name: "stage", in: "stage=lapsing", check: stageIs(edge.StageLapsing)},
		{name: "stage any case", in: "stage= Churned ", check: stageIs(edge.StageChurned)},
		{name: "stage unknown", in: "stage=vip", field: "stage", reason: `"vip" is not one of new, active, lapsing, churned`},
		{name: "greet yes", in: "greet_by_name=yes", check: greetIs(true)},
		{name: "greet TRUE", in: "greet_by_name=TRUE", check: greetIs(true)},
		{name: "greet 1", in: "greet_by_name=1", check: greetIs(true)},
		{name: "greet no", in: "greet_by_name=no", check: greetIs(false)},
		{name: "greet 0", in: "greet_by_name=0", check: greetIs(false)},
		{name: "greet False", in: "greet_by_name=False", check: greetIs(false)},
		{name: "greet empty", in: "greet_by_name=", check: greetIs(false)},
		{name: "greet maybe", in: "greet_by_name=maybe", field: "greet_by_name", reason: "not true, false"},
		{name: "staff yes", in: "staff=yes", check: staffIs(true)},
		{name: "staff TRUE", in: "staff= TRUE ", check: staffIs(true)},
		{name: "staff 1", in: "staff=1", check: staffIs(true)},
		{name: "staff no", in: "staff=No", check: staffIs(false)},
		{name: "staff 0", in: "staff=0", check: staffIs(false)},
		{name: "staff empty", in: "staff=", check: staffIs(false)},
		{name: "staff maybe", in: "staff=employee", field: "staff", reason: `"employee" is not true, false, yes, no, 1 or 0`},
		{name: "affinity", in: "affinity= dairy=0.4; bakery = 0.25 ;wine=1;fruit=0;", check: func(t *testing.T, r edge.MemberRecord) {
			want := map[string]float64{"dairy": 0.4, "bakery": 0.25, "wine": 1, "fruit": 0}
			if !reflect.DeepEqual(r.Member.Affinity, want) {
				t.Errorf("affinity %v", r.Member.Affinity)
			}
		}},
		{name: "affinity category with space", in: "affinity=fresh produce=0.3"},
		{name: "affinity no share", in: "affinity=dairy", field: "affinity", reason: "item 1 is not category=share"},
		{name: "affinity not a number", in: "affinity=dairy=lots", field: "affinity", reason: `"dairy": "lots" is not a number`},
		{name: "affinity comma", in: "affinity=dairy=0,4", field: "affinity", reason: "decimal separator"},
		{name: "affinity NaN", in: "affinity=dairy=NaN", field: "affinity", reason: "not a number"},
		{name: "affinity Inf", in: "affinity=dairy=+Inf", field: "affinity", reason: "not a number"},
		{name: "affinity above 1", in: "affinity=dairy=1.01", field: "affinity", reason: "1.01 is outside 0..1"},
		{name: "affinity negative", in: "affinity=dairy=-0.1", field: "affinity", reason: "outside 0..1"},
		{name: "affinity twice", in: "affinity=dairy=0.1;dairy=0.2", field: "affinity", reason: `"dairy" is given twice`},
		{name: "affinity no category", in: "affinity=bakery=0.1;=0.3", field: "affinity", reason: "category 2 is empty"},
		{name: "cycles", in: "cycles=dairy=6.5@2026-11-10#12;wine=14@2026-10-30T18:20:00+01:00", check: func(t *testing.T, r edge.MemberRecord) {
			d, w := r.Member.Cycles["dairy"], r.Member.Cycles["wine"]
			if d.MeanDays != 6.5 || !d.Last.Equal(date(2026, 11, 10)) || d.Count != 12 {
				t.Errorf("dairy %+v", d)
			}
			if w.MeanDays != 14 || !w.Last.Equal(time.Date(2026, 10, 30, 17, 20, 0, 0, time.UTC)) || w.Count != 0 {
				t.Errorf("wine %+v", w)
			}
		}},
		{name: "cycles date is local midnight", in: "cycles=dairy=7@2026-07-01", check: func(t *testing.T, r edge.MemberRecord) {
			if got := r.Member.Cycles["dairy"].Last; !got.Equal(time.Date(2026, 6, 30, 22, 0, 0, 0, time.UTC)) {
				t.Errorf("last %v, want midnight in Paris (22:00 UTC)", got)
			}
		}},
		{name: "cycles no date", in: "cycles=dairy=6.5", field: "cycles", reason: `"dairy": is not category=mean_days@last`},
		{name: "cycles no equals", in: "cycles=dairy", field: "cycles", reason: "item 1 is not"},
		{name: "cycles empty date", in: "cycles=dairy=6.5@", field: "cycles", reason: "last is required"},
		{name: "cycles bad date", in: "cycles=dairy=6.5@2026-13-01", field: "cycles", reason: "is not a date"},
		{name: "cycles 30 february", in: "cycles=dairy=6.5@2026-02-30", field: "cycles", reason: "is not a date"},
		{name: "cycles old date", in: "cycles=dairy=6.5@1960-01-01", field: "cycles", reason: "year 1960 is outside"},
		{name: "cycles time without zone", in: "cycles=dairy=6.5@2026-11-10T08:00:00", field: "cycles", reason: "is not a date"},
		{name: "cycles mean not a number", in: "cycles=dairy=often@2026-11-10", field: "cycles", reason: "mean_days"},
		{name: "cycles negative mean", in: "cycles=dairy=-1@2026-11-10", field: "cycles", reason: "mean_days -1 is outside"},
		{name: "cycles zero mean", in: "cycles=dairy=0@2026-11-10", field: "cycles", reason: "mean_days 0 is outside"},
		{name: "cycles huge mean", in: "cycles=dairy=4000@2026-11-10", field: "cycles", reason: "outside"},
		{name: "cycles bad count", in: "cycles=dairy=6@2026-11-10#x", field: "cycles", reason: "count"},
		{name: "cycles negative count", in: "cycles=dairy=6@2026-11-10#-1", field: "cycles", reason: "count -1 is outside"},
		{name: "cycles twice", in: "cycles=dairy=6@2026-11-10;dairy=7@2026-11-10", field: "cycles", reason: "twice"},
		{name: "matrix", in: "matrix= dairy=switcher/heavy; bakery = Store/Light ;fresh produce=NATIONAL/MEDIUM;", check: matrixIs(map[string]edge.Cell{
			"dairy":         {Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy},
			"bakery":        {Loyalty: edge.LoyalStore, Usage: edge.UsageLight},
			"fresh produce": {Loyalty: edge.LoyalNational, Usage: edge.UsageMedium},
		})},
		{name: "matrix empty", in: "matrix= ; ", check: matrixIs(nil)},
		{name: "matrix no cell", in: "matrix=dairy", field: "matrix", reason: "item 1 is not category=cell"},
		{name: "matrix empty cell", in: "matrix=dairy=", field: "matrix", reason: `"dairy": "" is not a segment-matrix cell`},
		{name: "matrix unknown loyalty", in: "matrix=dairy=loyal/heavy", field: "matrix", reason: `"dairy": "loyal/heavy" is not a segment-matrix cell`},
		{name: "matrix unknown usage", in: "matrix=dairy=store/huge", field: "matrix", reason: "not a segment-matrix cell"},
		{name: "matrix no usage", in: "matrix=dairy=store", field: "matrix", reason: "not a segment-matrix cell"},
		{name: "matrix reversed", in: "matrix=dairy=heavy/switcher", field: "matrix", reason: "not a segment-matrix cell"},
		{name: "matrix segment name", in: "matrix=dairy=switcher-heavy", field: "matrix", reason: "not a segment-matrix cell"},
		{name: "matrix spaces in cell", in: "matrix=dairy=switcher / heavy", field: "matrix", reason: "not a segment-matrix cell"},
		{name: "matrix extra part", in: "matrix=dairy=store/light/x", field: "matrix", reason: "not a segment-matrix cell"},
		{name: "matrix no category", in: "matrix=bakery=store/light;=switcher/heavy", field: "matrix", reason: "category 2 is empty"},
		{name: "matrix category control", in: "matrix=dai\x01ry=store/light", field: "matrix", reason: "category 1 contains a control character"},
		{name: "matrix category long", in: "matrix=" + long + "=store/light", field: "matrix", reason: "category 1 is longer than 64"},
		{name: "matrix twice", in: "matrix=dairy=store/light;dairy=store/heavy", field: "matrix", reason: `"dairy" is given twice`},
		{name: "cards", in: "cards=04:a2:2b:1c; 04-11-22-33-44-55-66 ;04 99 88 77 66 55 44 33 22 11;04A22B1C;", check: func(t *testing.T, r edge.MemberRecord) {
			want := [][]byte{{4, 0xa2, 0x2b, 0x1c}, {4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}, {4, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}}
			if !reflect.DeepEqual(r.Cards, want) {
				t.Errorf("cards %x", r.Cards)
			}
		}},
		{name: "card 2 bytes", in: "cards=04:A2", field: "cards", reason: "card 1 is 2 bytes; a card id has 3 to 10 bytes"},
		{name: "card 11 bytes", in: "cards=04A22B1C5D04A22B1C5D11", field: "cards", reason: "longer than 10 bytes"},
		{name: "card odd", in: "cards=04A22B1C5", field: "cards", reason: "odd number"},
		{name: "card not hex", in: "cards=04:A2:2B:1G", field: "cards", reason: "card 1 is not hex"},
		{name: "card 0x", in: "cards=0x04A22B1C", field: "cards", reason: "not hex"},
		{name: "second card bad", in: "cards=04A22B1C;04A22B1C5", field: "cards", reason: "card 2"},
		{name: "too many cards", in: "cards=" + strings.Repeat("04A22B1C;", 33), field: "cards", reason: "at most 32"},
		{name: "loyalty ean", in: "loyalty_barcode=2900000123458", check: func(t *testing.T, r edge.MemberRecord) {
			if r.Loyalty != "2900000123458" {
				t.Errorf("loyalty %q", r.Loyalty)
			}
		}},
		{name: "loyalty ean wrong", in: "loyalty_barcode=2900000123459", field: "loyalty_barcode", reason: "wrong EAN-13 check digit"},
		{name: "loyalty short number", in: "loyalty_barcode=0012345"},
		{name: "loyalty 12 digits", in: "loyalty_barcode=290000012345"},
		{name: "loyalty code 128", in: "loyalty_barcode=RC-00042/A"},
		{name: "loyalty inner space", in: "loyalty_barcode=RC 42", field: "loyalty_barcode", reason: "without spaces"},
		{name: "loyalty non-ascii", in: "loyalty_barcode=RCé42", field: "loyalty_barcode", reason: "printable ASCII"},
		{name: "loyalty too long", in: "loyalty_barcode=" + strings.Repeat("9", 129), field: "loyalty_barcode", reason: "longer than 128"},
		{name: "list ean wrong", in: "list_barcode=4006381333932", field: "list_barcode", reason: "EAN-13"},
	})
}

func stageIs(s edge.Stage) func(*testing.T, edge.MemberRecord) {
	return func(t *testing.T, r edge.MemberRecord) {
		if r.Member.Stage != s {
			t.Errorf("stage %q, want %q", r.Member.Stage, s)
		}
	}
}

func greetIs(b bool) func(*testing.T, edge.MemberRecord) {
	return func(t *testing.T, r edge.MemberRecord) {
		if r.Member.GreetByName != b {
			t.Errorf("greet_by_name %v, want %v", r.Member.GreetByName, b)
		}
	}
}

func staffIs(b bool) func(*testing.T, edge.MemberRecord) {
	return func(t *testing.T, r edge.MemberRecord) {
		if r.Member.Staff != b {
			t.Errorf("staff %v, want %v", r.Member.Staff, b)
		}
	}
}

func matrixIs(want map[string]edge.Cell) func(*testing.T, edge.MemberRecord) {
	return func(t *testing.T, r edge.MemberRecord) {
		if !reflect.DeepEqual(r.Member.Matrix, want) {
			t.Errorf("matrix %v, want %v", r.Member.Matrix, want)
		}
	}
}

func TestMemberCSVPairs(t *testing.T) {
	g := members(FormatCSV, memberCSV(map[string]string{"loyalty_barcode": "RC-42", "list_barcode": "RC-42"}))
	if len(g.bad) != 1 || g.bad[0].Field != "list_barcode" || !strings.Contains(g.bad[0].Error(), "same as loyalty_barcode") {
		t.Errorf("same codes: %v", g.bad)
	}
}

// TestMemberTargeting: a bad matrix cell skips its line with the reason
// (wrapping edge.ErrBadCell) and the lines around it are read; staff and
// matrix reach the member's stored JSON, which is what HQ's downlink
// carries to stores.
func TestMemberTargeting(t *testing.T) {
	for _, tc := range []struct {
		f  Format
		in string
	}{
		{FormatCSV, "id,staff,matrix\n" +
			"M1,yes,\n" +
			"M2,no,dairy=switcher/heavy;bakery=store/hefty\n" +
			"M3,,Dairy=Switcher/Heavy\n"},
		{FormatJSONL, `{"id":"M1","staff":true}` + "\n" +
			`{"id":"M2","matrix":{"dairy":"switcher/heavy","bakery":"store/hefty"}}` + "\n" +
			`{"id":"M3","matrix":{"Dairy":"Switcher/Heavy"}}` + "\n"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			g := members(tc.f, tc.in)
			if g.err != nil || len(g.bad) != 1 || len(g.good) != 2 {
				t.Fatalf("err %v, bad %v, %d good", g.err, g.bad, len(g.good))
			}
			line := 3
			if tc.f == FormatJSONL {
				line = 2
			}
			le := g.bad[0]
			want := fmt.Sprintf(`line %d: matrix: "bakery": "store/hefty" is not a segment-matrix cell`, line)
			if !strings.HasPrefix(le.Error(), want) || !errors.Is(le, edge.ErrBadCell) {
				t.Errorf("got %q (ErrBadCell: %v), want %q…", le, errors.Is(le, edge.ErrBadCell), want)
			}
			for i, want := range []string{
				`{"id":"M1","greet_by_name":false,"staff":true}`,
				`{"id":"M3","greet_by_name":false,"matrix":{"Dairy":{"loyalty":"switcher","usage":"heavy"}}}`,
			} {
				b, err := json.Marshal(g.good[i].Member)
				if err != nil || string(b) != want {
					t.Errorf("stored %s, %v; want %s", b, err, want)
				}
			}
		})
	}
}

func TestMemberJSON(t *testing.T) {
	runMemberCases(t, FormatJSONL, []memberCase{
		{name: "full", in: `{"id":"M1","first_name":"Anna","tier":"gold","segment":"families","stage":"Active","greet_by_name":true,` +
			`"staff":true,"affinity":{"dairy":0.4,"bakery":0.25},"cycles":{"dairy":{"mean_days":6.5,"last":"2026-11-10","count":12},` +
			`"wine":{"mean_days":14,"last":"2026-10-30T18:20:00+01:00"}},"cards":["04:A2:2B:1C","04112233445566"],` +
			`"matrix":{"dairy":"switcher/heavy","wine":"Store/Light"},"loyalty_barcode":"2900000123458","list_barcode":"L-1"}`,
			check: func(t *testing.T, r edge.MemberRecord) {
				want := edge.MemberRecord{
					Member: edge.Member{ID: "M1", FirstName: "Anna", Tier: "gold", Segment: "families", Stage: edge.StageActive,
						GreetByName: true, Staff: true, Affinity: map[string]float64{"dairy": 0.4, "bakery": 0.25},
						Cycles: map[string]edge.Cycle{
							"dairy": {MeanDays: 6.5, Last: date(2026, 11, 10), Count: 12},
							"wine":  {MeanDays: 14, Last: time.Date(2026, 10, 30, 18, 20, 0, 0, time.FixedZone("", 3600))},
						},
						Matrix: map[string]edge.Cell{
							"dairy": {Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy},
							"wine":  {Loyalty: edge.LoyalStore, Usage: edge.UsageLight},
						}},
					Cards:   [][]byte{{4, 0xa2, 0x2b, 0x1c}, {4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}},
					Loyalty: "2900000123458", List: "L-1",
				}
				if showMember(r) != showMember(want) {
					t.Errorf("got  %s\nwant %s", showMember(r), showMember(want))
				}
			}},
		{name: "nulls", in: `{"id":"M1","tier":null,"staff":null,"affinity":null,"cycles":null,"matrix":null,"cards":null}`},
		{name: "id trimmed", in: `{"id":" M1 "}`, check: func(t *testing.T, r edge.MemberRecord) {
			if r.Member.ID != "M1" {
				t.Errorf("id %q", r.Member.ID)
			}
		}},
		{name: "unknown field", in: `{"id":"M1","email":"a@b.c"}`, field: "email", reason: "unknown field"},
		{name: "unknown cycle field", in: `{"id":"M1","cycles":{"dairy":{"mean_days":6,"last":"2026-11-10","median":5}}}`, field: "median", reason: "unknown field"},
		{name: "id a number", in: `{"id":42}`, field: "id", reason: "want a string, got number"},
		{name: "no id", in: `{"tier":"gold"}`, field: "id", reason: "is required"},
		{name: "null line", in: `null`, field: "id", reason: "is required"},
		{name: "greet a string", in: `{"id":"M1","greet_by_name":"yes"}`, field: "greet_by_name", reason: "want true or false, got string"},
		{name: "staff false", in: `{"id":"M1","staff":false}`, check: staffIs(false)},
		{name: "staff a string", in: `{"id":"M1","staff":"yes"}`, field: "staff", reason: "want true or false, got string"},
		{name: "staff a number", in: `{"id":"M1","staff":1}`, field: "staff", reason: "want true or false, got number"},
		{name: "matrix trimmed", in: `{"id":"M1","matrix":{" dairy ":" NATIONAL/medium "}}`,
			check: matrixIs(map[string]edge.Cell{"dairy": {Loyalty: edge.LoyalNational, Usage: edge.UsageMedium}})},
		{name: "matrix empty object", in: `{"id":"M1","matrix":{}}`, check: matrixIs(nil)},
		{name: "matrix a string", in: `{"id":"M1","matrix":"dairy=store/light"}`, field: "matrix", reason: "want an object, got string"},
		{name: "matrix a cell object", in: `{"id":"M1","matrix":{"dairy":{"loyalty":"store","usage":"light"}}}`, field: "matrix", reason: "want a string, got object"},
		{name: "matrix a number", in: `{"id":"M1","matrix":{"dairy":1}}`, field: "matrix", reason: "want a string, got number"},
		{name: "matrix null cell", in: `{"id":"M1","matrix":{"dairy":null}}`, field: "matrix", reason: `"dairy": "" is not a segment-matrix cell`},
		{name: "matrix bad cell", in: `{"id":"M1","matrix":{"bakery":"store/light","dairy":"switcher/huge"}}`, field: "matrix", reason: `"dairy": "switcher/huge" is not a segment-matrix cell`},
		{name: "matrix empty category", in: `{"id":"M1","matrix":{" ":"store/light"}}`, field: "matrix", reason: "category 1 is empty"},
		{name: "matrix category twice", in: `{"id":"M1","matrix":{"dairy":"store/light","dairy ":"store/heavy"}}`, field: "matrix", reason: `"dairy" is given twice`},
		{name: "affinity a list", in: `{"id":"M1","affinity":["dairy"]}`, field: "affinity", reason: "want an object, got array"},
		{name: "affinity a string value", in: `{"id":"M1","affinity":{"dairy":"0.4"}}`, field: "affinity", reason: "want a number, got string"},
		{name: "affinity out of range", in: `{"id":"M1","affinity":{"dairy":2}}`, field: "affinity", reason: "2 is outside 0..1"},
		{name: "affinity empty category", in: `{"id":"M1","affinity":{" ":0.2}}`, field: "affinity", reason: "is empty"},
		{name: "cycle without mean", in: `{"id":"M1","cycles":{"dairy":{"last":"2026-11-10"}}}`, field: "cycles", reason: `"dairy": mean_days is required`},
		{name: "cycle without last", in: `{"id":"M1","cycles":{"dairy":{"mean_days":6}}}`, field: "cycles", reason: "last is required"},
		{name: "cycle negative mean", in: `{"id":"M1","cycles":{"dairy":{"mean_days":-6,"last":"2026-11-10"}}}`, field: "cycles", reason: "outside"},
		{name: "cycle fractional count", in: `{"id":"M1","cycles":{"dairy":{"mean_days":6,"last":"2026-11-10","count":1.5}}}`, field: "cycles.count", reason: "want a whole number"},
		{name: "cycle bad date", in: `{"id":"M1","cycles":{"dairy":{"mean_days":6,"last":"10/11/2026"}}}`, field: "cycles", reason: "is not a date"},
		{name: "cards a string", in: `{"id":"M1","cards":"04A22B1C"}`, field: "cards", reason: "want an array, got string"},
		{name: "card a number", in: `{"id":"M1","cards":[1234]}`, field: "cards", reason: "want a string, got number"},
		{name: "card empty", in: `{"id":"M1","cards":[""]}`, field: "cards", reason: "card 1 is empty"},
		{name: "card bad hex", in: `{"id":"M1","cards":["04A22B1C","zz"]}`, field: "cards", reason: "card 2 is not hex"},
		{name: "barcode a number", in: `{"id":"M1","loyalty_barcode":2900000123458}`, field: "loyalty_barcode", reason: "want a string"},
		{name: "barcode ean", in: `{"id":"M1","list_barcode":"2900000123450"}`, field: "list_barcode", reason: "EAN-13"},
		{name: "array", in: `[{"id":"M1"}]`, reason: "want a JSON object, got array"},
		{name: "string", in: `"M1"`, reason: "want a JSON object, got string"},
		{name: "truncated", in: `{"id":"M1",`, reason: "invalid JSON"},
		{name: "syntax", in: `{"id":"M1",,}`, reason: "invalid JSON at byte"},
		{name: "two objects", in: `{"id":"M1"}{"id":"M2"}`, reason: "more after the object"},
		{name: "trailing junk", in: `{"id":"M1"} x`, reason: "more after the object"},
		{name: "bad utf-8", in: "{\"id\":\"M\xff\"}", reason: "not valid UTF-8"},
		{name: "control in name", in: `{"id":"M1","first_name":"An\u0007na"}`, field: "first_name", reason: "control"},
	})
}

// TestMemberRepeats: a repeated id, card or barcode makes the later line
// bad; a bad line reserves nothing.
func TestMemberRepeats(t *testing.T) {
	in := "id,stage,cards,loyalty_barcode,list_barcode\n" +
		"M1,vip,04A22B1C,RC-1,\n" + // 2: bad stage: reserves nothing
		"M1,new,04:a2:2b:1c,RC-1,L-1\n" + // 3: good
		"M1,new,,,\n" + // 4: id again
		"M2,new,11223344;04-A2-2B-1C,,\n" + // 5: card of line 3, written differently
		"M3,new,,L-1,\n" + // 6: list barcode of line 3 as a loyalty code
		"M4,new,,,RC-1\n" + // 7: loyalty barcode of line 3 as a list code
		"M5,new,11223344,RC-5,L-5\n" // 8: good: line 5 was bad, so its card is free
	g := members(FormatCSV, in)
	var got []string
	for _, le := range g.bad {
		got = append(got, le.Error())
	}
	want := []string{
		`line 2: stage: "vip" is not one of new, active, lapsing, churned`,
		"line 4: id: is already on line 3",
		"line 5: cards: card 2 is already on line 3",
		"line 6: loyalty_barcode: is already on line 3",
		"line 7: list_barcode: is already on line 3",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(g.good) != 2 || g.good[0].Member.ID != "M1" || g.good[1].Member.ID != "M5" {
		t.Errorf("good: %v", g.good)
	}
}
