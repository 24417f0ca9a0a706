package counter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/door/counter"
	"github.com/redcarpet-retail/redcarpet/edge"
)

const (
	tokenA = "0123456789abcdef0123456789abcdef"
	tokenB = "fedcba9876543210fedcba9876543210"
)

// gatewayNow is the gateway's clock in these tests.
var gatewayNow = time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)

// sink collects what the handler queues, like the daemon's inbox.
type sink struct {
	mu   sync.Mutex
	evs  []edge.Event
	fail func(edge.Event) error // when set, decides whether a send fails
}

func (s *sink) send(_ context.Context, ev edge.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(ev); err != nil {
			return err
		}
	}
	s.evs = append(s.evs, ev)
	return nil
}

// take returns the events queued since the last take.
func (s *sink) take() []edge.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.evs
	s.evs = nil
	return evs
}

type fixture struct {
	t    *testing.T
	h    *counter.Handler
	srv  *httptest.Server
	sink *sink
}

func doorCounters() []counter.Counter {
	return []counter.Counter{
		{Name: "entrance-counter", CounterID: "V4D-17020025", Token: tokenA},
		{Name: "back-counter", CounterID: "xovis-2", Token: tokenB, InRegister: "Line 1 fw", OutRegister: "Line 1 bw"},
	}
}

