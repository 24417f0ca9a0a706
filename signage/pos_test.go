package signage

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// posStore is the POS API over HTTP in front of a real engine on a real
// bbolt file.
type posStore struct {
	url    string
	server *Server
	engine *edge.Engine
	outbox *outbox.Outbox
	store  *store.Store
}

const annaLoyalty = "0400000000017"

// openTestDB opens a member store and an outbox on a new bbolt file; they
// are closed when the test ends.
func openTestDB(t *testing.T) (*store.Store, *outbox.Outbox) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "redcarpet.db"), 0o600, outbox.DBOptions())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(db, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close(); db.Close() })
	return st, ob
}

func newPOS(t *testing.T) *posStore {
	t.Helper()
	st, ob := openTestDB(t)
	now := time.Now()
	if err := st.PutMembers([]edge.MemberRecord{{
		Member:  edge.Member{ID: "M1", FirstName: "Anna", Tier: "gold", Stage: edge.StageActive, Affinity: map[string]float64{"dairy": 1}},
		Loyalty: annaLoyalty,
	}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutOffers([]edge.Offer{{ID: "dairy-20", Title: "20% off dairy", Channels: []edge.Channel{edge.ChannelCheckout},
		Categories: []string{"dairy"}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour), DiscountPct: 20}}); err != nil {
		t.Fatal(err)
	}
	s, ts := newTestServer(t, testOptions(), nil)
	e := edge.NewEngine(st, ob, s, edge.NewInbox(16), edge.Options{Lanes: []string{"1", "2"}, Currency: "EUR", History: st})
	s.SetCheckout(e)
	s.SetPlays(e)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done }) // before the file closes
	return &posStore{url: ts.URL, server: s, engine: e, outbox: ob, store: st}
}

// call sends a POS request with token (none when empty) and returns the
// status and the decoded JSON body.
func (p *posStore) call(t *testing.T, method, path, token, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: %s, body not JSON: %v", method, path, resp.Status, err)
	}
	return resp.StatusCode, v
}

func (p *posStore) count(t *testing.T, k edge.Kind) int {
	t.Helper()
	recs, _, err := p.outbox.Read(outbox.Cursor{}, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Event.Kind == k {
			n++
		}
	}
	return n
}

func TestPOSTokens(t *testing.T) {
	p := newPOS(t)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "not-a-token-of-this-store", http.StatusUnauthorized},
		{"lane 1's token on lane 2", testLane1Token, http.StatusForbidden},
		{"lane 2's token", testLane2Token, http.StatusCreated},
		{"admin token", testAdminToken, http.StatusCreated},
	} {
		status, body := p.call(t, "POST", "/api/v1/lanes/2/basket", tc.token, `{}`)
		if status != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, status, body, tc.want)
		}
		if status >= 400 && body["error"] == "" {
			t.Errorf("%s: no reason given: %v", tc.name, body)
		}
	}
	// The scheme is case-insensitive; media type parameters are fine.
	if status, v := p.call(t, "PUT", "/api/v1/lanes/2/basket/lines", "", `{"lines": []}`, "Authorization", "bearer "+testLane2Token,
		"Content-Type", "Application/JSON; charset=utf-8"); status != http.StatusOK {
		t.Errorf("lower-case bearer: %d %v", status, v)
	}
	// The checkout page and its stream need the lane's token too.
	for _, path := range []string{"/checkout/2", "/checkout/2/events"} {
		for token, want := range map[string]int{"": 401, testLane1Token: 403} {
			req, _ := http.NewRequest("GET", p.url+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET %s with %q: %s, want %d", path, token, resp.Status, want)
			}
		}
	}
	// A terminal logs in once with ?token=: a cookie, and back to the bare URL.
	resp, err := client.Get(p.url + "/checkout/2?token=" + testLane2Token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/checkout/2" || len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("login: %s, Location %q, cookies %v", resp.Status, resp.Header.Get("Location"), cookies)
	}
	req, _ := http.NewRequest("GET", p.url+"/checkout/2", nil)
	req.AddCookie(cookies[0])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the page with the cookie: %s", resp.Status)
	}
}

