package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// seeds adds the fixture files and a few good and bad lines to a corpus.
func seeds(f *testing.F, prefix string, lines ...string) {
	for _, ext := range []string{".csv", ".jsonl"} {
		data, err := os.ReadFile(filepath.Join("testdata", prefix+ext))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, l := range lines {
		f.Add([]byte(l))
	}
}

// checkCounts verifies what every read must satisfy, whatever the input.
func checkCounts(t *testing.T, res Result, good int, bad []LineError) {
	t.Helper()
	if res.Lines != res.Good+res.Bad || res.Good != good || res.Bad != len(bad) {
		t.Fatalf("result %+v with %d yields and %d bad lines", res, good, len(bad))
	}
	last := 0
	for _, le := range bad {
		if le.Line <= last || le.Err == nil {
			t.Fatalf("bad line %d after %d: %v", le.Line, last, le)
		}
		last = le.Line
	}
}

func FuzzReadMembers(f *testing.F) {
	seeds(f, "members",
		"id,cards,cycles,affinity\nM1,04A22B1C,dairy=6@2026-11-10#3,dairy=0.5\nM2,zz,x,y\n",
		"id,loyalty_barcode,list_barcode\nM1,2900000123458,L1\nM2,2900000123459,\nM3,\"a\nb\",\n",
		"id\n\"M1\nM2\n",
		`{"id":"M1","cards":["04:A2:2B:1C"],"cycles":{"d":{"mean_days":1,"last":"2026-01-01","count":2}},"affinity":{"d":1}}`+"\n"+`{"id":"M1"}`+"\n{\n",
		`{"id":"M1","greet_by_name":"x","foo":1}`,
		"id,staff,matrix\nM1,yes,dairy=switcher/heavy;Bakery=STORE/light\nM2,maybe,dairy=x/y;=store/light\nM3,0,dairy=store/light;dairy=store/heavy\n",
		`{"id":"M1","staff":true,"matrix":{"dairy":"national/medium","bakery":" Switcher/Light "}}`+"\n"+`{"id":"M2","staff":"no","matrix":{"":"store/x"}}`+"\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatCSV, FormatJSONL} {
			var (
				good int
				bad  []LineError
			)
			res, _ := ReadMembers(bytes.NewReader(data), format, paris, func(r edge.MemberRecord) error {
				good++
				checkMember(t, r)
				return nil
			}, func(le LineError) { bad = append(bad, le) })
			checkCounts(t, res, good, bad)
		}
	})
}

// checkMember verifies a yielded member obeys the documented rules and can
// be stored.
func checkMember(t *testing.T, r edge.MemberRecord) {
	t.Helper()
	m := r.Member
	if checkID(m.ID) != "" || checkBarcode(r.Loyalty) != "" || checkBarcode(r.List) != "" {
		t.Fatalf("invalid member yielded: %q", m.ID)
	}
	if r.List != "" && r.List == r.Loyalty {
		t.Fatal("same loyalty and list barcode")
	}
	if _, why := parseStage(string(m.Stage)); why != "" {
		t.Fatalf("stage %q", m.Stage)
	}
	for _, c := range r.Cards {
		if n := len(c); n < 3 || n > 10 { // 3 (Wiegand 26) to 10 (ISO 14443 triple) bytes
			t.Fatalf("card of %d bytes", n)
		}
	}
	for k, v := range m.Affinity {
		if label(k) != "" || v < 0 || v > 1 {
			t.Fatalf("affinity %q=%v", k, v)
		}
	}
	for k, c := range m.Cycles {
		if label(k) != "" || c.MeanDays <= 0 || c.Count < 0 || c.Last.IsZero() {
			t.Fatalf("cycle %q=%+v", k, c)
		}
	}
	for k, c := range m.Matrix {
		if p, err := edge.ParseCell(c.String()); label(k) != "" || err != nil || p != c {
			t.Fatalf("matrix %q=%+v", k, c)
		}
	}
	if _, err := json.Marshal(m); err != nil {
		t.Fatalf("member cannot be stored: %v", err)
	}
}

func FuzzReadOffers(f *testing.F) {
	seeds(f, "offers",
		"id,title,channels,valid_from,valid_to,discount_pct,cap_per_member\nO1,T,signage,2026-11-01,2026-11-01,10%,1\nO2,T,tv,2026-11-01,2026-10-01,x,-1\n",
		"id,title,channels,valid_from,valid_to\nO1,T,signage,2026-03-29,2026-03-29T02:30:00+01:00\n",
		`{"id":"O1","title":"T","channels":["checkout"],"stages":["new"],"valid_from":"2026-11-01T08:00:00Z","valid_to":"2999-12-31","discount_pct":100}`+"\n",
		`{"id":"O1","title":"T","channels":"signage","valid_from":1}`,
		"id,title,channels,categories,valid_from,valid_to,depth,holdout_pct\nO1,T,signage,dairy,2026-11-01,2026-11-30,switcher/heavy=30;Store/Light=5%,10\nO2,T,signage,,2026-11-01,2026-11-30,x/y=1;=,51\n",
		`{"id":"O1","title":"T","channels":["checkout"],"categories":["d"],"valid_from":"2026-11-01","valid_to":"2026-11-30","depth":{"national/medium":12.5,"store/heavy":100},"holdout_pct":50}`+"\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatCSV, FormatJSONL} {
			var (
				good int
				bad  []LineError
			)
			res, _ := ReadOffers(bytes.NewReader(data), format, paris, func(o edge.Offer) error {
				good++
				if checkID(o.ID) != "" || o.Title == "" || len(o.Channels) == 0 || !o.ValidTo.After(o.ValidFrom) ||
					o.DiscountPct < 0 || o.DiscountPct > 100 || o.CapPerMember < 0 {
					t.Fatalf("invalid offer yielded: %+v", o)
				}
				if err := o.ValidateTargeting(); err != nil {
					t.Fatalf("offer the engine refuses yielded: %v", err)
				}
				if _, err := json.Marshal(o); err != nil {
					t.Fatalf("offer cannot be stored: %v", err)
				}
				return nil
			}, func(le LineError) { bad = append(bad, le) })
			checkCounts(t, res, good, bad)
		}
	})
}