// newFixture serves a handler for counters over real TCP.
func newFixture(t *testing.T, counters []counter.Counter, base counter.Baselines, o *counter.Opts) *fixture {
	t.Helper()
	f := &fixture{t: t, sink: &sink{}}
	if o == nil {
		o = &counter.Opts{}
	}
	if o.Now == nil {
		o.Now = func() time.Time { return gatewayNow }
	}
	h, err := counter.NewHandler(counters, base, f.sink.send, o)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	mux := http.NewServeMux()
	mux.Handle(counter.Pattern, h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// reply is a decoded answer.
type reply struct {
	code int
	ack  counter.Ack
	err  string // the "error" field
}

// post sends body to counter id with the given headers.
func (f *fixture) post(id, body string, header http.Header) reply {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/counters/"+id, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	r := reply{code: resp.StatusCode}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("reply %d has Content-Type %q, want application/json: %s", r.code, ct, raw)
	}
	var v struct {
		counter.Ack
		Error string `json:"error"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		f.t.Fatalf("reply %d is not JSON: %v: %s", r.code, err, raw)
	}
	r.ack, r.err = v.Ack, v.Error
	return r
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// push sends registers in and out at time hhmm (10:15 → 2026-11-22T10:15:00Z)
// to the entrance counter and expects 200.
func (f *fixture) push(hhmm string, in, out uint64) counter.Ack {
	f.t.Helper()
	body := fmt.Sprintf(`{"time":"2026-11-22T%s:00Z","registers":[{"name":"in","value":%d},{"name":"out","value":%d}]}`, hhmm, in, out)
	r := f.post("V4D-17020025", body, bearer(tokenA))
	if r.code != http.StatusOK {
		f.t.Fatalf("push %s in=%d out=%d: %d %s", hhmm, in, out, r.code, r.err)
	}
	return r.ack
}

// crossings summarises events as "source dir count time" lines.
func crossings(evs []edge.Event) []string {
	var out []string
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			out = append(out, "invalid: "+err.Error())
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %d %s", ev.Source, ev.Crossing.Dir, ev.Crossing.Count, ev.Time.UTC().Format("15:04")))
	}
	return out
}

func wantCrossings(t *testing.T, got []edge.Event, want ...string) {
	t.Helper()
	g := crossings(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("crossings:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

func TestFirstPushSetsBaselineThenDeltasAreCounted(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, nil)

	ack := f.push("10:00", 1234, 1200)
	wantCrossings(t, f.sink.take())
	if ack.In != 0 || ack.Out != 0 || len(ack.Notes) != 2 || !strings.Contains(ack.Notes[0], "baseline 1234") {
		t.Errorf("first push ack = %+v, want nothing counted and two baseline notes", ack)
	}

	ack = f.push("10:15", 1240, 1203)
	wantCrossings(t, f.sink.take(), "entrance-counter in 6 10:15", "entrance-counter out 3 10:15")
	if ack.In != 6 || ack.Out != 3 || ack.CounterID != "V4D-17020025" || ack.Samples != 1 {
		t.Errorf("second push ack = %+v, want in 6 out 3", ack)
	}

	// The same push again (a counter retrying after a lost reply).
	f.push("10:15", 1240, 1203)
	wantCrossings(t, f.sink.take())

	// Only exits.
	f.push("10:30", 1240, 1210)
	wantCrossings(t, f.sink.take(), "entrance-counter out 7 10:30")

	st, ok := f.h.Status("entrance-counter")
	if !ok || st.Registers["in"] != 1240 || st.Registers["out"] != 1210 || !st.LastSample.Equal(gatewayNow) || !st.LastPush.Equal(gatewayNow) {
		t.Errorf("status = %+v", st)
	}
	if got := f.h.Meter("entrance-counter").Stats().Accepted; got != 3 {
		t.Errorf("meter accepted %d crossings, want 3", got)
	}
}

func TestCounterResetCountsFromZero(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, nil)
	f.push("10:00", 1234, 1200)
	ack := f.push("10:15", 5, 1201)
	wantCrossings(t, f.sink.take(), "entrance-counter in 5 10:15", "entrance-counter out 1 10:15")
	if len(ack.Notes) != 1 || !strings.Contains(ack.Notes[0], "reset") {
		t.Errorf("notes = %q, want one about the reset", ack.Notes)
	}
	f.push("10:30", 9, 1201)
	wantCrossings(t, f.sink.take(), "entrance-counter in 4 10:30")
	if st, _ := f.h.Status("entrance-counter"); st.Resets != 1 {
		t.Errorf("resets = %d, want 1", st.Resets)
	}
}

func TestStalePushIsIgnored(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, nil)
	f.push("10:00", 100, 100)
	f.push("10:15", 110, 105)
	f.sink.take()
	ack := f.push("10:05", 120, 130) // a late retry, or a clock that went back
	wantCrossings(t, f.sink.take())
	if len(ack.Notes) != 1 || !strings.Contains(ack.Notes[0], "older than the last accepted") {
		t.Errorf("notes = %q", ack.Notes)
	}
	if got := f.h.Meter("entrance-counter").Stats().Rejected[counter.RejectStale]; got != 1 {
		t.Errorf("stale rejects = %d, want 1", got)
	}
	// Nobody is lost: the next good push carries them.
	f.push("10:30", 121, 131)
	wantCrossings(t, f.sink.take(), "entrance-counter in 11 10:30", "entrance-counter out 26 10:30")
}

func TestAbsurdJumpIsRejectedAndRebaselined(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, &counter.Opts{MaxDelta: 10_000})
	f.push("10:00", 100, 100)
	ack := f.push("10:15", 20_100, 110)
	wantCrossings(t, f.sink.take(), "entrance-counter out 10 10:15")
	if len(ack.Notes) != 1 || !strings.Contains(ack.Notes[0], "not counted") {
		t.Errorf("notes = %q", ack.Notes)
	}
	f.push("10:30", 20_105, 110)
	wantCrossings(t, f.sink.take(), "entrance-counter in 5 10:30")
	f.push("10:30", 30_105, 110) // exactly MaxDelta is people
	wantCrossings(t, f.sink.take(), "entrance-counter in 10000 10:30")
	if got := f.h.Meter("entrance-counter").Stats().Rejected[counter.RejectJump]; got != 1 {
		t.Errorf("jump rejects = %d, want 1", got)
	}
}

func TestRefusedPushes(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, &counter.Opts{MaxBody: 1024})
	good := `{"registers":{"in":1,"out":2}}`
	tests := []struct {
		name   string
		id     string
		header http.Header
		body   string
		code   int
		reason string // in the error
		reject string // counted on the entrance counter's meter
	}{
		{"no token", "V4D-17020025", nil, good, 401, "missing token", counter.RejectAuth},
		{"wrong token", "V4D-17020025", bearer(tokenB), good, 401, "wrong token", counter.RejectAuth},
		{"unknown counter", "V4D-99999999", bearer(tokenA), good, 404, `unknown counter "V4D-99999999"`, ""},
		{"body too large", "V4D-17020025", bearer(tokenA), `{"registers":{"in":1,"out":2},"pad":"` + strings.Repeat("x", 1100) + `"}`, 413, "larger than 1024 bytes", drivers.RejectFraming},
		{"empty body", "V4D-17020025", bearer(tokenA), "", 400, "empty body", drivers.RejectFormat},
		{"malformed JSON", "V4D-17020025", bearer(tokenA), `{"registers":{"in":1,}`, 400, "malformed JSON at byte", drivers.RejectFraming},
		{"not an object", "V4D-17020025", bearer(tokenA), `[1,2]`, 400, "not a JSON object", drivers.RejectFormat},
		{"no registers", "V4D-17020025", bearer(tokenA), `{"time":"2026-11-22T10:00:00Z"}`, 400, "registers missing", drivers.RejectFormat},
		{"empty registers", "V4D-17020025", bearer(tokenA), `{"registers":[]}`, 400, "registers is empty", drivers.RejectFormat},
		{"neither in nor out", "V4D-17020025", bearer(tokenA), `{"registers":{"Line 1":5}}`, 400, `no register "in" or "out" in the push (it has "Line 1")`, drivers.RejectFormat},
		{"negative value", "V4D-17020025", bearer(tokenA), `{"registers":[{"name":"in","value":-3}]}`, 400, `registers[0] ("in"): value -3 is not a non-negative integer`, drivers.RejectFormat},
		{"fractional value", "V4D-17020025", bearer(tokenA), `{"registers":{"in":1.5}}`, 400, "registers.in: value 1.5 is not a non-negative integer", drivers.RejectFormat},
		{"time without zone", "V4D-17020025", bearer(tokenA), `{"time":"2026-11-22T10:00:00","registers":{"in":1}}`, 400, "has no zone", drivers.RejectFormat},
		{"clock never set", "V4D-17020025", bearer(tokenA), `{"time":"1970-01-01T00:10:00Z","registers":{"in":1}}`, 400, "before 2020", counter.RejectClock},
		{"clock ahead", "V4D-17020025", bearer(tokenA), `{"time":"2026-11-22T12:00:00Z","registers":{"in":1}}`, 400, "1h30m0s ahead of the gateway's clock", counter.RejectClock},
		{"duplicate register", "V4D-17020025", bearer(tokenA), `{"registers":[{"name":"in","value":1},{"name":"IN","value":2}]}`, 400, `register "IN" appears twice`, drivers.RejectFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.h.Meter("entrance-counter").Stats().Rejected
			r := f.post(tt.id, tt.body, tt.header)
			if r.code != tt.code || !strings.Contains(r.err, tt.reason) {
				t.Errorf("got %d %q, want %d with %q", r.code, r.err, tt.code, tt.reason)
			}
			after := f.h.Meter("entrance-counter").Stats().Rejected
			for reason, n := range after {
				want := before[reason]
				if reason == tt.reject {
					want++
				}
				if n != want {
					t.Errorf("rejects %q: %d, want %d", reason, n, want)
				}
			}
		})
	}
	wantCrossings(t, f.sink.take())
	if st, _ := f.h.Status("entrance-counter"); !st.LastPush.IsZero() || len(st.Registers) != 0 {
		t.Errorf("refused pushes changed the status: %+v", st)
	}
}

func TestMethodOtherThanPost(t *testing.T) {
	h, err := counter.NewHandler(doorCounters(), nil, (&sink{}).send, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/counters/{id}", h) // no method in the pattern
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/api/v1/counters/V4D-17020025")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q; want 405, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestAcceptedForms(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   []string // crossings of the second push (values +3 in, +1 out)
	}{
		{
			name: "register array", header: bearer(tokenA),
			body: `{"time":"2026-11-22T10:15:00Z","registers":[{"name":"in","value":%d},{"name":"out","value":%d}]}`,
			want: []string{"entrance-counter in 3 10:15", "entrance-counter out 1 10:15"},
		},
		{
			name: "register object, values as strings, names in other case", header: bearer(tokenA),
			body: `{"Time":"2026-11-22T11:15:00+01:00","Registers":{"IN":"%d","Out ":"%d","Line 2":7}}`,
			want: []string{"entrance-counter in 3 10:15", "entrance-counter out 1 10:15"},
		},
		{
			name: "no time", header: bearer(tokenA),
			body: `{"registers":{"in":%d,"out":%d}}`,
			want: []string{"entrance-counter in 3 10:30", "entrance-counter out 1 10:30"},
		},
		{
			name:   "unix seconds, token as the whole Authorization header",
			header: http.Header{"Authorization": {tokenA}},
			body:   `{"time":1795342500,"registers":{"in":%d,"out":%d}}`,
			want:   []string{"entrance-counter in 3 10:15", "entrance-counter out 1 10:15"},
		},
		{
			name:   "unix milliseconds, Authentication header",
			header: http.Header{"Authentication": {tokenA}},
			body:   `{"time":1795342500000,"registers":{"in":%d,"out":%d}}`,
			want:   []string{"entrance-counter in 3 10:15", "entrance-counter out 1 10:15"},
		},
		{
			name:   "Irisys Vector body, basic authentication",
			header: http.Header{"Authorization": {"Basic " + basic("vector", tokenA)}},
			body: `{"CountLogs":[{"Counts":[{"Name":"in","RegisterId":0,"Value":%d},{"Name":"out","RegisterId":1,"Value":%d},
				{"Name":"Zone 1","RegisterId":2,"Value":156}],"LogEntryId":353493,"Timestamp":"2026-11-22T10:15:00Z"}],
				"FriendlyDeviceSerial":"V4D-17020025"}`,
			want: []string{"entrance-counter in 3 10:15", "entrance-counter out 1 10:15"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, doorCounters(), nil, nil)
			for i, vals := range [][2]int{{100, 50}, {103, 51}} {
				body := fmt.Sprintf(tt.body, vals[0], vals[1])
				if i == 0 {
					body = strings.ReplaceAll(strings.ReplaceAll(body, "10:15:00", "10:00:00"), "11:15:00", "11:00:00")
					body = strings.ReplaceAll(body, "1795342500", "1795341600")
				}
				if r := f.post("V4D-17020025", body, tt.header); r.code != http.StatusOK {
					t.Fatalf("push %d: %d %s", i, r.code, r.err)
				}
			}
			wantCrossings(t, f.sink.take(), tt.want...)
		})
	}
}

func basic(user, pw string) string {
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(user, pw)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestBatchIsAppliedOldestFirst(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, nil)
	f.push("09:45", 90, 80)
	body := `{"samples":[
		{"time":"2026-11-22T10:15:00Z","registers":{"in":110,"out":95}},
		{"time":"2026-11-22T10:00:00Z","registers":{"in":100,"out":90}},
		{"time":"2026-11-22T09:30:00Z","registers":{"in":85,"out":75}}]}`
	r := f.post("V4D-17020025", body, bearer(tokenA))
	if r.code != http.StatusOK || r.ack.Samples != 3 || r.ack.In != 20 || r.ack.Out != 15 {
		t.Fatalf("batch: %d %+v %s", r.code, r.ack, r.err)
	}
	wantCrossings(t, f.sink.take(),
		"entrance-counter in 10 10:00", "entrance-counter out 10 10:00",
		"entrance-counter in 10 10:15", "entrance-counter out 5 10:15")
}

func TestConfiguredRegisterNames(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, nil)
	for _, v := range []int{10, 14} {
		body := fmt.Sprintf(`{"registers":{"Line 1 fw":%d,"Line 1 bw":%d,"in":999}}`, v, v/2)
		if r := f.post("xovis-2", body, bearer(tokenB)); r.code != http.StatusOK {
			t.Fatalf("%d %s", r.code, r.err)
		}
	}
	wantCrossings(t, f.sink.take(), "back-counter in 4 10:30", "back-counter out 2 10:30")
	// Each counter has its own token.
	if r := f.post("xovis-2", `{"registers":{"in":1}}`, bearer(tokenA)); r.code != http.StatusUnauthorized {
		t.Errorf("the other counter's token: %d, want 401", r.code)
	}
}

func TestBaselinesSurviveANewHandler(t *testing.T) {
	base := &counter.MemoryBaselines{}
	f := newFixture(t, doorCounters(), base, nil)
	f.push("10:00", 100, 90)
	f.push("10:15", 104, 92)
	wantCrossings(t, f.sink.take(), "entrance-counter in 4 10:15", "entrance-counter out 2 10:15")

	// The daemon restarts.
	g := newFixture(t, doorCounters(), base, nil)
	st, _ := g.h.Status("entrance-counter")
	if st.Registers["in"] != 104 || st.Registers["out"] != 92 || st.LastSample.Format("15:04") != "10:15" {
		t.Errorf("restored status = %+v", st)
	}
	g.push("10:05", 200, 200) // older than the saved sample: stale
	g.push("10:30", 110, 92)  // counted against the saved baseline, not a new one
	wantCrossings(t, g.sink.take(), "entrance-counter in 6 10:30")

	regs, at, ok, err := base.Load("V4D-17020025")
	if err != nil || !ok || regs["in"] != 110 || regs["out"] != 92 || at.Format("15:04") != "10:30" {
		t.Errorf("saved baseline = %v %v %v %v", regs, at, ok, err)
	}
}

// flakyBaselines fails every Save.
type flakyBaselines struct{ counter.MemoryBaselines }

func (*flakyBaselines) Save(string, map[string]uint64, time.Time) error {
	return errors.New("disk full")
}

func TestFailedSaveKeepsCountingInMemory(t *testing.T) {
	f := newFixture(t, doorCounters(), &flakyBaselines{}, nil)
	f.push("10:00", 100, 90)
	f.push("10:15", 101, 90)
	wantCrossings(t, f.sink.take(), "entrance-counter in 1 10:15")
	if st, _ := f.h.Status("entrance-counter"); st.SaveFailures != 2 || st.Registers["in"] != 101 {
		t.Errorf("status = %+v, want 2 save failures and in=101", st)
	}
}

func TestSendFailureCountsNobodyTwice(t *testing.T) {
	f := newFixture(t, doorCounters(), nil, nil)
	f.push("10:00", 100, 90)
	f.sink.fail = func(ev edge.Event) error {
		if ev.Crossing.Dir == edge.Out {
			return context.Canceled
		}
		return nil
	}
	body := `{"time":"2026-11-22T10:15:00Z","registers":{"in":105,"out":93}}`
	if r := f.post("V4D-17020025", body, bearer(tokenA)); r.code != http.StatusServiceUnavailable || !strings.Contains(r.err, "send again") {
		t.Errorf("push while the engine is gone: %d %q, want 503", r.code, r.err)
	}
	wantCrossings(t, f.sink.take(), "entrance-counter in 5 10:15")
	f.sink.fail = nil
	if r := f.post("V4D-17020025", body, bearer(tokenA)); r.code != http.StatusOK {
		t.Fatalf("retry: %d %s", r.code, r.err)
	}
	wantCrossings(t, f.sink.take(), "entrance-counter out 3 10:15")
}

func TestConcurrentPushesOfTwoCounters(t *testing.T) {
	f := newFixture(t, doorCounters(), &counter.MemoryBaselines{}, nil)
	start := gatewayNow.Add(-2 * time.Hour)
	pushA := func(i int) string {
		return fmt.Sprintf(`{"time":%q,"registers":{"in":%d,"out":%d}}`, start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 1000+3*i, 500+2*i)
	}
	pushB := func(i int) string {
		return fmt.Sprintf(`{"time":%q,"registers":{"Line 1 fw":%d,"Line 1 bw":%d}}`, start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 7*i, 5*i)
	}
	// Baselines first, so that every later push is counted against them.
	for _, p := range []struct{ id, body, token string }{{"V4D-17020025", pushA(0), tokenA}, {"xovis-2", pushB(0), tokenB}} {
		if r := f.post(p.id, p.body, bearer(p.token)); r.code != http.StatusOK {
			t.Fatal(r.code, r.err)
		}
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for i := 1; i <= n; i++ {
		for _, p := range []struct{ id, body, token string }{{"V4D-17020025", pushA(i), tokenA}, {"xovis-2", pushB(i), tokenB}} {
			wg.Go(func() {
				if r := f.post(p.id, p.body, bearer(p.token)); r.code != http.StatusOK {
					errs <- fmt.Sprintf("%s: %d %s", p.id, r.code, r.err)
				}
				f.h.Status("entrance-counter")
			})
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// Pushes arrive in any order; late ones are stale. Whatever the order,
	// the sums are the last values minus the baselines.
	sum := map[string]int{}
	for _, ev := range f.sink.take() {
		sum[ev.Source+" "+string(ev.Crossing.Dir)] += ev.Crossing.Count
	}
	want := map[string]int{"entrance-counter in": 3 * n, "entrance-counter out": 2 * n, "back-counter in": 7 * n, "back-counter out": 5 * n}
	for k, v := range want {
		if sum[k] != v {
			t.Errorf("%s: %d, want %d", k, sum[k], v)
		}
	}
}

func TestNewHandlerRefusesBadCounters(t *testing.T) {
	send := (&sink{}).send
	tests := []struct {
		name     string
		counters []counter.Counter
		send     func(context.Context, edge.Event) error
		want     string
	}{
		{"short token", []counter.Counter{{Name: "a", CounterID: "a", Token: "secret"}}, send, "token has 6 bytes"},
		{"token with newline", []counter.Counter{{Name: "a", CounterID: "a", Token: tokenA + "\n"}}, send, "trim the token file"},
		{"no counter id", []counter.Counter{{Name: "a", Token: tokenA}}, send, "not a URL path segment"},
		{"slash in id", []counter.Counter{{Name: "a", CounterID: "a/b", Token: tokenA}}, send, "not a URL path segment"},
		{"same registers", []counter.Counter{{Name: "a", CounterID: "a", Token: tokenA, InRegister: "Line 1", OutRegister: "line 1"}}, send, "both"},
		{"id twice", []counter.Counter{{Name: "a", CounterID: "x", Token: tokenA}, {Name: "b", CounterID: "x", Token: tokenB}}, send, `counter_id "x" already used by a`},
		{"no send", doorCounters(), nil, "no send function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := counter.NewHandler(tt.counters, nil, tt.send, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one with %q", err, tt.want)
			}
		})
	}
}