func TestPOSBadRequests(t *testing.T) {
	p := newPOS(t)
	tok := testLane1Token
	lines := "/api/v1/lanes/1/basket/lines"
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		want                     int
		reason                   string
	}{
		{"malformed JSON", "PUT", lines, `{"lines": [`, nil, 400, "malformed JSON"},
		{"unknown field", "PUT", lines, `{"lines": [], "discount": 100}`, nil, 400, "discount"},
		{"lines missing", "PUT", lines, `{}`, nil, 400, "lines: required"},
		{"zero quantity", "PUT", lines, `{"lines": [{"sku": "a", "qty": 0, "unit_price": 1}]}`, nil, 400, "lines[0].qty"},
		{"three decimals", "PUT", lines, `{"lines": [{"sku": "a", "qty": 1, "unit_price": 1.005}]}`, nil, 400, "two decimals"},
		{"a string quantity", "PUT", lines, `{"lines": [{"sku": "a", "qty": "2", "unit_price": 1}]}`, nil, 400, "qty"},
		{"two values", "PUT", lines, `{"lines": []} {}`, nil, 400, "more than one"},
		{"not JSON", "PUT", lines, `lines=1`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"not quite JSON", "PUT", lines, `{"lines": []}`, []string{"Content-Type", "application/jsonx"}, 415, "application/json"},
		{"too large", "PUT", lines, `{"lines": [` + strings.Repeat(`{"sku":"a","qty":1,"unit_price":1},`, 8000) + `]}`, nil, 413, "over"},
		{"no idempotency key", "POST", "/api/v1/lanes/1/basket/redeem", `{}`, nil, 400, "Idempotency-Key"},
		{"both identifiers", "POST", "/api/v1/lanes/1/basket", `{"member_number": "1", "barcode": "2"}`, nil, 400, "not both"},
		{"applied missing", "POST", "/api/v1/lanes/1/basket/offers/x", `{}`, nil, 400, "applied"},
		{"negative total", "POST", "/api/v1/lanes/1/basket/close", `{"total": -1}`, []string{"Idempotency-Key", "k"}, 400, "negative"},
		{"unknown member", "POST", "/api/v1/lanes/1/basket", `{"member_number": "0000000000000"}`, nil, 404, "no member"},
		{"no basket", "GET", "/api/v1/lanes/1/basket", ``, nil, 404, "no open basket"},
		{"unknown lane", "GET", "/api/v1/lanes/9/basket", ``, nil, 404, "unknown lane"},
	} {
		status, body := p.call(t, tc.method, tc.path, tok, tc.body, tc.header...)
		reason, _ := body["error"].(string)
		if status != tc.want || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, status, reason, tc.want, tc.reason)
		}
	}
}

