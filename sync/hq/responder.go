package hq

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// ResponderOptions configures a Responder. Zero values take the defaults
// noted.
type ResponderOptions struct {
	Broker   string // tcp://host:1883, ssl://host:8883; required
	ClientID string // unique per worker; required
	Username string
	Password string
	TLS      *tls.Config

	ShareGroup string   // shared-subscription group; default "redcarpet-hq"
	Tenants    []string // tenants served (their requests, their heads); required

	Log ChangeLog // required

	Workers   int           // goroutines answering requests; default 2
	Queue     int           // requests waiting for a worker; default 64 (a full queue drops, counted: stores ask again)
	PageSize  int           // changes per page when the request gives no Max; default 500
	PageMax   int           // cap on a request's Max; default 2000
	PageBytes int           // bound on a page's JSON; default 256 KiB (one change may exceed it, alone)
	HeadEvery time.Duration // how often the heads are polled for a change; default 1s

	// Gaps, when set, is the sink the gap watcher reads: every GapEvery
	// (default 1m) the Responder asks stores for the events it is missing
	// (see gaps.go). With several workers, each asks; the store's
	// deduplication by sequence number makes that harmless.
	Gaps     GapSource
	GapEvery time.Duration

	BackoffMin     time.Duration // first reconnect delay; default 500ms
	BackoffMax     time.Duration // default 30s
	ConnectTimeout time.Duration // CONNECT, SUBSCRIBE and each PUBLISH; default 10s
	KeepAlive      time.Duration // default 30s

	Logger *slog.Logger // default: discard
}

