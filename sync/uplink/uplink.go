// Package uplink sends the outbox to HQ over MQTT 3.1.1.
//
// # Delivery
//
// Events leave in CloudEvents JSON batches, one kind per message, published
// at QoS 1 to redcarpet/v1/{tenant}/{store}/up/{kind}. A record is deleted
// from the outbox only after the broker acknowledged (PUBACK) the message
// that carried it, on the connection that carried it. That is why paho's
// auto-reconnect is off: with it, paho completes a publish token with a nil
// error when it merely re-queued the message for a later connection
// (paho.mqtt.golang#563), and an outbox row would be deleted while its only
// copy sat in paho's memory. Here every connection is a new client; when it
// breaks, whatever was not acknowledged is still in the outbox and is sent
// again on the next connection. Delivery is therefore at least once, and HQ
// deduplicates on the event id.
//
// # Flow
//
// Up to InFlight messages await their PUBACK at once. Acknowledgements are
// applied oldest first; a message not acknowledged within AckTimeout, or any
// publish error, ends the connection (a watchdog against a stalled session).
// A partial batch waits up to BatchMaxAge for more events. Reconnects back
// off exponentially from BackoffMin to BackoffMax with jitter, so a fleet of
// stores does not reconnect in lockstep after a broker restart.
//
// The store's retained state topic says online (with the backlog) while
// connected; the broker publishes the offline Last Will when the connection
// dies without a clean disconnect.
package uplink

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Options configures the uplink. Zero values take the defaults noted.
type Options struct {
	Broker   string // tcp://host:1883 or ssl://host:8883
	ClientID string
	Username string
	Password string
	TLS      *tls.Config // nil: no TLS unless the scheme asks for it

	Tenant, Store string
	Version       string // reported in the state topic
	// Recovered, when set, is reported in the state topic (wire.State):
	// the database was found corrupt at start and replaced.
	Recovered string

	BatchMaxEvents int           // default 200
	BatchMaxBytes  int           // payload bytes per message; default 128 KiB
	BatchMaxAge    time.Duration // linger for a fuller batch; default 500ms
	InFlight       int           // messages awaiting PUBACK; default 16
	BackoffMin     time.Duration // default 500ms
	BackoffMax     time.Duration // default 30s
	AckTimeout     time.Duration // default 20s
	ConnectTimeout time.Duration // default 10s
	KeepAlive      time.Duration // default 30s
	StateEvery     time.Duration // state refresh while connected; default 30s

	// OnConnect, when set, is called on every new connection with its
	// client, after the online state was published and before the outbox
	// is drained, so another component (the downlink) can share the store's
	// one MQTT connection: one client id per store, and a second client
	// with the same id would take the session away. It may subscribe and
	// publish, and may block for a bounded time (the drain waits for it).
	// An error ends the session, which is retried as any other failure.
	OnConnect func(c mqtt.Client) error
	// OnDisconnect, when set, is called when a session whose OnConnect was
	// called ends (OnConnect's error included), before the client
	// disconnects. The client must not be used after it returns.
	OnDisconnect func()
	// Downlink, when set, reports the change log version the store has
	// applied; the retained state carries it for HQ.
	Downlink func() uint64

	Logger *slog.Logger
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.BatchMaxEvents <= 0 {
		o.BatchMaxEvents = 200
	}
	if o.BatchMaxBytes <= 0 {
		o.BatchMaxBytes = 128 << 10
	}
	if o.InFlight <= 0 {
		o.InFlight = 16
	}
	def(&o.BatchMaxAge, 500*time.Millisecond)
	def(&o.BackoffMin, 500*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.AckTimeout, 20*time.Second)
	def(&o.ConnectTimeout, 10*time.Second)
	def(&o.KeepAlive, 30*time.Second)
	def(&o.StateEvery, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Uplink drains an outbox to the broker.
type Uplink struct {
	o   Options
	ob  *outbox.Outbox
	log *slog.Logger

	connected                         atomic.Bool
	connects, failures                atomic.Uint64
	messages, eventsSent, eventsAcked atomic.Uint64
	unsendable                        atomic.Uint64
	lastAck                           atomic.Int64 // unix nanoseconds
}

// New returns an uplink for ob.
func New(ob *outbox.Outbox, o Options) *Uplink {
	o.defaults()
	return &Uplink{o: o, ob: ob, log: o.Logger.With("component", "uplink")}
}

// Run keeps a connection to the broker and drains the outbox until ctx ends.
// It returns nil when ctx ends: cancellation is not an error.
func (u *Uplink) Run(ctx context.Context) error {
	attempt := 0
	for {
		start := time.Now()
		acked := u.eventsAcked.Load()
		err := u.session(ctx)
		u.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		// A session that lived a while or delivered something was healthy:
		// start the backoff over.
		if time.Since(start) > time.Minute || u.eventsAcked.Load() > acked {
			attempt = 0
		}
		delay := backoff(u.o.BackoffMin, u.o.BackoffMax, attempt)
		attempt++
		u.log.Warn("broker connection ended; reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// backoff returns the delay before reconnect attempt n: exponential from lo,
// capped at hi, with "equal jitter" (half fixed, half random).
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := hi
	if n < 32 {
		d = min(hi, lo<<n)
	}
	return d/2 + rand.N(d/2+1)
}

// inflight is one published message awaiting its PUBACK.
type inflight struct {
	tok    mqtt.Token
	keys   []outbox.Key
	sentAt time.Time
}

var errAckTimeout = errors.New("no PUBACK within the ack timeout")

// session runs one connection with a fresh client until it fails or ctx
// ends.
func (u *Uplink) session(ctx context.Context) error {
	lost := make(chan error, 1)
	c, err := u.connect(ctx, lost)
	if err != nil {
		u.failures.Add(1)
		return err
	}
	defer c.Disconnect(250)
	// A clean disconnect does not fire the Last Will: say offline, however
	// the session was left when the context was cancelled (even in the
	// middle of another publish).
	defer func() {
		if ctx.Err() != nil && c.IsConnectionOpen() {
			stop, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = u.publishState(stop, c, false)
			cancel()
		}
	}()
	u.connects.Add(1)
	u.connected.Store(true)
	u.log.Info("connected to broker", "broker", u.o.Broker, "backlog", u.ob.Stats().Backlog)
	if err := u.publishState(ctx, c, true); err != nil {
		return err
	}
	if u.o.OnConnect != nil {
		if u.o.OnDisconnect != nil {
			defer u.o.OnDisconnect() // deferred after Disconnect: runs before it
		}
		if err := u.o.OnConnect(c); err != nil {
			return fmt.Errorf("on connect: %w", err)
		}
	}

	var (
		cur         outbox.Cursor
		window      []inflight
		linger      *time.Timer
		lingerC     <-chan time.Time
		stateTick   = time.NewTicker(u.o.StateEvery)
		wantSend    = true // read the outbox at once: it may hold a backlog
		rewinds     = u.ob.Rewinds()
		drainedSaid bool // the state after the last drain was published
		lingerDone  = false
	)
	defer stateTick.Stop()
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		if wantSend && len(window) < u.o.InFlight {
			// Linger for a fuller batch unless one is already waiting or
			// the linger expired.
			if !lingerDone && u.ob.Stats().Backlog-u.pendingEvents(window) < u.o.BatchMaxEvents {
				if linger == nil {
					linger = time.NewTimer(u.o.BatchMaxAge)
					lingerC = linger.C
				}
			} else {
				more, err := u.fill(c, &cur, &window)
				if err != nil {
					return err
				}
				wantSend, lingerDone = more, false
			}
		}
		var head <-chan struct{}
		var ackTimer <-chan time.Time
		if len(window) > 0 {
			head = window[0].tok.Done()
			ackTimer = time.After(time.Until(window[0].sentAt.Add(u.o.AckTimeout)))
		}
		select {
		case <-ctx.Done():
			u.settle(window) // record what was acknowledged before leaving
			return ctx.Err()
		case err := <-lost:
			u.settle(window)
			return fmt.Errorf("connection lost: %w", err)
		case <-u.ob.Notify():
			wantSend, drainedSaid = true, false
			// HQ asked for records again (Resend): they are queued behind
			// the cursor, so read from the start. Records in flight are
			// sent twice; HQ drops the copies.
			if r := u.ob.Rewinds(); r != rewinds {
				rewinds, cur = r, outbox.Cursor{}
			}
		case <-lingerC:
			linger, lingerC, lingerDone, wantSend = nil, nil, true, true
		case <-head:
			n, err := u.settle(window)
			window = window[n:]
			if err != nil {
				return err
			}
			wantSend = true
			// Drained: tell HQ at once, so its watermark is exact and it
			// can ask for whatever the broker lost.
			if len(window) == 0 && u.ob.Stats().Backlog == 0 && !drainedSaid {
				if err := u.publishState(ctx, c, true); err != nil {
					return err
				}
				drainedSaid = true
			}
		case <-ackTimer:
			// The loop may have been busy past the deadline while the PUBACK
			// arrived: only a head still unacknowledged is a timeout.
			if !done(window[0].tok) {
				return errAckTimeout
			}
		case <-stateTick.C:
			if err := u.publishState(ctx, c, true); err != nil {
				return err
			}
		}
	}
}

// pendingEvents counts events in flight.
func (u *Uplink) pendingEvents(window []inflight) int {
	n := 0
	for _, f := range window {
		n += len(f.keys)
	}
	return n
}

// fill publishes messages until the window is full or the outbox has nothing
// more after cur. It reports whether more may be waiting.
func (u *Uplink) fill(c mqtt.Client, cur *outbox.Cursor, window *[]inflight) (bool, error) {
	for len(*window) < u.o.InFlight {
		recs, next, err := u.ob.Read(*cur, u.o.BatchMaxEvents, u.o.BatchMaxBytes)
		if err != nil {
			return false, err
		}
		if len(recs) == 0 {
			return false, nil
		}
		*cur = next
		for _, m := range u.pack(recs) {
			tok := c.Publish(m.topic, 1, false, m.payload)
			*window = append(*window, inflight{tok: tok, keys: m.keys, sentAt: time.Now()})
			u.messages.Add(1)
			u.eventsSent.Add(uint64(len(m.keys)))
		}
	}
	return true, nil
}

// settle deletes the records of acknowledged messages at the head of the
// window, in order, and returns how many messages it settled. A failed
// publish ends the session.
func (u *Uplink) settle(window []inflight) (int, error) {
	var (
		keys   []outbox.Key
		n      int
		failed error
	)
	for _, f := range window {
		if !done(f.tok) {
			break
		}
		if err := f.tok.Error(); err != nil {
			failed = fmt.Errorf("publish: %w", err)
			break
		}
		keys = append(keys, f.keys...)
		n++
	}
	if len(keys) > 0 {
		if err := u.ob.Delete(keys); err != nil {
			// The broker has them; they will be sent again and HQ will drop
			// the duplicates.
			return n, fmt.Errorf("delete acknowledged events: %w", err)
		}
		u.eventsAcked.Add(uint64(len(keys)))
		u.lastAck.Store(time.Now().UnixNano())
	}
	return n, failed
}

func done(t mqtt.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// message is one MQTT message: a CloudEvents batch of one kind.
type message struct {
	topic   string
	payload []byte
	keys    []outbox.Key
}

// pack groups records by kind, keeping their order, and splits each group
// into messages of at most BatchMaxBytes (a single larger event still goes,
// alone).
func (u *Uplink) pack(recs []outbox.Record) []message {
	var order []edge.Kind
	groups := map[edge.Kind][]outbox.Record{}
	for _, r := range recs {
		k := r.Event.Kind
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []message
	for _, k := range order {
		topic := wire.UplinkTopic(u.o.Tenant, u.o.Store, k)
		var cur message
		flush := func() {
			if len(cur.keys) > 0 {
				cur.payload = append(cur.payload, ']')
				out = append(out, cur)
			}
			cur = message{}
		}
		for _, r := range groups[k] {
			ces, err := wire.Encode(u.o.Tenant, u.o.Store, []edge.Event{r.Event})
			var b []byte
			if err == nil {
				b, err = json.Marshal(ces[0])
			}
			if err != nil {
				// Cannot happen for events the outbox accepted; if it does,
				// the record stays in the outbox, visible in the backlog.
				u.unsendable.Add(1)
				u.log.Error("event cannot be encoded; left in the outbox", "seq", r.Seq, "err", err)
				continue
			}
			if len(cur.keys) > 0 && len(cur.payload)+1+len(b)+1 > u.o.BatchMaxBytes {
				flush()
			}
			if len(cur.keys) == 0 {
				cur = message{topic: topic, payload: append(make([]byte, 0, u.o.BatchMaxBytes/4), '[')}
			} else {
				cur.payload = append(cur.payload, ',')
			}
			cur.payload = append(cur.payload, b...)
			cur.keys = append(cur.keys, r.Key())
		}
		flush()
	}
	return out
}

// connect dials a new client. Every connection gets its own client: paho
// clients are not safe to reuse after a disconnect.
func (u *Uplink) connect(ctx context.Context, lost chan<- error) (mqtt.Client, error) {
	will, _ := json.Marshal(wire.State{Online: false, Version: u.o.Version, Epoch: u.ob.Epoch(), Recovered: u.o.Recovered})
	opts := mqtt.NewClientOptions().
		AddBroker(u.o.Broker).
		SetClientID(u.o.ClientID).
		SetUsername(u.o.Username).
		SetPassword(u.o.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetKeepAlive(u.o.KeepAlive).
		SetPingTimeout(10*time.Second).
		SetConnectTimeout(u.o.ConnectTimeout).
		SetWriteTimeout(u.o.AckTimeout).
		SetBinaryWill(wire.StateTopic(u.o.Tenant, u.o.Store), will, 1, true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if u.o.TLS != nil {
		opts.SetTLSConfig(u.o.TLS)
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		go func() { <-tok.Done(); c.Disconnect(0) }() // paho has no connect cancellation
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect %s: %w", u.o.Broker, err)
	}
	return c, nil
}

// publishState publishes the retained state and waits for its PUBACK.
func (u *Uplink) publishState(ctx context.Context, c mqtt.Client, online bool) error {
	ob := u.ob.Stats()
	st := wire.State{Online: online, Version: u.o.Version, Backlog: ob.Backlog, Epoch: ob.Epoch, Seq: ob.LastSeq, At: time.Now().UTC(), Recovered: u.o.Recovered}
	if u.o.Downlink != nil {
		st.Downlink = u.o.Downlink()
	}
	b, _ := json.Marshal(st)
	tok := c.Publish(wire.StateTopic(u.o.Tenant, u.o.Store), 1, true, b)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish state: %w", err)
		}
		return nil
	case <-time.After(u.o.AckTimeout):
		return fmt.Errorf("publish state: %w", errAckTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats is a snapshot of the uplink counters.
type Stats struct {
	Connected       bool
	Connects        uint64 // successful connections
	ConnectFailures uint64
	Messages        uint64 // MQTT messages published
	EventsSent      uint64 // events published (duplicates after a reconnect included)
	EventsAcked     uint64 // events acknowledged by the broker and deleted
	Unsendable      uint64 // events that could not be encoded
	LastAck         time.Time
}

// Stats returns the uplink counters.
func (u *Uplink) Stats() Stats {
	s := Stats{
		Connected: u.connected.Load(), Connects: u.connects.Load(), ConnectFailures: u.failures.Load(),
		Messages: u.messages.Load(), EventsSent: u.eventsSent.Load(), EventsAcked: u.eventsAcked.Load(),
		Unsendable: u.unsendable.Load(),
	}
	if t := u.lastAck.Load(); t != 0 {
		s.LastAck = time.Unix(0, t)
	}
	return s
}
