package hq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Options configures an Ingest. Zero values take the defaults noted.
type Options struct {
	Broker   string // tcp://host:1883, ssl://host:8883 (any scheme paho accepts); required
	ClientID string // unique per worker; names the broker session; required
	Username string
	Password string
	TLS      *tls.Config // nil: no TLS unless the scheme asks for it

	ShareGroup string // shared-subscription group; default "redcarpet-hq"
	Tenant     string // tenant whose stores to consume; default "+" (all)

	Sink Sink // required

	Workers int // goroutines calling Sink.Store; default 2
	Queue   int // messages waiting for a worker; default 64

	// Cross-message batching, when Sink is a BatchSink: a worker stores
	// the message it took together with the messages already waiting in
	// the queue, up to BatchMessages messages or until they hold
	// BatchEvents events, in one StoreBatch call (one transaction). It
	// never waits for more to arrive. BatchMessages 1 stores each message
	// on its own.
	BatchMessages int // default 50
	BatchEvents   int // default 10000

	BackoffMin     time.Duration // first reconnect or sink retry delay; default 500ms
	BackoffMax     time.Duration // longest delay; default 30s
	ConnectTimeout time.Duration // CONNECT and SUBSCRIBE; default 10s
	KeepAlive      time.Duration // default 30s
	Quiesce        time.Duration // Disconnect waits this long for pending acks; default 250ms

	Logger *slog.Logger // default: discard
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.ShareGroup == "" {
		o.ShareGroup = "redcarpet-hq"
	}
	if o.Tenant == "" {
		o.Tenant = "+"
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.BatchMessages <= 0 {
		o.BatchMessages = 50
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = 10000
	}
	def(&o.BackoffMin, 500*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.ConnectTimeout, 10*time.Second)
	def(&o.KeepAlive, 30*time.Second)
	def(&o.Quiesce, 250*time.Millisecond)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	var errs []error
	if o.Broker == "" {
		errs = append(errs, errors.New("broker URL is required"))
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
	}
	if o.Sink == nil {
		errs = append(errs, errors.New("sink is required"))
	}
	if o.Tenant != "+" && !validID(o.Tenant) {
		errs = append(errs, fmt.Errorf("tenant %q must be \"+\" or a tenant id", o.Tenant))
	}
	if !KindName(o.ShareGroup) {
		errs = append(errs, fmt.Errorf("share group %q must be 1 to 64 of a-z 0-9 . _ -", o.ShareGroup))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ingest options: %w", err)
	}
	return nil
}

// Ingest consumes the stores' uplink from the broker and writes it to a
// Sink. See the package documentation for its guarantees.
type Ingest struct {
	o      Options
	log    *slog.Logger
	filter string

	queue   chan mqtt.Message
	done    chan struct{} // closed when Run stops: releases handlers waiting for queue space
	ready   chan struct{} // closed at the first acknowledged subscription
	started atomic.Bool
	readyMu sync.Once

	connected atomic.Bool
	connects  atomic.Uint64
	messages  atomic.Uint64
	events    atomic.Uint64
	inserted  atomic.Uint64
	dups      atomic.Uint64
	sinkErrs  atomic.Uint64
	writes    atomic.Uint64
	waits     atomic.Uint64
	rejected  [len(rejectReasons)]atomic.Uint64

	desc descs
}

// rejectReasons indexes Ingest.rejected.
var rejectReasons = [...]string{RejectTopic, RejectPayload, RejectSource, RejectKind, RejectID, RejectSink}

// New returns an Ingest. Options are checked by Run.
func New(o Options) *Ingest {
	o.defaults()
	return &Ingest{
		o:      o,
		log:    o.Logger.With("component", "hq_ingest", "client_id", o.ClientID),
		filter: "$share/" + o.ShareGroup + "/" + wire.UplinkFilter(o.Tenant),
		queue:  make(chan mqtt.Message, o.Queue),
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
		desc:   newDescs(),
	}
}

// Filter is the subscription filter: $share/<group>/redcarpet/v1/<tenant>/+/up/+.
func (in *Ingest) Filter() string { return in.filter }

// Ready is closed once the broker has acknowledged the first subscription.
// From then on the broker keeps a session for this ClientID, so messages
// published while the worker is away are queued for it; before, messages
// with no subscriber are discarded by the broker.
func (in *Ingest) Ready() <-chan struct{} { return in.ready }

// Connected reports whether the worker is connected and subscribed.
func (in *Ingest) Connected() bool { return in.connected.Load() }

// Run connects, subscribes and stores what arrives until ctx ends, then
// disconnects and returns nil: cancellation is not an error. Broken
// connections are retried with backoff for as long as ctx lives, so Run
// returns an error only for invalid Options. Run may be called once.
//
// Every connection is a new paho client with AutoReconnect off (the house
// rule: a paho client is never reused across connections, which sidesteps
// paho's reconnect paths with their history of deadlocks). Nothing is lost
// by that: the session, with the subscription and every unacknowledged
// QoS 1 message, lives in the broker (CleanSession=false) and is resumed
// by the next client with the same ClientID. Work queued from a dead
// connection is still stored; its acknowledgement goes nowhere and the
// broker redelivers the message, which the sink then counts as duplicates.
func (in *Ingest) Run(ctx context.Context) error {
	if err := in.o.validate(); err != nil {
		return err
	}
	if !in.started.CompareAndSwap(false, true) {
		return errors.New("ingest: Run called twice")
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range in.o.Workers {
		wg.Go(func() { in.work(wctx) })
	}
	var stopOnce sync.Once
	stop := func() { // ends the workers; their last acks precede the DISCONNECT
		stopOnce.Do(func() {
			close(in.done)
			cancel()
			wg.Wait()
		})
	}
	defer stop()

	attempt := 0
	for {
		start := time.Now()
		err := in.session(ctx, stop)
		in.connected.Store(false)
		if ctx.Err() != nil {
			in.log.Info("stopped")
			return nil
		}
		if time.Since(start) > time.Minute {
			attempt = 0 // a session that lived a while was healthy
		}
		delay := backoff(in.o.BackoffMin, in.o.BackoffMax, attempt)
		attempt++
		in.log.Warn("broker connection ended; reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			in.log.Info("stopped")
			return nil
		case <-t.C:
		}
	}
}

// session is one connection: connect, subscribe, and wait for the end. On
// ctx's end it stops the workers, then disconnects, so the acks of what
// they committed are sent first.
func (in *Ingest) session(ctx context.Context, stop func()) error {
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(in.o.Broker).
		SetClientID(in.o.ClientID).
		SetUsername(in.o.Username).
		SetPassword(in.o.Password).
		SetCleanSession(false).   // the broker queues QoS 1 messages while we are away
		SetAutoReconnect(false).  // a new client per connection (see Run)
		SetConnectRetry(false).   // our loop retries
		SetOrderMatters(false).   // handlers run in their own goroutines
		SetAutoAckDisabled(true). // ack only after the sink committed
		SetResumeSubs(false).     // we subscribe on every connection
		SetKeepAlive(in.o.KeepAlive).
		SetPingTimeout(in.o.ConnectTimeout).
		SetConnectTimeout(in.o.ConnectTimeout).
		SetWriteTimeout(in.o.ConnectTimeout).
		// The default handler, not a per-subscription one: with a resumed
		// session the broker may deliver before our SUBSCRIBE is answered,
		// and paho leaves a message no handler matches unacknowledged.
		SetDefaultPublishHandler(in.handle).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if in.o.TLS != nil {
		opts.SetTLSConfig(in.o.TLS)
	}
	c := mqtt.NewClient(opts)
	ct := c.Connect()
	if err := in.wait(ctx, ct); err != nil {
		c.Disconnect(0) // also aborts a connect in progress, in the background
		if ctx.Err() != nil {
			stop()
			return nil
		}
		return fmt.Errorf("connect %s: %w", in.o.Broker, err)
	}
	in.connects.Add(1)
	// Subscribe on every connection: it is idempotent, and it makes a
	// changed filter take effect. When the broker kept the session, the
	// subscription it holds keeps delivering even if this SUBSCRIBE is
	// refused, so a refusal then is only a warning. (mochi refuses it with
	// 0x91 when the SUBSCRIBE's packet id equals that of a message it is
	// redelivering: it shares one id space for both directions.)
	present := ct.(*mqtt.ConnectToken).SessionPresent()
	st := c.Subscribe(in.filter, 1, nil)
	err := in.wait(ctx, st)
	if err == nil {
		for _, code := range st.(*mqtt.SubscribeToken).Result() {
			if code > 2 { // 0x80: refused (ACL, or no shared subscriptions)
				err = fmt.Errorf("broker refused subscription %s (code %#x)", in.filter, code)
			}
		}
	}
	if err != nil && present && ctx.Err() == nil {
		in.log.Warn("subscribe refused; relying on the subscription of the resumed session", "err", err)
		err = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			stop()
			c.Disconnect(uint(in.o.Quiesce.Milliseconds()))
			return nil
		}
		c.Disconnect(0)
		return fmt.Errorf("subscribe %s: %w", in.filter, err)
	}
	in.connected.Store(true)
	in.readyMu.Do(func() { close(in.ready) })
	in.log.Info("subscribed", "broker", in.o.Broker, "filter", in.filter,
		"session_present", present)

	select {
	case <-ctx.Done():
		stop()
		c.Disconnect(uint(in.o.Quiesce.Milliseconds()))
		return nil
	case err := <-lost:
		return fmt.Errorf("connection lost: %w", err)
	}
}

// wait waits for a paho token, at most ConnectTimeout, or until ctx ends.
func (in *Ingest) wait(ctx context.Context, t mqtt.Token) error {
	timer := time.NewTimer(in.o.ConnectTimeout)
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

// handle is paho's message handler. It only enqueues: it never calls the
// sink. With OrderMatters false paho runs it in a goroutine of its own per
// message, so when the queue is full it waits for space there (counted in
// QueueWaits) without stalling paho's reader, keepalive or acks. Those
// waiting goroutines are bounded by the broker's in-flight window for this
// session (unacknowledged QoS 1 messages: mosquitto max_inflight_messages,
// 20 by default; mochi up to 8192), and the broker keeps everything beyond
// it queued in the session. Nothing is dropped: a message is either stored
// and acknowledged, rejected and acknowledged, or left unacknowledged for
// the broker to deliver again.
func (in *Ingest) handle(_ mqtt.Client, m mqtt.Message) {
	in.messages.Add(1)
	select {
	case in.queue <- m:
		return
	case <-in.done:
		return
	default:
	}
	in.waits.Add(1)
	select {
	case in.queue <- m:
	case <-in.done:
		// Stopping: the message stays unacknowledged and the broker
		// delivers it again.
	}
}

// work stores queued messages until ctx ends: with a BatchSink, the
// message it takes and those already waiting behind it in one call.
func (in *Ingest) work(ctx context.Context) {
	bs, batching := in.o.Sink.(BatchSink)
	batching = batching && in.o.BatchMessages > 1
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-in.queue:
			if batching {
				in.processBatch(ctx, bs, in.collect(m))
			} else {
				in.process(ctx, m)
			}
		}
	}
}

