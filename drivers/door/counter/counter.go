package counter

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Pattern is the route to mount a Handler on, in net/http.ServeMux syntax:
//
//	mux.Handle(counter.Pattern, h)
//
// The handler reads the counter id from the {id} wildcard; mounted on a
// route without it, it takes the last segment of the request path.
const Pattern = "POST /api/v1/counters/{id}"

// Reject reasons of pushes, besides drivers.RejectFraming (malformed JSON,
// oversized body) and drivers.RejectFormat (well-formed but unusable body).
// They are metric label values: the set is small and stable.
const (
	RejectAuth  = "auth"  // no token, or a wrong one
	RejectClock = "clock" // a sample time before 2020 or ahead of the gateway's clock
	RejectStale = "stale" // a sample older than the last accepted one, ignored
	RejectJump  = "jump"  // a register difference above Opts.MaxDelta, not counted
)

// MinTokenLen is the shortest token NewHandler accepts (16 bytes, e.g. the
// output of `openssl rand -hex 16` is 32).
const MinTokenLen = 16

// clockFloor is the earliest sample time accepted: a counter reporting an
// earlier one has a clock that was never set (no RTC, no NTP yet).
var clockFloor = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Counter is one configured people counter (a counter_push device).
type Counter struct {
	// Name is the device's name: the Source of its events and the key of
	// Meter and Status.
	Name string
	// CounterID is the {id} the counter pushes to.
	CounterID string
	// Token is the secret the counter sends (the content of token_file,
	// trimmed); at least MinTokenLen bytes, no spaces.
	Token string
	// InRegister and OutRegister name the registers counting entries and
	// exits; "in" and "out" when empty.
	InRegister, OutRegister string
	// Meter counts the counter's crossings and rejects; the handler makes
	// one when nil. The handler calls Accept for every crossing it queues:
	// do not count them again.
	Meter *drivers.Meter
}

// Opts tunes a Handler. Zero fields take the value in DefaultOpts.
type Opts struct {
	// MaxBody is the largest request body read, in bytes; a larger one is
	// answered 413. Default 64 KiB.
	MaxBody int64
	// MaxDelta is the largest difference of one register between two
	// accepted samples taken as people; a larger one is rejected as a jump
	// and becomes the new baseline. Default 10 000; at most math.MaxInt32.
	MaxDelta int
	// MaxClockSkew is how far ahead of the gateway's clock a sample's time
	// may be. Default 5 minutes.
	MaxClockSkew time.Duration
	// Now is the gateway's clock. Default time.Now.
	Now func() time.Time
	// Log receives resets, rejected jumps, refused pushes and failed
	// baseline saves. Default: discarded. Tokens are never logged.
	Log *slog.Logger
}

// DefaultOpts are the defaults of Opts.
var DefaultOpts = Opts{MaxBody: 64 << 10, MaxDelta: 10_000, MaxClockSkew: 5 * time.Minute}

// Status is a counter's state, for device health.
type Status struct {
	Name, CounterID string
	// LastPush is the gateway time of the last authenticated, well-formed
	// push; zero before the first since the handler was made.
	LastPush time.Time
	// LastSample is the counter's time of the last accepted sample (or the
	// one restored from Baselines); zero when there is none.
	LastSample time.Time
	// Registers are the baselines by register name; empty before the
	// first push ever.
	Registers map[string]uint64
	// Resets counts the counter's restarts from zero seen since the
	// handler was made.
	Resets uint64
	// SaveFailures counts baselines that Baselines.Save failed to store.
	SaveFailures uint64
}

// Ack is the body of a 200 reply.
type Ack struct {
	CounterID string `json:"counter_id"`
	Samples   int    `json:"samples"` // samples in the push
	In        int    `json:"in"`      // people counted in, over all samples
	Out       int    `json:"out"`     // people counted out
	// Notes says what else happened, for people testing with curl:
	// baselines set, resets, ignored samples, rejected jumps.
	Notes []string `json:"notes,omitempty"`
}

// maxNotes bounds Ack.Notes for large batches.
const maxNotes = 16

// Handler is the HTTP endpoint the counters push to. Safe for concurrent
// use: pushes of one counter are applied one at a time (a push waits for
// the one in progress); pushes of different counters run in parallel.
type Handler struct {
	o      Opts
	log    *slog.Logger
	send   func(context.Context, edge.Event) error
	base   Baselines
	byID   map[string]*state
	byName map[string]*state
}