func (o *ResponderOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.ShareGroup == "" {
		o.ShareGroup = "redcarpet-hq"
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.PageMax <= 0 {
		o.PageMax = 2000
	}
	o.PageSize = min(o.PageSize, o.PageMax)
	if o.PageBytes <= 0 {
		o.PageBytes = 256 << 10
	}
	def(&o.HeadEvery, time.Second)
	def(&o.GapEvery, time.Minute)
	def(&o.BackoffMin, 500*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.ConnectTimeout, 10*time.Second)
	def(&o.KeepAlive, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *ResponderOptions) validate() error {
	var errs []error
	if o.Broker == "" {
		errs = append(errs, errors.New("broker URL is required"))
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
	}
	if o.Log == nil {
		errs = append(errs, errors.New("change log is required"))
	}
	if len(o.Tenants) == 0 {
		errs = append(errs, errors.New("at least one tenant is required"))
	}
	for _, t := range o.Tenants {
		if !validID(t) {
			errs = append(errs, fmt.Errorf("tenant %q is not a tenant id", t))
		}
	}
	if !KindName(o.ShareGroup) {
		errs = append(errs, fmt.Errorf("share group %q must be 1 to 64 of a-z 0-9 . _ -", o.ShareGroup))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("responder options: %w", err)
	}
	return nil
}

// Reasons a request is refused, counted in ResponderStats.Bad.
const (
	BadTopic   = "topic"   // not a request topic of a served tenant
	BadPayload = "payload" // not a ChangeRequest, or out of bounds
)

// MaxRequestBytes bounds a request's payload.
const MaxRequestBytes = 16 << 10

// Responder answers the stores' change requests from a ChangeLog and
// publishes the change log heads (see package wire).
//
// Every connection is a new paho client with AutoReconnect off and
// CleanSession true: nothing needs queuing for HQ, because a store whose
// request goes unanswered asks again. Workers of one ShareGroup split the
// requests ($share/<group>/redcarpet/v1/<tenant>/+/req/changes, QoS 1).
// Each worker publishes, retained, the head of every tenant it serves when
// it connects and whenever it sees the head change (polled every
// HeadEvery, so an import appended by another process is announced too).
// Several workers may publish the same head; the retained value is always
// one a worker read, and a stale one is replaced at the next poll.
//
// paho's handler only queues a request; Workers goroutines read the change
// log and publish the page, at QoS 1, on the store's ChangesTopic. A
// request that cannot be decoded, or arrives on a topic that is not a
// request topic of a served tenant, is counted and dropped.
type Responder struct {
	o       ResponderOptions
	log     *slog.Logger
	tenants map[string]bool

	queue   chan responderJob
	ready   chan struct{}
	readyMu sync.Once
	started atomic.Bool

	connected atomic.Bool
	connects  atomic.Uint64
	requests  atomic.Uint64
	dropped   atomic.Uint64
	badTopic  atomic.Uint64
	badBody   atomic.Uint64
	pages     atomic.Uint64
	snapPages atomic.Uint64
	changes   atomic.Uint64
	errs      atomic.Uint64
	heads     atomic.Uint64
	resends   atomic.Uint64

	gaps *gaps
	desc responderDescs
}

type responderJob struct {
	c mqtt.Client
	m mqtt.Message
}

// NewResponder returns a Responder. Options are checked by Run.
func NewResponder(o ResponderOptions) *Responder {
	o.defaults()
	r := &Responder{
		o:       o,
		log:     o.Logger.With("component", "hq_responder", "client_id", o.ClientID),
		tenants: map[string]bool{},
		queue:   make(chan responderJob, o.Queue),
		ready:   make(chan struct{}),
		gaps:    newGaps(),
		desc:    newResponderDescs(),
	}
	for _, t := range o.Tenants {
		r.tenants[t] = true
	}
	return r
}

// Ready is closed once the first connection subscribed and published the
// heads.
func (r *Responder) Ready() <-chan struct{} { return r.ready }

// Run connects, answers and publishes heads until ctx ends, then returns
// nil. Broken connections are retried with backoff; Run returns an error
// only for invalid options. Run may be called once.
func (r *Responder) Run(ctx context.Context) error {
	if err := r.o.validate(); err != nil {
		return err
	}
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("responder: Run called twice")
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Go(func() { r.work(wctx) })
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	attempt := 0
	for {
		start := time.Now()
		err := r.session(ctx)
		r.connected.Store(false)
		if ctx.Err() != nil {
			r.log.Info("stopped")
			return nil
		}
		if time.Since(start) > time.Minute {
			attempt = 0
		}
		delay := backoff(r.o.BackoffMin, r.o.BackoffMax, attempt)
		attempt++
		r.log.Warn("broker connection ended; reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			r.log.Info("stopped")
			return nil
		case <-t.C:
		}
	}
}

// session is one connection: connect, subscribe, publish heads, and keep
// them current until the connection or ctx ends.
func (r *Responder) session(ctx context.Context) error {
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(r.o.Broker).
		SetClientID(r.o.ClientID).
		SetUsername(r.o.Username).
		SetPassword(r.o.Password).
		SetCleanSession(true).   // stores ask again: nothing to queue for us
		SetAutoReconnect(false). // a new client per connection
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetResumeSubs(false).
		SetKeepAlive(r.o.KeepAlive).
		SetPingTimeout(r.o.ConnectTimeout).
		SetConnectTimeout(r.o.ConnectTimeout).
		SetWriteTimeout(r.o.ConnectTimeout).
		SetDefaultPublishHandler(r.handle).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if r.o.TLS != nil {
		opts.SetTLSConfig(r.o.TLS)
	}
	c := mqtt.NewClient(opts)
	if err := r.wait(ctx, c.Connect()); err != nil {
		c.Disconnect(0)
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect %s: %w", r.o.Broker, err)
	}
	defer c.Disconnect(250)
	r.connects.Add(1)
	filters := map[string]byte{}
	for t := range r.tenants {
		filters["$share/"+r.o.ShareGroup+"/"+wire.RequestFilter(t)] = 1
	}
	st := c.SubscribeMultiple(filters, r.handle)
	if err := r.wait(ctx, st); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for f, code := range st.(*mqtt.SubscribeToken).Result() {
		if code > 2 {
			return fmt.Errorf("broker refused subscription %s (code %#x)", f, code)
		}
	}
	if r.o.Gaps != nil {
		// Every worker reads every store's retained state (no $share): each
		// compares it with the sink.
		for t := range r.tenants {
			if err := r.wait(ctx, c.Subscribe(wire.Root+"/"+t+"/+/state", 1, r.onState)); err != nil {
				return fmt.Errorf("subscribe to store states: %w", err)
			}
		}
	}
	published := map[string]wire.Head{}
	if err := r.publishHeads(ctx, c, published); err != nil {
		return err
	}
	r.connected.Store(true)
	r.readyMu.Do(func() { close(r.ready) })
	r.log.Info("serving", "broker", r.o.Broker, "tenants", len(r.tenants))
	tick := time.NewTicker(r.o.HeadEvery)
	defer tick.Stop()
	var gapTick <-chan time.Time
	if r.o.Gaps != nil {
		t := time.NewTicker(r.o.GapEvery)
		defer t.Stop()
		gapTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return fmt.Errorf("connection lost: %w", err)
		case <-tick.C:
			if err := r.publishHeads(ctx, c, published); err != nil {
				return err
			}
		case now := <-gapTick:
			if err := r.checkGaps(ctx, c, now); err != nil {
				return err
			}
		}
	}
}

// publishHeads publishes, retained, the head of every tenant whose head
// differs from what this connection published last. A change log error is
// logged and retried at the next poll; a publish error ends the session.
func (r *Responder) publishHeads(ctx context.Context, c mqtt.Client, published map[string]wire.Head) error {
	for t := range r.tenants {
		h, err := r.o.Log.Head(ctx, t)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.errs.Add(1)
			r.log.Warn("read head", "tenant", t, "err", err)
			continue
		}
		if p, ok := published[t]; ok && p.Version == h.Version && p.Oldest == h.Oldest {
			continue
		}
		b, err := json.Marshal(h)
		if err != nil {
			return err
		}
		if err := r.wait(ctx, c.Publish(wire.HeadTopic(t), 1, true, b)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("publish head of %s: %w", t, err)
		}
		published[t] = h
		r.heads.Add(1)
	}
	return nil
}

