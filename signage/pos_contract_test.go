package signage

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// posContractFile is the OpenAPI description of the POS API.
var posContractFile = filepath.Join("..", "deploy", "pos-openapi.yaml")

// posContract is deploy/pos-openapi.yaml, loaded: its schemas are compiled
// on demand from the document itself (OpenAPI 3.1 schemas are JSON Schema
// 2020-12), so a test validates against exactly what the file declares.
type posContract struct {
	url  string
	root map[string]any
	comp *jsonschema.Compiler
	// ops maps "METHOD /path/{param}" to its operation object.
	ops map[string]map[string]any
	// seen collects the statuses each operation answered, to check that
	// every status the file declares was produced.
	seen map[string]map[string]bool
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadPOSContract(t *testing.T) *posContract {
	t.Helper()
	data, err := os.ReadFile(posContractFile)
	if err != nil {
		t.Fatal(err)
	}
	var y any
	if err := yaml.Unmarshal(data, &y); err != nil {
		t.Fatalf("%s: %v", posContractFile, err)
	}
	j, err := json.Marshal(y) // the compiler wants JSON values
	if err != nil {
		t.Fatalf("%s: not representable as JSON: %v", posContractFile, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(posContractFile)
	if err != nil {
		t.Fatal(err)
	}
	c := &posContract{url: "file://" + filepath.ToSlash(abs), ops: map[string]map[string]any{}, seen: map[string]map[string]bool{}}
	c.root, _ = doc.(map[string]any)
	if v, _ := c.root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi %q: want an OpenAPI 3.1 document", v)
	}
	c.comp = jsonschema.NewCompiler()
	c.comp.DefaultDraft(jsonschema.Draft2020)
	c.comp.AssertFormat()
	if err := c.comp.AddResource(c.url, doc); err != nil {
		t.Fatal(err)
	}
	paths, _ := c.root["paths"].(map[string]any)
	for path, item := range paths {
		for _, m := range httpMethods {
			if op, ok := item.(map[string]any)[m].(map[string]any); ok {
				c.ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	if len(c.ops) == 0 {
		t.Fatal("no operations")
	}
	return c
}

// pointer returns the JSON pointer (RFC 6901) of a path of keys.
func pointer(keys ...string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// node returns the value at ptr and the pointer it ends at, following a
// local $ref (Response, Header and Parameter objects may be references).
func (c *posContract) node(t *testing.T, ptr string) (map[string]any, string) {
	t.Helper()
	for range 8 {
		var v any = c.root
		for _, tok := range strings.Split(ptr, "/")[1:] {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch x := v.(type) {
			case map[string]any:
				v = x[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				v = nil
				if err == nil && i >= 0 && i < len(x) {
					v = x[i]
				}
			default:
				v = nil
			}
		}
		obj, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: no object there", ptr)
		}
		ref, isRef := obj["$ref"].(string)
		if !isRef {
			return obj, ptr
		}
		ptr = strings.TrimPrefix(ref, "#")
	}
	t.Fatalf("%s: reference chain too long", ptr)
	return nil, ""
}

func (c *posContract) schema(t *testing.T, ptr string) *jsonschema.Schema {
	t.Helper()
	s, err := c.comp.Compile(c.url + "#" + ptr)
	if err != nil {
		t.Fatalf("compile %s: %v", ptr, err)
	}
	return s
}

// route returns the "METHOD /template" of the file's operation that serves
// method and path, or "".
func (c *posContract) route(method, path string) string {
	segs := strings.Split(path, "/")
	for key := range c.ops {
		m, tmpl, _ := strings.Cut(key, " ")
		ts := strings.Split(tmpl, "/")
		if m != method || len(ts) != len(segs) {
			continue
		}
		ok := true
		for i, s := range ts {
			isParam := strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}")
			ok = ok && (s == segs[i] || (isParam && segs[i] != ""))
		}
		if ok {
			return key
		}
	}
	return ""
}

// opPointer is the JSON pointer of the operation key ("METHOD /template").
func opPointer(key string) string {
	m, tmpl, _ := strings.Cut(key, " ")
	return pointer("paths", tmpl, strings.ToLower(m))
}

// posExchange is one POS request and the status it must get.
type posExchange struct {
	method, path, token, body string
	header                    []string // name, value, …
	want                      int
}

// exchange sends x to the gateway at base and checks the answer against
// the contract: the status is x.want and declared for the route, the body
// is application/json and valid against the response schema, the declared
// headers are there and valid; a request the gateway accepted is valid
// against the request schema. It returns the raw body.
func (c *posContract) exchange(t *testing.T, base string, x posExchange) []byte {
	t.Helper()
	req, err := http.NewRequest(x.method, base+x.path, strings.NewReader(x.body))
	if err != nil {
		t.Fatal(err)
	}
	if x.token != "" {
		req.Header.Set("Authorization", "Bearer "+x.token)
	}
	for i := 0; i+1 < len(x.header); i += 2 {
		req.Header.Set(x.header[i], x.header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	what := x.method + " " + x.path
	if resp.StatusCode != x.want {
		t.Fatalf("%s: %d %s, want %d", what, resp.StatusCode, raw, x.want)
	}
	key := c.route(x.method, x.path)
	if key == "" {
		t.Fatalf("%s: the contract has no operation for it", what)
	}
	status := strconv.Itoa(resp.StatusCode)
	if c.seen[key] == nil {
		c.seen[key] = map[string]bool{}
	}
	c.seen[key][status] = true
	opPtr := opPointer(key)
	op, _ := c.node(t, opPtr)
	if responses, _ := op["responses"].(map[string]any); responses[status] == nil {
		t.Fatalf("%s: status %s is not declared for %s: %s", what, status, key, raw)
	}
	r, rPtr := c.node(t, opPtr+pointer("responses", status))
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	content, _ := r["content"].(map[string]any)
	if _, ok := content["application/json"]; !ok || len(content) != 1 {
		t.Fatalf("%s: %s declares no single application/json content", what, rPtr)
	}
	c.validate(t, what+" answer", rPtr+pointer("content", "application/json", "schema"), raw)
	headers, _ := r["headers"].(map[string]any)
	for name := range headers {
		h, hPtr := c.node(t, rPtr+pointer("headers", name))
		got := resp.Header.Values(name)
		if len(got) == 0 {
			if h["required"] == true {
				t.Errorf("%s: header %s missing", what, name)
			}
			continue
		}
		value, _ := json.Marshal(got[0]) // a string always encodes
		c.validate(t, what+" header "+name, hPtr+"/schema", value)
	}
	if resp.StatusCode < 300 {
		c.validRequest(t, key, x)
	}
	return raw
}

// validRequest checks that x, which the gateway accepted, is a valid
// request for the operation key: its body against the request schema and
// its required header parameters.
func (c *posContract) validRequest(t *testing.T, key string, x posExchange) {
	t.Helper()
	op, opPtr := c.node(t, opPointer(key))
	params, _ := op["parameters"].([]any)
	for i := range params {
		p, _ := c.node(t, opPtr+pointer("parameters", strconv.Itoa(i)))
		name, _ := p["name"].(string)
		if p["in"] == "header" && p["required"] == true && !slices.Contains(x.header, name) {
			t.Errorf("%s: accepted without the required header %s", key, name)
		}
	}
	rb, ok := op["requestBody"].(map[string]any)
	switch {
	case !ok && x.body != "":
		t.Errorf("%s: accepted a body the contract does not declare", key)
	case ok && strings.TrimSpace(x.body) == "" && rb["required"] == true:
		t.Errorf("%s: accepted no body, the contract requires one", key)
	case ok && strings.TrimSpace(x.body) != "":
		c.validate(t, key+" request", opPtr+pointer("requestBody", "content", "application/json", "schema"), []byte(x.body))
	}
}

func (c *posContract) validate(t *testing.T, what, ptr string, raw []byte) {
	t.Helper()
	if err := c.check(t, ptr, raw); err != nil {
		t.Errorf("%s does not match %s: %v\n%s", what, ptr, err, raw)
	}
}

// check validates raw JSON against the schema at ptr.
func (c *posContract) check(t *testing.T, ptr string, raw []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return c.schema(t, ptr).Validate(v)
}

func field(t *testing.T, raw []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %s in %s", strings.Join(path, "."), raw)
		}
		v = m[k]
	}
	return v
}

// TestPOSContract drives the POS API of a real engine through a whole
// checkout and its failures, and validates every answer against
// deploy/pos-openapi.yaml.
func TestPOSContract(t *testing.T) {
	c := loadPOSContract(t)
	p := newPOS(t)
	// Ben shops with his shopping list: its offers apply by themselves.
	if err := p.store.PutMembers([]edge.MemberRecord{{
		Member: edge.Member{ID: "M2", FirstName: "Ben", Affinity: map[string]float64{"dairy": 1}},
		List:   "LIST-0002",
	}}); err != nil {
		t.Fatal(err)
	}
	const (
		basket = "/api/v1/lanes/1/basket"
		tok    = testLane1Token
	)
	do := func(x posExchange) []byte { t.Helper(); return c.exchange(t, p.url, x) }
	key := func(k string) []string { return []string{"Idempotency-Key", k} }

	// Anna's checkout: the number on her card, her lines, her offer.
	opened := do(posExchange{"POST", basket, tok, `{"member_number": "` + annaLoyalty + `"}`, nil, 201})
	id := field(t, opened, "basket", "basket_id").(string)
	with := func(fields string) string { // the body with the basket's id
		if fields == "" {
			return `{"basket_id": "` + id + `"}`
		}
		return `{"basket_id": "` + id + `", ` + fields + `}`
	}
	do(posExchange{"POST", basket + "/offers/dairy-20", tok, with(`"applied": true`), nil, 409}) // nothing to apply it to yet
	lines := do(posExchange{"PUT", basket + "/lines", tok, with(`"lines": [{"sku": "yog", "category": "dairy", "brand": "Alpine", "qty": 2, "unit_price": 2.49}, {"sku": "soap", "qty": 1, "unit_price": 3}]`), nil, 200})
	do(posExchange{"GET", basket, tok, ``, nil, 200})
	applied := do(posExchange{"POST", basket + "/offers/dairy-20", tok, with(`"applied": true`), nil, 200})
	if got := field(t, applied, "basket", "total"); got != 6.98 {
		t.Errorf("total after the offer: %v, want 6.98", got)
	}
	redeemed := do(posExchange{"POST", basket + "/redeem", tok, with(``), key("till-1-0001"), 200})
	if again := do(posExchange{"POST", basket + "/redeem", tok, with(``), key("till-1-0001"), 200}); !bytes.Equal(again, redeemed) {
		t.Errorf("the retry got %s, the first answer was %s", again, redeemed)
	}
	do(posExchange{"POST", basket + "/close", tok, `{"total": 6.98}`, key("till-1-0001"), 422})
	do(posExchange{"PUT", basket + "/lines", tok, `{"basket_id": "1-20000101T000000-00000000", "lines": []}`, nil, 409})
	do(posExchange{"POST", basket + "/offers/no-such-offer", tok, `{"applied": true}`, nil, 404})
	closed := do(posExchange{"POST", basket + "/close", tok, with(`"total": 6.98`), key("till-1-0002"), 200})
	if again := do(posExchange{"POST", basket + "/close", tok, with(`"total": 6.98`), key("till-1-0002"), 200}); !bytes.Equal(again, closed) {
		t.Errorf("the retry got %s, the first answer was %s", again, closed)
	}
	do(posExchange{"GET", basket, tok, ``, nil, 404})
	do(posExchange{"POST", basket + "/redeem", tok, ``, key("till-1-0003"), 404})

	// An anonymous basket on lane 2, opened by its lines, closed without a
	// total; the admin token serves every lane.
	lane2 := "/api/v1/lanes/2/basket"
	do(posExchange{"PUT", lane2 + "/lines", testLane2Token, `{"lines": [{"sku": "bread", "category": "bakery", "qty": 1, "unit_price": 1.2}]}`, nil, 200})
	if r := do(posExchange{"POST", lane2 + "/redeem", testAdminToken, `{}`, key("till-2-0001"), 200}); len(field(t, r, "redemptions").([]any)) != 0 {
		t.Errorf("an anonymous basket redeemed %s", r)
	}
	do(posExchange{"POST", lane2 + "/close", testLane2Token, ``, key("till-2-0002"), 200})
	do(posExchange{"POST", lane2, testLane2Token, `{}`, nil, 201})

	// Ben's shopping list: the offer applies itself and is redeemed at close.
	do(posExchange{"POST", basket, tok, `{"barcode": "LIST-0002"}`, nil, 201})
	do(posExchange{"PUT", basket + "/lines", tok, `{"lines": [{"sku": "milk", "category": "dairy", "qty": 4, "unit_price": 1.05}]}`, nil, 200})
	benClosed := do(posExchange{"POST", basket + "/close", tok, `{}`, key("till-1-0004"), 200})
	if r := field(t, benClosed, "redemptions").([]any); len(r) != 1 || r[0].(map[string]any)["auto"] != true {
		t.Errorf("shopping-list close: %s", benClosed)
	}

	// Refusals particular to an operation. Lane 1 has no basket open.
	for _, x := range []posExchange{
		{"PUT", basket + "/lines", tok, `{"lines": [{"sku": "a", "qty": "2", "unit_price": 1}]}`, nil, 400},
		{"POST", basket, tok, `{"member_number": "1", "barcode": "2"}`, nil, 400},
		{"POST", basket + "/redeem", tok, `{}`, nil, 400},
		{"POST", basket + "/close", tok, `{"total": -1}`, key("till-1-0005"), 400},
		{"GET", basket, "not-a-token-of-this-store", ``, nil, 401},
		{"GET", basket, "", ``, []string{"Authorization", "Basic bGFuZTox"}, 401},
		{"POST", basket, tok, `{"member_number": "0000000000000"}`, nil, 404},
		{"PUT", basket + "/lines", tok, with(`"lines": []`), nil, 404},
		{"POST", basket + "/offers/dairy-20", tok, `{"applied": false}`, nil, 404},
		{"POST", basket + "/close", tok, ``, key("till-1-0006"), 404},
		{"POST", basket + "/redeem", tok, ``, key("till-1-0002"), 422}, // close's key
		{"POST", basket, tok, `{}`, nil, 201},
		{"POST", basket + "/offers/dairy-20", tok, with(`"applied": true`), nil, 409},
		{"POST", basket + "/redeem", tok, with(``), key("till-1-0007"), 409},
		{"POST", basket + "/close", tok, with(``), key("till-1-0008"), 409},
	} {
		do(x)
	}
	// Refusals every operation answers alike, on a gateway with its
	// checkout engine and on one whose engine is not wired yet.
	_, idle := newTestServer(t, testOptions(), nil)
	big := `{"basket_id": "` + strings.Repeat("x", maxBody) + `"}`
	for route := range c.ops {
		method, tmpl, _ := strings.Cut(route, " ")
		path := func(lane string) string {
			return strings.NewReplacer("{lane}", lane, "{offer}", "dairy-20").Replace(tmpl)
		}
		hdr := key("till-1-" + route)
		xs := []posExchange{
			{method, path("1"), "", ``, hdr, 401},
			{method, path("1"), testLane2Token, ``, hdr, 403},
			{method, path("9"), tok, ``, hdr, 404},
		}
		if c.ops[route]["requestBody"] != nil {
			xs = append(xs,
				posExchange{method, path("1"), tok, `{"basket_id": `, hdr, 400},
				posExchange{method, path("1"), tok, big, hdr, 413},
				posExchange{method, path("1"), tok, `basket_id=1`, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...), 415})
		}
		for _, x := range xs {
			do(x)
		}
		c.exchange(t, idle.URL, posExchange{method, path("1"), tok, ``, hdr, 503})
	}

	// Every status the file declares for an operation was produced, but 500.
	for route := range c.ops {
		op, _ := c.node(t, opPointer(route))
		for status := range op["responses"].(map[string]any) {
			if !c.seen[route][status] && status != "500" {
				t.Errorf("%s declares %s, which no request of this test got", route, status)
			}
		}
	}

	t.Run("mutated answers fail", func(t *testing.T) {
		c.rejects(t, "PUT "+basket+"/lines", "200", lines, []mutation{
			{"an unknown field", func(v map[string]any) { v["currency"] = "EUR" }},
			{"an unknown basket field", func(v map[string]any) { sub(v, "basket")["tax"] = 0.5 }},
			{"an unknown offer field", func(v map[string]any) { sub(v, "offers", 0)["rank"] = 1 }},
			{"a string amount", func(v map[string]any) { sub(v, "basket")["total"] = "6.98" }},
			{"three decimals", func(v map[string]any) { sub(v, "basket")["subtotal"] = 7.985 }},
			{"a string quantity", func(v map[string]any) { sub(v, "basket", "lines", 0)["qty"] = "2" }},
			{"a known basket without its member", func(v map[string]any) { delete(v, "member") }},
			{"an anonymous basket with a member", func(v map[string]any) { v["known"] = false }},
			{"no basket", func(v map[string]any) { delete(v, "basket") }},
			{"an unknown via", func(v map[string]any) { v["via"] = "nfc" }},
			{"a bad time", func(v map[string]any) { v["at"] = "now" }},
		})
		c.rejects(t, "POST "+basket+"/redeem", "200", redeemed, []mutation{
			{"a redemption without its offer", func(v map[string]any) { delete(sub(v, "redemptions", 0), "offer_id") }},
			{"a closed basket", func(v map[string]any) { v["basket"] = field(t, closed, "basket") }},
			{"null redemptions", func(v map[string]any) { v["redemptions"] = nil }},
		})
		c.rejects(t, "POST "+basket+"/close", "200", closed, []mutation{
			{"no basket", func(v map[string]any) { delete(v, "basket") }},
			{"a negative total", func(v map[string]any) { sub(v, "basket")["total"] = -6.98 }},
		})
		c.rejects(t, "POST "+basket+"/close", "200", benClosed, []mutation{
			{"a currency in words", func(v map[string]any) { sub(v, "basket")["currency"] = "euro" }},
			{"auto false", func(v map[string]any) { sub(v, "redemptions", 0)["auto"] = false }},
			{"no categories, but present", func(v map[string]any) { sub(v, "basket")["categories"] = []any{} }},
		})
		c.rejects(t, "GET "+basket, "404", []byte(`{"error": "no open basket at this lane"}`), []mutation{
			{"an unknown field", func(v map[string]any) { v["code"] = 404 }},
			{"an empty reason", func(v map[string]any) { v["error"] = "" }},
		})
	})

	t.Run("requests the gateway refuses fail", func(t *testing.T) {
		for _, x := range []struct{ key, body string }{
			{"PUT " + basket + "/lines", `{"lines": [], "discount": 100}`},
			{"PUT " + basket + "/lines", `{}`},
			{"PUT " + basket + "/lines", `{"lines": [{"sku": "a", "qty": 0, "unit_price": 1}]}`},
			{"PUT " + basket + "/lines", `{"lines": [{"sku": "a", "qty": "2", "unit_price": 1}]}`},
			{"PUT " + basket + "/lines", `{"lines": [{"sku": "a", "qty": 1, "unit_price": 1.005}]}`},
			{"PUT " + basket + "/lines", `{"lines": [{"sku": "", "qty": 1, "unit_price": 1}]}`},
			{"PUT " + basket + "/lines", `{"lines": [{"sku": "a", "qty": 1, "unit_price": -1}]}`},
			{"POST " + basket, `{"member_number": "1", "barcode": "2"}`},
			{"POST " + basket + "/offers/{offer}", `{}`},
			{"POST " + basket + "/close", `{"total": -1}`},
			{"POST " + basket + "/redeem", `{"basket_id": 7}`},
		} {
			method, path, _ := strings.Cut(x.key, " ")
			path = strings.ReplaceAll(path, "{offer}", "dairy-20")
			if err := c.check(t, opPointer(c.route(method, path))+pointer("requestBody", "content", "application/json", "schema"), []byte(x.body)); err == nil {
				t.Errorf("%s: the contract accepts %s, the gateway does not", x.key, x.body)
			}
			if status, _ := p.call(t, method, path, tok, x.body, key("till-1-9999")...); status != http.StatusBadRequest {
				t.Errorf("%s %s: %d, want 400", x.key, x.body, status)
			}
		}
	})
}

// mutation changes a decoded answer so that it no longer matches.
type mutation struct {
	name string
	f    func(v map[string]any)
}

// rejects checks that each mutation of the valid answer good fails the
// response schema of route and status.
func (c *posContract) rejects(t *testing.T, route, status string, good []byte, ms []mutation) {
	t.Helper()
	method, path, _ := strings.Cut(route, " ")
	ptr := opPointer(c.route(method, path))
	_, rPtr := c.node(t, ptr+pointer("responses", status))
	ptr = rPtr + pointer("content", "application/json", "schema")
	if err := c.check(t, ptr, good); err != nil {
		t.Fatalf("%s %s: the unchanged answer fails: %v", route, status, err)
	}
	for _, m := range ms {
		var v map[string]any
		if err := json.Unmarshal(good, &v); err != nil {
			t.Fatal(err)
		}
		m.f(v)
		bad, _ := json.Marshal(v) // decoded JSON always encodes again
		if err := c.check(t, ptr, bad); err == nil {
			t.Errorf("%s %s: %s accepted", route, status, m.name)
		}
	}
}

// sub walks a decoded JSON value along object keys and array indexes to
// an object.
func sub(v map[string]any, path ...any) map[string]any {
	var cur any = v
	for _, p := range path {
		if i, ok := p.(int); ok {
			cur = cur.([]any)[i]
		} else {
			cur = cur.(map[string]any)[p.(string)]
		}
	}
	return cur.(map[string]any)
}

// TestPOSContractRoutes: the routes the code registers below /api/v1/lanes/
// are the file's operations, no more, no fewer, and the gateway's router
// sends each of the file's operations to the pattern the file names.
func TestPOSContractRoutes(t *testing.T) {
	c := loadPOSContract(t)
	code := registeredPOSRoutes(t)
	var file []string
	for key := range c.ops {
		file = append(file, key)
	}
	slices.Sort(file)
	for _, d := range []struct {
		have, lack []string
		msg        string
	}{
		{code, file, "the code registers %q, the contract does not describe it"},
		{file, code, "the contract describes %q, the code does not register it"},
	} {
		for _, k := range d.have {
			if !slices.Contains(d.lack, k) {
				t.Errorf(d.msg, k)
			}
		}
	}

	mux, ok := New(testOptions()).Handler().(*http.ServeMux)
	if !ok {
		t.Fatal("the server's handler is not a ServeMux")
	}
	for _, key := range file {
		method, tmpl, _ := strings.Cut(key, " ")
		path := tmpl
		var names []string
		for _, seg := range strings.Split(tmpl, "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				name = strings.TrimSuffix(name, "}")
				names = append(names, name)
				path = strings.Replace(path, seg, "x-"+name, 1)
			}
		}
		if _, pattern := mux.Handler(httptest.NewRequest(method, path, nil)); pattern != key {
			t.Errorf("%s %s: the router picks %q, want %q", method, path, pattern, key)
		}
		// Each path parameter is declared, and nothing else is a path parameter.
		var declared []string
		for _, where := range []string{pointer("paths", tmpl), opPointer(key)} {
			obj, _ := c.node(t, where)
			params, _ := obj["parameters"].([]any)
			for i := range params {
				if p, _ := c.node(t, where+pointer("parameters", strconv.Itoa(i))); p["in"] == "path" {
					declared = append(declared, p["name"].(string))
				}
			}
		}
		slices.Sort(declared)
		slices.Sort(names)
		if !slices.Equal(declared, names) {
			t.Errorf("%s: path parameters %v declared, the path has %v", key, declared, names)
		}
	}
}

// registeredPOSRoutes reads the package's Go files and returns, sorted, the
// patterns of every Handle and HandleFunc call that registers a route below
// /api/v1/lanes/. A pattern must be a constant expression of string
// literals and string constants (package-level or of the function).
func registeredPOSRoutes(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	consts := map[string]string{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		for _, d := range f.Decls {
			addConsts(consts, d)
		}
	}
	var routes []string
	for _, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			local := map[string]string{}
			for k, v := range consts {
				local[k] = v
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if ds, ok := n.(*ast.DeclStmt); ok {
					addConsts(local, ds.Decl)
				}
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				pattern, ok := stringConst(call.Args[0], local)
				switch {
				case !ok:
					t.Errorf("%s: cannot read the route's pattern", fset.Position(call.Pos()))
				case strings.Contains(pattern, " /api/v1/lanes/"):
					routes = append(routes, pattern)
				}
				return true
			})
		}
	}
	if len(routes) == 0 {
		t.Fatal("no POS route found in the code")
	}
	slices.Sort(routes)
	return routes
}

// addConsts adds the string constants of a declaration to consts.
func addConsts(consts map[string]string, d ast.Decl) {
	gd, ok := d.(*ast.GenDecl)
	if !ok || gd.Tok != token.CONST {
		return
	}
	for _, spec := range gd.Specs {
		vs := spec.(*ast.ValueSpec)
		for i, name := range vs.Names {
			if i < len(vs.Values) {
				if s, ok := stringConst(vs.Values[i], consts); ok {
					consts[name.Name] = s
				}
			}
		}
	}
}

// stringConst evaluates a constant string expression: literals, known
// constants, parentheses and +.
func stringConst(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.Ident:
		s, ok := consts[e.Name]
		return s, ok
	case *ast.ParenExpr:
		return stringConst(e.X, consts)
	case *ast.BinaryExpr:
		x, okx := stringConst(e.X, consts)
		y, oky := stringConst(e.Y, consts)
		return x + y, e.Op == token.ADD && okx && oky
	}
	return "", false
}