// state is one counter at run time.
type state struct {
	c         Counter
	tokenHash [sha256.Size]byte
	lastPush  atomic.Int64 // unix nanoseconds

	mu       sync.Mutex // serialises pushes; guards the fields below
	regs     map[string]uint64
	at       time.Time // time of the last accepted sample
	resets   uint64
	saveErrs uint64

	status atomic.Pointer[Status] // published after each push, without LastPush
}

// NewHandler returns the endpoint for counters. send queues an event for the
// engine (the daemon's edge.Inbox.Send): the handler calls it once per
// crossing, with the request's context, and a push waits while it blocks.
// base keeps baselines across restarts; nil keeps them in memory. o may be
// nil for DefaultOpts.
func NewHandler(counters []Counter, base Baselines, send func(ctx context.Context, ev edge.Event) error, o *Opts) (*Handler, error) {
	h := &Handler{send: send, base: base, byID: map[string]*state{}, byName: map[string]*state{}}
	if o != nil {
		h.o = *o
	}
	var errs []error
	if send == nil {
		errs = append(errs, errors.New("counter push: no send function"))
	}
	h.o.MaxBody = cmp.Or(h.o.MaxBody, DefaultOpts.MaxBody)
	h.o.MaxDelta = cmp.Or(h.o.MaxDelta, DefaultOpts.MaxDelta)
	h.o.MaxClockSkew = cmp.Or(h.o.MaxClockSkew, DefaultOpts.MaxClockSkew)
	if h.o.MaxBody < 0 || h.o.MaxDelta < 0 || h.o.MaxDelta > math.MaxInt32 || h.o.MaxClockSkew < 0 {
		errs = append(errs, fmt.Errorf("counter push: options out of range (max body %d, max delta %d, max clock skew %v)",
			h.o.MaxBody, h.o.MaxDelta, h.o.MaxClockSkew))
	}
	if h.o.Now == nil {
		h.o.Now = time.Now
	}
	h.log = h.o.Log
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "counter_push")
	if h.base == nil {
		h.base = &MemoryBaselines{}
	}
	for _, c := range counters {
		c.InRegister = cmp.Or(c.InRegister, "in")
		c.OutRegister = cmp.Or(c.OutRegister, "out")
		if c.Meter == nil {
			c.Meter = drivers.NewMeter()
		}
		if err := c.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if h.byName[c.Name] != nil {
			errs = append(errs, fmt.Errorf("counter %s: name used twice", c.Name))
			continue
		}
		if other := h.byID[c.CounterID]; other != nil {
			errs = append(errs, fmt.Errorf("counter %s: counter_id %q already used by %s", c.Name, c.CounterID, other.c.Name))
			continue
		}
		s := &state{c: c, tokenHash: sha256.Sum256([]byte(c.Token)), regs: map[string]uint64{}}
		h.byID[c.CounterID], h.byName[c.Name] = s, s
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, s := range h.byName {
		regs, at, ok, err := h.base.Load(s.c.CounterID)
		if err != nil {
			return nil, fmt.Errorf("load baseline of counter %s (%s): %w", s.c.Name, s.c.CounterID, err)
		}
		if ok {
			// Keep the configured registers only: a renamed register starts
			// with a fresh baseline.
			for name, v := range regs {
				for _, want := range []string{s.c.InRegister, s.c.OutRegister} {
					if strings.EqualFold(strings.TrimSpace(name), strings.TrimSpace(want)) {
						s.regs[want] = v
					}
				}
			}
			s.at = at
		}
		s.publish()
	}
	return h, nil
}