// wait waits for a paho token, at most ConnectTimeout, or until ctx ends.
func (r *Responder) wait(ctx context.Context, t mqtt.Token) error {
	timer := time.NewTimer(r.o.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errors.New("timed out")
	}
}

// handle is paho's message handler: it only queues. A full queue drops
// the request (counted); the store asks again.
func (r *Responder) handle(c mqtt.Client, m mqtt.Message) {
	r.requests.Add(1)
	select {
	case r.queue <- responderJob{c: c, m: m}:
	default:
		r.dropped.Add(1)
	}
}

func (r *Responder) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case q := <-r.queue:
			r.process(ctx, q)
		}
	}
}

// process answers one request.
func (r *Responder) process(ctx context.Context, q responderJob) {
	tenant, store, req, err := decodeRequest(r.tenants, q.m.Topic(), q.m.Payload())
	if err != nil {
		var br *badRequest
		if errors.As(err, &br) && br.reason == BadTopic {
			r.badTopic.Add(1)
		} else {
			r.badBody.Add(1)
		}
		r.log.Warn("bad request", "topic", clip(q.m.Topic(), 200), "bytes", len(q.m.Payload()), "err", clip(err.Error(), 300))
		return
	}
	page, payload, err := r.answer(ctx, tenant, req)
	if err != nil {
		if ctx.Err() == nil {
			r.errs.Add(1)
			r.log.Warn("answer request", "tenant", tenant, "store", store, "err", err)
		}
		return
	}
	if err := r.wait(ctx, q.c.Publish(wire.ChangesTopic(tenant, store), 1, false, payload)); err != nil {
		if ctx.Err() == nil {
			r.errs.Add(1)
			r.log.Warn("publish page", "tenant", tenant, "store", store, "err", err)
		}
		return
	}
	r.pages.Add(1)
	if page.Snapshot != nil {
		r.snapPages.Add(1)
	}
	r.changes.Add(uint64(len(page.Changes)))
}

