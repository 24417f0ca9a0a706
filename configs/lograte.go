package configs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RateOpts bounds how often the same record is written.
type RateOpts struct {
	// Burst is how many records with the same source and message are
	// written per Interval; the rest of that window is counted and summed
	// up in one record when the window ends. Default 5.
	Burst int
	// Interval is the window, which starts at a source's first record with
	// that message. Default 1m.
	Interval time.Duration
	// MaxKeys bounds the (source, message) pairs tracked at once; beyond it
	// the windows that ended are forgotten first, and records of a new pair
	// pass unlimited until room frees up. Default 4096.
	MaxKeys int
}

// DefaultRateOpts is what Log.Logger uses: 5 records per source and message
// per minute.
var DefaultRateOpts = RateOpts{Burst: 5, Interval: time.Minute, MaxKeys: 4096}

// NewRateLimit wraps h so that a device or component repeating itself cannot
// flood the log. Records are grouped by their source — the "device"
// attribute if there is one, else "component" — and message. The first
// o.Burst records of a group in each o.Interval are written as they come;
// the others are dropped and counted, and when the window ends one record
// "suppressed similar messages" reports the count, the message and the
// source, at the highest level dropped. Every level is limited, errors
// included: an error flood is the case this exists for, and the first ones
// and the count always get through.
//
// The summary is written by a timer (time.AfterFunc) when the window ends;
// nothing else runs in the background.
func NewRateLimit(h slog.Handler, o *RateOpts) slog.Handler {
	opts := DefaultRateOpts
	if o != nil {
		if o.Burst > 0 {
			opts.Burst = o.Burst
		}
		if o.Interval > 0 {
			opts.Interval = o.Interval
		}
		if o.MaxKeys > 0 {
			opts.MaxKeys = o.MaxKeys
		}
	}
	return &rateHandler{next: h, st: &rateState{o: opts, keys: map[rateKey]*rateWindow{}}}
}

type rateKey struct{ source, msg string }

// rateWindow is one group's current window.
type rateWindow struct {
	start      time.Time
	passed     int
	suppressed int
	level      slog.Level   // highest level suppressed
	next       slog.Handler // writes the summary, with the logger's attributes
	timer      *time.Timer
}

type rateState struct {
	o    RateOpts
	mu   sync.Mutex
	keys map[rateKey]*rateWindow
}

type rateHandler struct {
	next   slog.Handler
	st     *rateState
	source string // from WithAttrs; "device" wins over "component"
	device bool   // source came from a "device" attribute
	group  bool   // attributes added now belong to a group
}

func (h *rateHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *rateHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.group {
		for _, a := range as {
			c.source, c.device = pickSource(a, c.source, c.device)
		}
	}
	return &c
}

func (h *rateHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = true
	return &c
}

func pickSource(a slog.Attr, source string, device bool) (string, bool) {
	switch {
	case a.Key == "device":
		return a.Value.String(), true
	case a.Key == "component" && !device:
		return a.Value.String(), false
	}
	return source, device
}

func (h *rateHandler) Handle(ctx context.Context, r slog.Record) error {
	source, device := h.source, h.device
	if !h.group {
		r.Attrs(func(a slog.Attr) bool {
			source, device = pickSource(a, source, device)
			return true
		})
	}
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	k := rateKey{source, r.Message}
	st := h.st
	st.mu.Lock()
	w := st.keys[k]
	var summary *slog.Record
	var summaryNext slog.Handler
	if w != nil && now.Sub(w.start) >= st.o.Interval {
		// The window ended before its timer fired: sum it up here.
		if w.suppressed > 0 {
			s := summaryRecord(k, w, st.o.Interval)
			summary, summaryNext = &s, w.next
			w.timer.Stop()
		}
		delete(st.keys, k)
		w = nil
	}
	if w == nil {
		if len(st.keys) >= st.o.MaxKeys {
			st.sweep(now)
		}
		if len(st.keys) >= st.o.MaxKeys {
			st.mu.Unlock()
			return h.emit(ctx, summary, summaryNext, &r)
		}
		w = &rateWindow{start: now}
		st.keys[k] = w
	}
	if w.passed < st.o.Burst {
		w.passed++
		st.mu.Unlock()
		return h.emit(ctx, summary, summaryNext, &r)
	}
	w.suppressed++
	if w.suppressed == 1 || r.Level > w.level {
		w.level = r.Level
	}
	if w.timer == nil {
		w.next = h.next
		w.timer = time.AfterFunc(w.start.Add(st.o.Interval).Sub(now), func() { st.flush(k, w) })
	}
	st.mu.Unlock()
	return h.emit(ctx, summary, summaryNext, nil)
}

// emit writes a pending summary, then r.
func (h *rateHandler) emit(ctx context.Context, summary *slog.Record, next slog.Handler, r *slog.Record) error {
	var err error
	if summary != nil {
		err = next.Handle(ctx, *summary)
	}
	if r != nil {
		if e := h.next.Handle(ctx, *r); e != nil {
			err = e
		}
	}
	return err
}

// flush ends w's window when its timer fires.
func (st *rateState) flush(k rateKey, w *rateWindow) {
	st.mu.Lock()
	if st.keys[k] != w || w.suppressed == 0 {
		st.mu.Unlock()
		return // already summed up by a later record
	}
	delete(st.keys, k)
	s := summaryRecord(k, w, st.o.Interval)
	st.mu.Unlock()
	_ = w.next.Handle(context.Background(), s)
}

// sweep forgets the windows that ended without suppressing anything (those
// that did are forgotten by their timers).
func (st *rateState) sweep(now time.Time) {
	for k, w := range st.keys {
		if w.suppressed == 0 && now.Sub(w.start) >= st.o.Interval {
			delete(st.keys, k)
		}
	}
}

func summaryRecord(k rateKey, w *rateWindow, interval time.Duration) slog.Record {
	r := slog.NewRecord(w.start.Add(interval), w.level, "suppressed similar messages", 0)
	r.AddAttrs(slog.String("source", k.source), slog.String("message", k.msg),
		slog.Int("suppressed", w.suppressed), slog.Duration("window", interval))
	return r
}