func (c *Counter) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("no name"))
	}
	if c.CounterID == "" || strings.ContainsFunc(c.CounterID, func(r rune) bool { return r == '/' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		errs = append(errs, fmt.Errorf("counter_id %q is not a URL path segment (empty, or has a slash or a space)", c.CounterID))
	}
	switch {
	case strings.ContainsFunc(c.Token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		errs = append(errs, errors.New("token has spaces or control characters (trim the token file)"))
	case len(c.Token) < MinTokenLen:
		errs = append(errs, fmt.Errorf("token has %d bytes, want at least %d (e.g. openssl rand -hex 16)", len(c.Token), MinTokenLen))
	}
	if strings.EqualFold(strings.TrimSpace(c.InRegister), strings.TrimSpace(c.OutRegister)) {
		errs = append(errs, fmt.Errorf("in_register and out_register are both %q", c.InRegister))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("counter %s: %w", c.Name, err)
	}
	return nil
}

// Meter returns the meter of the counter named name, nil if there is none.
func (h *Handler) Meter(name string) *drivers.Meter {
	if s := h.byName[name]; s != nil {
		return s.c.Meter
	}
	return nil
}

// Status returns the state of the counter named name. It does not wait for
// a push in progress.
func (h *Handler) Status(name string) (Status, bool) {
	s := h.byName[name]
	if s == nil {
		return Status{}, false
	}
	st := *s.status.Load()
	st.Registers = maps.Clone(st.Registers)
	if t := s.lastPush.Load(); t != 0 {
		st.LastPush = time.Unix(0, t)
	}
	return st, true
}

// publish makes the state visible to Status. Call with s.mu held (or before
// the handler is shared).
func (s *state) publish() {
	s.status.Store(&Status{
		Name: s.c.Name, CounterID: s.c.CounterID, LastSample: s.at, Registers: maps.Clone(s.regs),
		Resets: s.resets, SaveFailures: s.saveErrs,
	})
}

// ServeHTTP handles one push (see the package documentation).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: counters POST their registers")
		return
	}
	id := r.PathValue("id")
	if id == "" {
		id = path.Base(r.URL.Path)
	}
	s := h.byID[id]
	if s == nil {
		h.log.Warn("push for an unknown counter", "counter_id", clipID(id), "remote", r.RemoteAddr)
		reply(w, http.StatusNotFound, fmt.Sprintf("unknown counter %q: no counter_push device has this counter_id", clipID(id)))
		return
	}
	c := &s.c
	token, ok := tokenOf(r)
	if !ok || !s.tokenMatches(token) {
		c.Meter.Reject(RejectAuth)
		why := fmt.Sprintf("wrong token for counter %q", id)
		if !ok {
			why = "missing token: send the header Authorization: Bearer <token>"
		}
		h.log.Warn("push refused", "device", c.Name, "counter_id", id, "remote", r.RemoteAddr, "reason", why)
		w.Header().Set("WWW-Authenticate", `Bearer realm="redcarpet"`)
		reply(w, http.StatusUnauthorized, why)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		c.Meter.Reject(drivers.RejectFraming)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", h.o.MaxBody))
			return
		}
		reply(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	now := h.o.Now()
	samples, reason, err := h.check(body, c, now)
	if err != nil {
		c.Meter.Reject(reason)
		h.log.Warn("push refused", "device", c.Name, "counter_id", id, "reject", reason, "err", err)
		reply(w, http.StatusBadRequest, err.Error())
		return
	}
	s.lastPush.Store(now.UnixNano())
	ack, err := h.apply(r.Context(), s, samples, now)
	if err != nil {
		h.log.Warn("push partly applied: crossings could not be queued", "device", c.Name, "err", err)
		reply(w, http.StatusServiceUnavailable, "the gateway could not queue the crossings ("+err.Error()+"); send again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(ack)
}

// check decodes and validates a body: every sample gets a time in range and
// at least one of the counter's registers. It returns the samples oldest
// first, or the reject reason and the error.
func (h *Handler) check(body []byte, c *Counter, now time.Time) ([]sample, string, error) {
	samples, err := decode(body)
	if err != nil {
		if errors.Is(err, errFraming) {
			return nil, drivers.RejectFraming, err
		}
		return nil, drivers.RejectFormat, err
	}
	for i := range samples {
		sm := &samples[i]
		where := ""
		if len(samples) > 1 {
			where = fmt.Sprintf("sample %d: ", i)
		}
		switch {
		case sm.at.IsZero():
			sm.at = now
		case sm.at.Before(clockFloor):
			return nil, RejectClock, fmt.Errorf("%stime %s is before 2020: the counter's clock is not set (enable NTP on the counter)",
				where, sm.at.Format(time.RFC3339))
		case sm.at.Sub(now) > h.o.MaxClockSkew:
			return nil, RejectClock, fmt.Errorf("%stime %s is %v ahead of the gateway's clock (%s): check NTP on the counter and the gateway",
				where, sm.at.Format(time.RFC3339), sm.at.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339))
		}
		_, hasIn := sm.lookup(c.InRegister)
		_, hasOut := sm.lookup(c.OutRegister)
		if !hasIn && !hasOut {
			return nil, drivers.RejectFormat, fmt.Errorf("%sno register %q or %q in the push (it has %s): set in_register and out_register to the counter's register names",
				where, c.InRegister, c.OutRegister, sm.names())
		}
	}
	slices.SortStableFunc(samples, func(a, b sample) int { return a.at.Compare(b.at) })
	return samples, "", nil
}

// apply turns samples into crossings, queues them and saves the baseline.
// On a send error it stops, keeps the baseline of what was queued, and
// returns the error.
func (h *Handler) apply(ctx context.Context, s *state, samples []sample, now time.Time) (Ack, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.c
	ack := Ack{CounterID: c.CounterID, Samples: len(samples)}
	note := func(format string, args ...any) {
		if len(ack.Notes) < maxNotes {
			ack.Notes = append(ack.Notes, fmt.Sprintf(format, args...))
		}
	}
	changed := false
	var sendErr error
	dirs := [...]struct {
		dir edge.Direction
		reg string
		sum *int
	}{{edge.In, c.InRegister, &ack.In}, {edge.Out, c.OutRegister, &ack.Out}}
samples:
	for _, sm := range samples {
		if sm.at.Before(s.at) {
			c.Meter.Reject(RejectStale)
			note("sample of %s is older than the last accepted (%s): ignored", stamp(sm.at), stamp(s.at))
			continue
		}
		for _, d := range dirs {
			v, ok := sm.lookup(d.reg)
			if !ok {
				continue
			}
			prev, had := s.regs[d.reg]
			if !had {
				s.regs[d.reg], changed = v, true
				note("%s: baseline %d", d.dir, v)
				continue
			}
			if v == prev {
				continue
			}
			reset := v < prev // the counter restarted from zero
			delta := v - prev
			if reset {
				delta = v
			}
			if delta > uint64(h.o.MaxDelta) {
				c.Meter.Reject(RejectJump)
				s.regs[d.reg], changed = v, true
				if reset {
					s.resets++
				}
				note("%s: jump from %d to %d (more than %d) not counted; new baseline %d", d.dir, prev, v, h.o.MaxDelta, v)
				h.log.Warn("register jump not counted", "device", c.Name, "register", d.reg, "before", prev, "after", v, "max_delta", h.o.MaxDelta)
				continue
			}
			if delta > 0 {
				ev := edge.Event{Kind: edge.KindDoorCrossing, Source: c.Name, Time: sm.at,
					Crossing: &edge.Crossing{Dir: d.dir, Count: int(delta)}}
				if err := h.send(ctx, ev); err != nil {
					sendErr = err
					break samples
				}
				c.Meter.Accept(now)
				*d.sum += int(delta)
			}
			if reset {
				s.resets++
				note("%s: counter reset (%d after %d), counted %d from zero", d.dir, v, prev, v)
				h.log.Info("counter reset", "device", c.Name, "register", d.reg, "before", prev, "after", v)
			}
			s.regs[d.reg], changed = v, true
		}
		if sm.at.After(s.at) {
			s.at, changed = sm.at, true
		}
	}
	if changed {
		if err := h.base.Save(c.CounterID, maps.Clone(s.regs), s.at); err != nil {
			s.saveErrs++
			h.log.Error("baseline not saved; kept in memory", "device", c.Name, "counter_id", c.CounterID, "err", err)
		}
	}
	s.publish()
	return ack, sendErr
}

// tokenMatches compares in constant time (hashes hide the length too).
func (s *state) tokenMatches(token string) bool {
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// tokenOf finds the token the way counters send it: Authorization: Bearer
// <token>, the whole Authorization header, an Authentication header, or the
// password of Basic authentication.
func tokenOf(r *http.Request) (string, bool) {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw, true
	}
	if a := strings.TrimSpace(r.Header.Get("Authorization")); a != "" {
		if scheme, rest, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(rest), true
		}
		return a, true
	}
	if a := strings.TrimSpace(r.Header.Get("Authentication")); a != "" {
		return a, true
	}
	return "", false
}

// reply writes {"error": why}.
func reply(w http.ResponseWriter, code int, why string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{why})
}

// stamp formats a sample time for notes.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// clipID bounds an id taken from a URL for logs and replies.
func clipID(id string) string {
	if len(id) > 64 {
		return id[:64] + "…"
	}
	return id
}