// answer builds the page for a request and its JSON: the changes after
// req.Since, or a snapshot page when the request continues a snapshot,
// when its cursor is 0 (a new store: the current data is never larger than
// the history), older than the log (ErrTooOld), or ahead of the head (HQ's
// data was replaced: the store must converge to it).
func (r *Responder) answer(ctx context.Context, tenant string, req wire.ChangeRequest) (wire.ChangePage, []byte, error) {
	limit := req.Max
	if limit <= 0 {
		limit = r.o.PageSize
	}
	limit = min(limit, r.o.PageMax)
	for {
		page, err := r.build(ctx, tenant, req, limit)
		if err != nil {
			return page, nil, err
		}
		b, err := json.Marshal(&page)
		if err != nil {
			return page, nil, err
		}
		if len(b) <= r.o.PageBytes || len(page.Changes) <= 1 {
			return page, b, nil
		}
		limit = max(1, min(limit, len(page.Changes))/2)
	}
}

func (r *Responder) build(ctx context.Context, tenant string, req wire.ChangeRequest, limit int) (wire.ChangePage, error) {
	page := wire.ChangePage{RequestID: req.RequestID, Changes: []wire.Change{}}
	head, err := r.o.Log.Head(ctx, tenant)
	if err != nil {
		return page, err
	}
	page.Head = head.Version
	if req.SnapshotID != "" || req.Snapshot != "" {
		if v, ok := snapshotVersion(req.SnapshotID); ok {
			err := r.snapshot(ctx, tenant, &page, req.SnapshotID, v, req.Snapshot, limit)
			if !errors.Is(err, ErrBadCursor) {
				return page, err
			}
		}
		return page, r.snapshot(ctx, tenant, &page, "", 0, "", limit)
	}
	if req.Since > head.Version || (req.Since == 0 && head.Version > 0) {
		return page, r.snapshot(ctx, tenant, &page, "", 0, "", limit)
	}
	changes, err := r.o.Log.Since(ctx, tenant, req.Since, limit)
	if errors.Is(err, ErrTooOld) {
		return page, r.snapshot(ctx, tenant, &page, "", 0, "", limit)
	}
	if err != nil {
		return page, err
	}
	page.Changes = append(page.Changes, changes...)
	return page, nil
}

// snapshot fills page with a snapshot page: a new snapshot when id is "",
// else the continuation of snapshot id (of version v) at cursor.
func (r *Responder) snapshot(ctx context.Context, tenant string, page *wire.ChangePage, id string, v uint64, cursor string, limit int) error {
	changes, next, version, err := r.o.Log.Snapshot(ctx, tenant, cursor, limit)
	if err != nil {
		return err
	}
	if id == "" {
		// The first page fixes the snapshot's version: the data it read.
		var b [6]byte
		_, _ = rand.Read(b[:])
		id, v = strconv.FormatUint(version, 10)+"."+hex.EncodeToString(b[:]), version
	}
	page.Snapshot = &wire.SnapshotPage{ID: id, Version: v, Next: next}
	page.Changes = append(page.Changes[:0], changes...)
	return nil
}