// process stores one message and acknowledges it once the sink committed,
// or rejects and acknowledges it. A sink error is retried with backoff on
// this worker (the queue backs up, then the broker's queue); when ctx ends
// first, the message stays unacknowledged.
func (in *Ingest) process(ctx context.Context, m mqtt.Message) {
	tenant, store, evs, err := decode(in.o.Tenant, m.Topic(), m.Payload())
	if err != nil {
		in.reject(m, err)
		m.Ack()
		return
	}
	in.events.Add(uint64(len(evs)))
	for attempt := 0; ; attempt++ {
		ins, dup, err := in.o.Sink.Store(ctx, tenant, store, evs)
		if err == nil {
			in.writes.Add(1)
			in.inserted.Add(uint64(ins))
			in.dups.Add(uint64(dup))
			m.Ack()
			return
		}
		if errors.Is(err, ErrRejected) {
			in.reject(m, &rejection{reason: RejectSink, err: err})
			m.Ack()
			return
		}
		if ctx.Err() != nil {
			return
		}
		in.sinkErrs.Add(1)
		delay := backoff(in.o.BackoffMin, in.o.BackoffMax, attempt)
		in.log.Warn("sink store failed; retrying", "tenant", tenant, "store", store,
			"events", len(evs), "err", err, "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// BatchSink is a Sink that can also store the events of several uplink
// messages in one transaction. When Options.Sink implements it, Ingest
// stores the messages waiting in its queue together (Options.BatchMessages),
// which saves a commit per message: a database sink reaches several times
// the throughput of one transaction per message that way.
type BatchSink interface {
	Sink

	// StoreBatch stores every batch as Store would, atomically: when it
	// returns an error, nothing of batches was stored, and the error is
	// taken as transient. Otherwise it returns one Result per batch, in
	// order: stored (Err nil), or rejected for good (Err wraps ErrRejected)
	// without keeping the other batches from being stored. A Result with
	// any other error means that batch was not stored and is offered again.
	// Duplicates count across batches too: an id repeated in a later batch
	// of the call is a duplicate there.
	StoreBatch(ctx context.Context, batches []Batch) ([]Result, error)
}

// Batch is the events of one uplink message, all from the store
// tenant/store, as Store takes them.
type Batch struct {
	Tenant, Store string
	Events        []wire.CloudEvent
}

// Result is what BatchSink.StoreBatch did with one Batch.
type Result struct {
	Inserted, Duplicates int
	Err                  error // nil when stored
}

// queued is a message that passed decode, on its way to a BatchSink.
type queued struct {
	m mqtt.Message
	b Batch
}

// collect decodes first and the messages already waiting in the queue, up
// to BatchMessages or BatchEvents, without waiting for more. A message that
// fails decode is rejected and acknowledged at once.
func (in *Ingest) collect(first mqtt.Message) []queued {
	var out []queued
	events := 0
	add := func(m mqtt.Message) {
		tenant, store, evs, err := decode(in.o.Tenant, m.Topic(), m.Payload())
		if err != nil {
			in.reject(m, err)
			m.Ack()
			return
		}
		in.events.Add(uint64(len(evs)))
		out = append(out, queued{m: m, b: Batch{Tenant: tenant, Store: store, Events: evs}})
		events += len(evs)
	}
	add(first)
	for taken := 1; taken < in.o.BatchMessages && events < in.o.BatchEvents; taken++ {
		select {
		case m := <-in.queue:
			add(m)
		default:
			return out
		}
	}
	return out
}

// processBatch stores messages in one StoreBatch call and acknowledges
// each once the sink committed it, or rejects and acknowledges it. An
// error is retried with backoff, as in process, for the messages it left
// unstored; when ctx ends first, they stay unacknowledged.
func (in *Ingest) processBatch(ctx context.Context, bs BatchSink, pending []queued) {
	for attempt := 0; len(pending) > 0; attempt++ {
		batches := make([]Batch, len(pending))
		for i := range pending {
			batches[i] = pending[i].b
		}
		res, err := bs.StoreBatch(ctx, batches)
		if err == nil && len(res) != len(batches) {
			err = fmt.Errorf("sink returned %d results for %d batches", len(res), len(batches))
		}
		if err == nil {
			in.writes.Add(1)
			var retry []queued
			for i, r := range res {
				switch {
				case r.Err == nil:
					in.inserted.Add(uint64(r.Inserted))
					in.dups.Add(uint64(r.Duplicates))
					pending[i].m.Ack()
				case errors.Is(r.Err, ErrRejected):
					in.reject(pending[i].m, &rejection{reason: RejectSink, err: r.Err})
					pending[i].m.Ack()
				default:
					retry = append(retry, pending[i])
					err = r.Err
				}
			}
			if pending = retry; len(pending) == 0 {
				return
			}
		}
		if errors.Is(err, ErrRejected) {
			// A rejection belongs in a Result; a sink that rejects the
			// whole call gets each message on its own, so that only the
			// bad one is rejected.
			if len(pending) == 1 {
				in.reject(pending[0].m, &rejection{reason: RejectSink, err: err})
				pending[0].m.Ack()
				return
			}
			for _, q := range pending {
				in.processBatch(ctx, bs, []queued{q})
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		in.sinkErrs.Add(1)
		events := 0
		for _, q := range pending {
			events += len(q.b.Events)
		}
		delay := backoff(in.o.BackoffMin, in.o.BackoffMax, attempt)
		in.log.Warn("sink store failed; retrying", "messages", len(pending), "events", events,
			"err", err, "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// reject counts and logs a message that can never be stored. The log names
// the topic, the size and why, never payload content.
func (in *Ingest) reject(m mqtt.Message, err error) {
	reason := rejectReason(err)
	for i, r := range rejectReasons {
		if r == reason {
			in.rejected[i].Add(1)
		}
	}
	in.log.Warn("rejected message", "reason", reason, "topic", clip(m.Topic(), 200),
		"bytes", len(m.Payload()), "err", clip(err.Error(), 300))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// backoff is the delay before retry number attempt (0 first): exponential
// from lo, capped at hi, with jitter in its upper half so a fleet of
// workers does not retry in lockstep.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// Stats are the Ingest's counters since New.
type Stats struct {
	Connected  bool   // connected and subscribed now
	Connects   uint64 // successful connections
	Messages   uint64 // MQTT messages received, redeliveries included
	Events     uint64 // events in messages that passed the checks
	Inserted   uint64 // events the sink stored
	Duplicates uint64 // events the sink already held
	Rejected   uint64 // messages rejected and acknowledged, all reasons
	SinkErrors uint64 // failed Store attempts (each was retried)
	SinkWrites uint64 // successful Store or StoreBatch calls: sink transactions
	QueueWaits uint64 // messages that waited for space in the full queue
	Queued     int    // messages waiting for a worker now
}

// Stats returns the current counters.
func (in *Ingest) Stats() Stats {
	s := Stats{
		Connected:  in.connected.Load(),
		Connects:   in.connects.Load(),
		Messages:   in.messages.Load(),
		Events:     in.events.Load(),
		Inserted:   in.inserted.Load(),
		Duplicates: in.dups.Load(),
		SinkErrors: in.sinkErrs.Load(),
		SinkWrites: in.writes.Load(),
		QueueWaits: in.waits.Load(),
		Queued:     len(in.queue),
	}
	for i := range in.rejected {
		s.Rejected += in.rejected[i].Load()
	}
	return s
}

// RejectedBy returns the rejected count of one reason (RejectTopic …).
func (in *Ingest) RejectedBy(reason string) uint64 {
	for i, r := range rejectReasons {
		if r == reason {
			return in.rejected[i].Load()
		}
	}
	return 0
}

type descs struct {
	connected, connects, messages, events, inserted, dups, rejected, sinkErrs, writes, waits, queued, capacity *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("redcarpet_hq_"+name, help, labels, nil)
	}
	return descs{
		connected: d("connected", "1 while the worker is connected and subscribed, else 0."),
		connects:  d("connects_total", "Successful connections to the broker."),
		messages:  d("messages_total", "MQTT messages received, redeliveries included."),
		events:    d("events_received_total", "Events in messages that passed the checks."),
		inserted:  d("events_inserted_total", "Events the sink stored."),
		dups:      d("events_duplicate_total", "Events dropped because the sink already held them."),
		rejected:  d("messages_rejected_total", "Messages rejected and acknowledged, by reason.", "reason"),
		sinkErrs:  d("sink_errors_total", "Failed sink writes; each is retried."),
		writes:    d("sink_writes_total", "Successful sink writes (transactions); several messages share one when batched."),
		waits:     d("queue_waits_total", "Messages that waited for space in the full work queue."),
		queued:    d("queue_messages", "Messages waiting for a worker."),
		capacity:  d("queue_capacity_messages", "Capacity of the work queue."),
	}
}

// Describe implements prometheus.Collector.
func (in *Ingest) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(in, ch)
}

// Collect implements prometheus.Collector: register the Ingest itself.
func (in *Ingest) Collect(ch chan<- prometheus.Metric) {
	s := in.Stats()
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
	g(in.desc.connected, up)
	g(in.desc.queued, float64(s.Queued))
	g(in.desc.capacity, float64(cap(in.queue)))
	c(in.desc.connects, s.Connects)
	c(in.desc.messages, s.Messages)
	c(in.desc.events, s.Events)
	c(in.desc.inserted, s.Inserted)
	c(in.desc.dups, s.Duplicates)
	c(in.desc.sinkErrs, s.SinkErrors)
	c(in.desc.writes, s.SinkWrites)
	c(in.desc.waits, s.QueueWaits)
	for i, r := range rejectReasons {
		c(in.desc.rejected, in.rejected[i].Load(), r)
	}
}