// TestPOSFlow: a till opens a basket by the number on the card, posts the
// basket, applies the offer, redeems twice with one key, and closes.
func TestPOSFlow(t *testing.T) {
	p := newPOS(t)
	tok := testLane1Token
	status, v := p.call(t, "POST", "/api/v1/lanes/1/basket", tok, `{"member_number": "`+annaLoyalty+`"}`)
	if status != http.StatusCreated || v["member"].(map[string]any)["first_name"] != "Anna" {
		t.Fatalf("open: %d %v", status, v)
	}
	basket := v["basket"].(map[string]any)["basket_id"].(string)
	status, v = p.call(t, "PUT", "/api/v1/lanes/1/basket/lines", tok,
		`{"basket_id": "`+basket+`", "lines": [{"sku": "yog", "category": "dairy", "brand": "Alpine", "qty": 2, "unit_price": 2.49}, {"sku": "soap", "qty": 1, "unit_price": 3}]}`)
	if status != http.StatusOK {
		t.Fatalf("lines: %d %v", status, v)
	}
	offers := v["offers"].([]any)
	if len(offers) != 1 || offers[0].(map[string]any)["discount"] != 1.0 || offers[0].(map[string]any)["applies_to"] != 4.98 {
		t.Fatalf("offers %v", offers)
	}
	status, v = p.call(t, "POST", "/api/v1/lanes/1/basket/offers/dairy-20", tok, `{"applied": true}`)
	if status != http.StatusOK || v["basket"].(map[string]any)["total"] != 6.98 {
		t.Fatalf("apply: %d %v", status, v)
	}
	var first []byte
	for range 2 { // the till retries
		status, v = p.call(t, "POST", "/api/v1/lanes/1/basket/redeem", tok, `{}`, "Idempotency-Key", "till-7-0042")
		b, _ := json.Marshal(v)
		if status != http.StatusOK || len(v["redemptions"].([]any)) != 1 || (first != nil && !bytes.Equal(first, b)) {
			t.Fatalf("redeem: %d %s (first %s)", status, b, first)
		}
		first = b
	}
	if n := p.count(t, edge.KindRedeemed); n != 1 {
		t.Errorf("%d redemptions in the outbox, want 1", n)
	}
	status, v = p.call(t, "POST", "/api/v1/lanes/1/basket/close", tok, `{"total": 6.98}`, "Idempotency-Key", "till-7-0043")
	if status != http.StatusOK || v["basket"].(map[string]any)["total"] != 6.98 || v["basket"].(map[string]any)["member_id"] != "M1" {
		t.Fatalf("close: %d %v", status, v)
	}
	if status, _ := p.call(t, "GET", "/api/v1/lanes/1/basket", tok, ``); status != http.StatusNotFound {
		t.Errorf("the lane after close: %d", status)
	}
	if n := p.count(t, edge.KindBasket); n != 1 {
		t.Errorf("%d baskets in the outbox, want 1", n)
	}
	m, err := p.store.Member("M1")
	if err != nil || m.Redeemed["dairy-20"] != 1 || m.Cycles["dairy"].Last.IsZero() {
		t.Errorf("member history: %+v %v", m, err)
	}
}

// FuzzDecodeRequest: no body makes the decoders (POS requests and
// proof-of-play reports) panic, and what they accept is valid.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(`{"lines": [{"sku": "a", "category": "dairy", "qty": 2, "unit_price": 2.49}]}`)
	f.Add(`{"member_number": "0400000000017"}`)
	f.Add(`{"applied": true, "basket_id": "1-x"}`)
	f.Add(`{"total": 12.5}`)
	f.Add(`{"screen": "scr-0001", "plays": [{"offer_id": "o", "at": "2026-11-22T10:00:00Z", "started": "2026-11-22T10:00:01Z", "duration_ms": 9000}]}`)
	f.Add(`{"lines": [{"sku": "a", "qty": 1e3, "unit_price": "1"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var l LinesRequest
		if DecodeRequest([]byte(body), &l) == nil {
			if err := edge.ValidateLines(l.Lines); err != nil || l.Lines == nil {
				t.Fatalf("accepted invalid lines %+v: %v", l.Lines, err)
			}
		}
		var o OpenRequest
		if DecodeRequest([]byte(body), &o) == nil && o.MemberNumber != "" && o.Barcode != "" {
			t.Fatal("accepted both identifiers")
		}
		var a ApplyRequest
		if DecodeRequest([]byte(body), &a) == nil && a.Applied == nil {
			t.Fatal("accepted no applied")
		}
		var c CloseRequest
		if DecodeRequest([]byte(body), &c) == nil && c.Total != nil && *c.Total < 0 {
			t.Fatal("accepted a negative total")
		}
		var r RedeemRequest
		_ = DecodeRequest([]byte(body), &r)
		var pl PlaysRequest
		if DecodeRequest([]byte(body), &pl) == nil && pl.validate() == nil {
			if !screenRE.MatchString(pl.Screen) || len(pl.Plays) == 0 || len(pl.Plays) > edge.MaxPlays {
				t.Fatalf("accepted a bad proof-of-play report %+v", pl)
			}
		}
	})
}