// snapshotVersion reads the version out of a snapshot id ("<version>.<random>").
func snapshotVersion(id string) (uint64, bool) {
	s, _, ok := strings.Cut(id, ".")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// badRequest is why a request is refused.
type badRequest struct {
	reason string
	err    error
}

func (b *badRequest) Error() string { return b.reason + ": " + b.err.Error() }
func (b *badRequest) Unwrap() error { return b.err }

// decodeRequest checks a request that arrived from outside: the topic must
// be a request topic of a served tenant with well-formed ids, the payload a
// JSON ChangeRequest within bounds. It never panics (see
// FuzzDecodeRequest).
func decodeRequest(tenants map[string]bool, topic string, payload []byte) (string, string, wire.ChangeRequest, error) {
	var req wire.ChangeRequest
	tenant, store, ok := wire.ParseRequestTopic(topic)
	if !ok || !validID(tenant) || !validID(store) {
		return "", "", req, &badRequest{BadTopic, errors.New("not a request topic")}
	}
	if !tenants[tenant] {
		return "", "", req, &badRequest{BadTopic, fmt.Errorf("tenant %s is not served", tenant)}
	}
	if len(payload) > MaxRequestBytes {
		return "", "", req, &badRequest{BadPayload, fmt.Errorf("%d bytes, at most %d", len(payload), MaxRequestBytes)}
	}
	if t := bytes.TrimSpace(payload); len(t) == 0 || t[0] != '{' {
		return "", "", req, &badRequest{BadPayload, errors.New("not a JSON object")}
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return "", "", req, &badRequest{BadPayload, fmt.Errorf("decode: %w", err)}
	}
	switch {
	case len(req.RequestID) > 128:
		return "", "", req, &badRequest{BadPayload, errors.New("request id longer than 128 bytes")}
	case len(req.SnapshotID) > 128:
		return "", "", req, &badRequest{BadPayload, errors.New("snapshot id longer than 128 bytes")}
	case len(req.Snapshot) > 1024:
		return "", "", req, &badRequest{BadPayload, errors.New("snapshot cursor longer than 1024 bytes")}
	case req.Max < 0:
		return "", "", req, &badRequest{BadPayload, errors.New("negative max")}
	}
	return tenant, store, req, nil
}

// ResponderStats are the Responder's counters since NewResponder.
type ResponderStats struct {
	Connected     bool   // connected, subscribed, heads published
	Connects      uint64 // successful connections
	Requests      uint64 // requests received
	Dropped       uint64 // requests dropped because the queue was full
	Bad           uint64 // requests refused (BadTopic, BadPayload)
	Pages         uint64 // pages published
	SnapshotPages uint64 // of which snapshot pages
	Changes       uint64 // changes in published pages
	Errors        uint64 // change log or publish failures (the store asks again)
	HeadPublishes uint64 // retained heads published
	Resends       uint64 // resend requests sent to stores (missing events)
	Queued        int    // requests waiting for a worker
}

// Stats returns the current counters.
func (r *Responder) Stats() ResponderStats {
	return ResponderStats{
		Connected: r.connected.Load(), Connects: r.connects.Load(), Requests: r.requests.Load(),
		Dropped: r.dropped.Load(), Bad: r.badTopic.Load() + r.badBody.Load(), Pages: r.pages.Load(),
		SnapshotPages: r.snapPages.Load(), Changes: r.changes.Load(), Errors: r.errs.Load(),
		HeadPublishes: r.heads.Load(), Resends: r.resends.Load(), Queued: len(r.queue),
	}
}

type responderDescs struct {
	connected, connects, requests, dropped, bad, pages, snapPages, changes, errs, heads, resends, queued *prometheus.Desc
}

func newResponderDescs() responderDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("redcarpet_hq_downlink_"+name, help, labels, nil)
	}
	return responderDescs{
		connected: d("connected", "1 while the responder is connected and serving, else 0."),
		connects:  d("connects_total", "Successful connections to the broker."),
		requests:  d("requests_total", "Change requests received."),
		dropped:   d("requests_dropped_total", "Requests dropped because the work queue was full; stores ask again."),
		bad:       d("requests_bad_total", "Requests refused, by reason.", "reason"),
		pages:     d("pages_total", "Pages published."),
		snapPages: d("snapshot_pages_total", "Snapshot pages published."),
		changes:   d("changes_sent_total", "Changes in published pages."),
		errs:      d("errors_total", "Change log reads or publishes that failed."),
		heads:     d("head_publishes_total", "Retained heads published."),
		resends:   d("resend_requests_total", "Requests sent to stores for events missing at HQ."),
		queued:    d("queue_requests", "Requests waiting for a worker."),
	}
}

// Describe implements prometheus.Collector.
func (r *Responder) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(r, ch) }

// Collect implements prometheus.Collector: register the Responder itself.
func (r *Responder) Collect(ch chan<- prometheus.Metric) {
	s := r.Stats()
	c := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	g := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	up := 0.0
	if s.Connected {
		up = 1
	}
	g(r.desc.connected, up)
	g(r.desc.queued, float64(s.Queued))
	c(r.desc.connects, s.Connects)
	c(r.desc.requests, s.Requests)
	c(r.desc.dropped, s.Dropped)
	c(r.desc.bad, r.badTopic.Load(), BadTopic)
	c(r.desc.bad, r.badBody.Load(), BadPayload)
	c(r.desc.pages, s.Pages)
	c(r.desc.snapPages, s.SnapshotPages)
	c(r.desc.changes, s.Changes)
	c(r.desc.errs, s.Errors)
	c(r.desc.heads, s.HeadPublishes)
	c(r.desc.resends, s.Resends)
}
