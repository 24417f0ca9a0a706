package postgres

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/pgtest"
)

// FuzzDecodeData feeds decodeData (which takes event data from the stores,
// outside input) arbitrary kinds and data. It must not panic; what it
// accepts must be storable: PostgreSQL text without NUL, integers within
// int32, and data that jsonb accepts (checked against the database when
// REDCARPET_TEST_POSTGRES is set).
func FuzzDecodeData(f *testing.F) {
	seeds := []struct{ kind, data string }{
		{"footfall.interval", `{"door":"main","start":"2026-03-02T08:45:00Z","end":"2026-03-02T09:00:00Z","in":4,"out":3,"occupancy":9}`},
		{"member.recognised", `{"member_id":"m-1","via":"card","zone":"entrance","new_visit":true}`},
		{"offer.shown", `{"offer_id":"o-1","member_id":"m-1","channel":"signage","screen":"z","rank":1}`},
		{"device.status", `{"device":"r","kind":"mfrc522","state":"up"}`},
		{"member.erased", `{"member_id":"m-1","request_id":"r","events_removed":2}`},
		{KindRedeemed, `{"offer_id":"o","discount":-1.25e-2}`},
		{KindBasketClosed, `{"basket_id":"b","total":"12.50","items":[1,2],"member_id":null}`},
		{"future.kind", `[{"a":"\ud83d\ude00"},"\\u0000",1e999,-0.0]`},
		{"future.kind", `"\u0000"`},
		{"member.recognised", `{"member_id":"\udc00"}`},
		{"footfall.interval", `{"in":2147483648}`},
		{"future.kind", "\"\xff\""},
		{KindTraffic, `{"day":"2026-03-02","in":4,"visitors":4,"reset":2,"spend":"12.50","member_spend":1.005e1,"currency":"EUR"}`},
		{KindTraffic, `{"day":"0000-01-01"}`},
		{KindTrafficDay, `{"day":"2026-02-30","doors":[{"door":"d","in":1}]}`},
		{KindTrafficDay, `{"day":"2026-03-02","dwell_s":4294967296,"peak_at":"2026-03-02T12:00:00Z"}`},
		{KindVisit, `{"member_id":"m-1","dwell_s":600,"spend":23.5,"ended":"gap","zones":[{"zone":"z"}]}`},
		{KindWithheld, `{"offer_id":"o-1","member_id":"m-1","discount_pct":1e400,"cell":"store/light"}`},
		{"offer.shown", `{"offer_id":"o-1","member_id":"m-1","discount_pct":"12.5","cell":"switcher/heavy"}`},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.data))
	}
	var conn *pgx.Conn
	if dsn := os.Getenv(pgtest.Env); dsn != "" {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			f.Fatalf("%s is set but PostgreSQL is unreachable: %v", pgtest.Env, err)
		}
		f.Cleanup(func() { c.Close(context.Background()) })
		conn = c
	}
	f.Fuzz(func(t *testing.T, kind string, data []byte) {
		var v [numSlots]any
		if err := decodeData(kind, data, &v); err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		for i, x := range v {
			switch x := x.(type) {
			case string:
				if strings.ContainsRune(x, 0) || !utf8.ValidString(x) {
					t.Fatalf("slot %s: %q is not PostgreSQL text", slotNames[i], x)
				}
			case int32:
				if x < math.MinInt32 || x > math.MaxInt32 {
					t.Fatalf("slot %s: %d", slotNames[i], x)
				}
			}
		}
		if conn != nil {
			var ok bool
			if err := conn.QueryRow(context.Background(), "SELECT $1::text::jsonb IS NOT NULL", string(data)).Scan(&ok); err != nil {
				t.Fatalf("accepted data %q that jsonb refuses: %v", data, err)
			}
		}
	})
}

func TestCheckJSONB(t *testing.T) {
	tests := []struct {
		data string
		ok   bool
	}{
		{`{"a":[1,2,{"b":null}]}`, true},
		{`"\\u0000"`, true}, // an escaped backslash, then text
		{`"\\\u0000"`, false},
		{`"\u0000"`, false},
		{`{"\u0000":1}`, false},
		{`"\ud83d\ude00"`, true},
		{`"\ud83d"`, false},
		{`"\ud83dx"`, false},
		{`"\ud83d\u0041"`, false},
		{`"\ude00"`, false},
		{`1e1000`, true},
		{`1e1001`, false},
		{`1e0000001`, true},
		{`1e-1001`, false},
		{"\"\xff\"", false},
		{`[` + strings.Repeat("1", maxJSONDigits) + `]`, true},
		{`[` + strings.Repeat("1", maxJSONDigits+1) + `]`, false},
		{strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth), true},
		{`{"a":`, false},
	}
	for _, tc := range tests {
		if err := checkJSONB([]byte(tc.data)); (err == nil) != tc.ok {
			t.Errorf("checkJSONB(%.60s) = %v, want ok %v", tc.data, err, tc.ok)
		}
	}
}

func TestParseSeq(t *testing.T) {
	tests := []struct {
		id    string
		epoch string
		seq   int64
		ok    bool
	}{
		{"abcd-1", "abcd", 1, true},
		{"abcd-05", "", 0, false},
		{"abcd-0", "", 0, false},
		{"plain", "", 0, false},
		{"-5", "", 0, false},
		{"abcd-4611686018427387904", "abcd", maxSeq, true},
		{"abcd-4611686018427387905", "", 0, false},
	}
	for _, tc := range tests {
		e, s, ok := parseSeq(tc.id)
		if e != tc.epoch || s != tc.seq || ok != tc.ok {
			t.Errorf("parseSeq(%q) = %q, %d, %v", tc.id, e, s, ok)
		}
	}
}
