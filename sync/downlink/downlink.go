package downlink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Options configures a Downlink. Zero values take the defaults noted.
type Options struct {
	Tenant, Store string // required: the store's topics

	// OnErase, when set, is told the members being erased, before the
	// outbox is purged of their events, so that state outside the store
	// (the engine's open visits and uncommitted events) forgets them too.
	// It may wait for that, briefly: the downlink holds no transaction.
	OnErase func(memberIDs []string)

	PageSize   int           // changes asked per page (the request's Max); default 500
	RetryAfter time.Duration // ask again after this long without an answer; default 10s
	// SyncWait is how long Attach waits for the store to catch up with HQ
	// before it returns (and the uplink starts draining the outbox), so
	// erasures that arrived while the store was offline purge the outbox
	// before its backlog leaves. Default 20s; negative: do not wait.
	SyncWait time.Duration
	// HeadWait is how long Attach waits for HQ's retained head before
	// concluding HQ serves no downlink and returning at once; default 1s.
	HeadWait         time.Duration
	SubscribeTimeout time.Duration // Attach's SUBSCRIBE; default 10s

	// TxHold bounds how long one transaction holds bbolt's single writer
	// beyond the fixed cost of a commit (its fsyncs, which the engine's own
	// outbox commits pay as well): an outbox commit waits for the downlink
	// at most about that plus one fsync. The changes per transaction adapt
	// to it (halved after a longer transaction, grown after a much shorter
	// one), up to TxChanges. Default 3ms.
	TxHold    time.Duration
	TxChanges int // changes per transaction at most; default 256
	// TxPause is a pause between two transactions of a batch, so that a
	// writer that queued for bbolt's lock meanwhile (the engine) gets it
	// first and usually finds it free. It trades snapshot speed for
	// recognition latency (see BenchmarkSnapshot1M). Default 1ms;
	// negative: none.
	TxPause time.Duration

	Queue int // pages waiting for Run; default 8 (a full queue drops, counted: Run asks again)

	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default time.Now
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 10 * time.Second
	}
	def(&o.SyncWait, 20*time.Second)
	def(&o.HeadWait, time.Second)
	if o.SubscribeTimeout <= 0 {
		o.SubscribeTimeout = 10 * time.Second
	}
	if o.TxChanges <= 0 {
		o.TxChanges = 256
	}
	if o.TxPause == 0 {
		o.TxPause = time.Millisecond
	}
	if o.TxHold <= 0 {
		o.TxHold = 3 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 8
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Downlink keeps a store's member and offer data converged to HQ's change
// log. See the package documentation.
type Downlink struct {
	o   Options
	log *slog.Logger
	db  *bolt.DB
	st  *store.Store
	ob  *outbox.Outbox

	// Shared with paho's handlers and Attach/Detach.
	mu       sync.Mutex
	client   mqtt.Client
	synced   chan struct{} // closed when the current attachment caught up
	attached chan struct{} // one slot: a new attachment
	headRaw  []byte        // the latest retained head payload
	headSeen atomic.Bool   // a head arrived since the last Attach
	headSig  chan struct{} // one slot: headRaw changed
	pages    chan []byte
	resends  chan []byte // HQ's requests to send events again
	running  atomic.Bool
	started  atomic.Bool

	// Owned by Run.
	out   *outstanding
	snap  *progress
	head  wire.Head
	chunk int           // changes per transaction now (see TxHold)
	fixed time.Duration // the fixed cost of a commit, as measured (see update)

	cursor     atomic.Uint64
	inSnapshot atomic.Bool // snap != nil, for Stats
	stats      counters
}

// setSnap replaces the snapshot in progress (nil: none).
func (d *Downlink) setSnap(p *progress) {
	d.snap = p
	d.inSnapshot.Store(p != nil)
}

// outstanding is the request awaiting its answer.
type outstanding struct {
	req    wire.ChangeRequest
	sentAt time.Time
	tok    mqtt.Token
}

// New prepares the downlink's state in db (the store's database, which st
// and ob live in too). Run does the work; Attach gives it a connection.
func New(db *bolt.DB, st *store.Store, ob *outbox.Outbox, o Options) (*Downlink, error) {
	o.defaults()
	if o.Tenant == "" || o.Store == "" {
		return nil, errors.New("downlink: tenant and store are required")
	}
	if db == nil || st == nil || ob == nil {
		return nil, errors.New("downlink: database, store and outbox are required")
	}
	d := &Downlink{
		o: o, db: db, st: st, ob: ob,
		log:      o.Logger.With("component", "downlink"),
		attached: make(chan struct{}, 1),
		headSig:  make(chan struct{}, 1),
		pages:    make(chan []byte, o.Queue),
		resends:  make(chan []byte, 8),
		chunk:    min(16, o.TxChanges),
	}
	p, err := load(db)
	if err != nil {
		return nil, fmt.Errorf("downlink: %w", err)
	}
	if p.tenant != o.Tenant {
		if p.tenant != "" {
			d.log.Warn("database synced another tenant; starting over with a snapshot", "was", p.tenant, "tenant", o.Tenant)
		}
		if err := reset(db, o.Tenant); err != nil {
			return nil, fmt.Errorf("downlink: %w", err)
		}
		p = persisted{tenant: o.Tenant}
	}
	d.cursor.Store(p.cursor)
	d.setSnap(p.snap)
	return d, nil
}

// Version is the change log version the store has applied (its cursor).
// During a snapshot it stays at the version before the snapshot.
func (d *Downlink) Version() uint64 { return d.cursor.Load() }

// Attach starts using c, a connected client (the uplink's, from its
// OnConnect hook): it subscribes to the tenant's head and the store's
// changes at QoS 1, and has Run ask HQ at once. Then, unless SyncWait is
// negative, it waits until the store has caught up with HQ (HQ's answer
// says nothing newer remains, and no snapshot is in progress), at most
// SyncWait, or until c loses its connection or Detach is called. A store
// that did not catch up in time carries on catching up after Attach
// returns. Attach returns an error only when the subscription fails.
func (d *Downlink) Attach(c mqtt.Client) error {
	filters := map[string]byte{
		wire.HeadTopic(d.o.Tenant):               1,
		wire.ChangesTopic(d.o.Tenant, d.o.Store): 1,
		wire.ResendTopic(d.o.Tenant, d.o.Store):  1,
	}
	d.headSeen.Store(false)
	tok := c.SubscribeMultiple(filters, d.handle)
	if !tok.WaitTimeout(d.o.SubscribeTimeout) {
		return fmt.Errorf("downlink: subscribe: no answer within %s", d.o.SubscribeTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("downlink: subscribe: %w", err)
	}
	for f, code := range tok.(*mqtt.SubscribeToken).Result() {
		if code > 2 {
			return fmt.Errorf("downlink: broker refused subscription %s (code %#x)", f, code)
		}
	}
	synced := make(chan struct{})
	d.mu.Lock()
	d.client = c
	d.synced = synced
	d.mu.Unlock()
	d.stats.attaches.Add(1)
	select {
	case d.attached <- struct{}{}:
	default:
	}
	if d.o.SyncWait < 0 || !d.running.Load() {
		return nil
	}
	deadline := time.NewTimer(d.o.SyncWait)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	attached := time.Now()
	for {
		select {
		case <-synced:
			return nil
		case <-deadline.C:
			d.log.Warn("not caught up with HQ yet; the uplink starts anyway", "version", d.Version(), "wait", d.o.SyncWait)
			return nil
		case <-poll.C:
			if !c.IsConnectionOpen() || !d.running.Load() {
				return nil
			}
			// The broker sends the retained head right after the
			// subscription: without one, HQ serves no downlink for this
			// tenant and there is nothing to wait for.
			if !d.headSeen.Load() && time.Since(attached) > d.o.HeadWait {
				d.log.Info("no change log head from HQ; the uplink starts", "wait", d.o.HeadWait)
				return nil
			}
		}
	}
}

// Detach stops using the client given to Attach (call it before that
// client disconnects: the uplink's OnDisconnect hook). Run keeps applying
// what it received, and asks again on the next Attach.
func (d *Downlink) Detach() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.client = nil
	if d.synced != nil {
		closeOnce(d.synced)
		d.synced = nil
	}
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// handle is paho's message handler for both topics: it only hands the
// payload to Run. The latest head replaces the previous one; a page finding
// the queue full is dropped and counted (Run asks again).
func (d *Downlink) handle(_ mqtt.Client, m mqtt.Message) {
	if m.Topic() == wire.HeadTopic(d.o.Tenant) {
		d.mu.Lock()
		d.headRaw = m.Payload()
		d.mu.Unlock()
		d.headSeen.Store(true)
		select {
		case d.headSig <- struct{}{}:
		default:
		}
		return
	}
	if m.Topic() == wire.ResendTopic(d.o.Tenant, d.o.Store) {
		select {
		case d.resends <- m.Payload():
		default: // HQ asks again at its next check
		}
		return
	}
	select {
	case d.pages <- m.Payload():
	default:
		d.stats.dropped.Add(1)
	}
}

// Run applies what HQ sends and asks for what is missing until ctx ends;
// it returns nil then (cancellation is not an error). It first finishes
// the work a crash may have interrupted: erasures whose outbox purge or
// acknowledgement was not done, and a snapshot's sweep. Run may be called
// once.
func (d *Downlink) Run(ctx context.Context) error {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("downlink: Run called twice")
	}
	d.running.Store(true)
	defer d.running.Store(false)
	if err := d.finishPending(ctx); err != nil && ctx.Err() == nil {
		d.log.Error("finish pending erasures", "err", err)
	}
	if d.snap != nil && d.snap.Phase != phasePages {
		if err := d.sweep(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("finish snapshot sweep", "err", err)
		}
	}
	tick := time.NewTicker(max(d.o.RetryAfter/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.attached:
			d.out = nil
			d.ask()
		case <-d.headSig:
			d.readHead()
			if d.out == nil && d.snap == nil && d.head.Version > d.cursor.Load() {
				d.ask()
			}
		case p := <-d.pages:
			d.onPage(ctx, p)
		case r := <-d.resends:
			d.onResend(r)
		case <-tick.C:
			switch {
			case d.out != nil && d.o.Now().Sub(d.out.sentAt) >= d.o.RetryAfter:
				d.stats.retries.Add(1)
				d.send(d.out.req)
			case d.out == nil && (d.snap != nil || d.head.Version > d.cursor.Load()):
				d.ask()
			}
		}
	}
}

// onResend queues again the events HQ is missing that the outbox still
// keeps (outbox.Resend). The uplink, which shares the connection, sends
// them under their original ids.
func (d *Downlink) onResend(raw []byte) {
	req, err := DecodeResend(raw)
	if err != nil {
		d.stats.badResends.Add(1)
		d.log.Warn("bad resend request", "bytes", len(raw), "err", err)
		return
	}
	ranges := make([]outbox.Range, len(req.Ranges))
	for i, r := range req.Ranges {
		ranges[i] = outbox.Range{From: r.From, To: r.To}
	}
	n, err := d.ob.Resend(req.Epoch, ranges)
	if err != nil {
		d.log.Error("resend", "request", req.RequestID, "err", err)
		return
	}
	d.stats.resent.Add(uint64(n))
	d.log.Info("HQ asked for events again", "request", req.RequestID, "epoch", req.Epoch, "ranges", len(req.Ranges), "queued", n)
}

// readHead decodes the latest retained head.
func (d *Downlink) readHead() {
	d.mu.Lock()
	raw := d.headRaw
	d.mu.Unlock()
	if len(raw) == 0 {
		return // a cleared retained message
	}
	var h wire.Head
	if len(raw) > 4096 || json.Unmarshal(raw, &h) != nil {
		d.stats.bad.Add(1)
		return
	}
	d.head = h
	d.stats.head.Store(h.Version)
}

// ask sends a new request for what the store needs next: the next page of
// the snapshot in progress, or the changes after the cursor.
func (d *Downlink) ask() {
	if d.snap != nil && d.snap.Phase != phasePages {
		return // sweeping: nothing to ask yet
	}
	d.send(d.request())
}

func (d *Downlink) request() wire.ChangeRequest {
	req := wire.ChangeRequest{RequestID: newID(), Since: d.cursor.Load(), Max: d.o.PageSize}
	if d.snap != nil {
		req.SnapshotID, req.Snapshot = d.snap.ID, d.snap.Next
	}
	return req
}

// send publishes req (again, after a timeout) on the attached client. The
// PUBACK is not awaited: an answer that does not come is asked for again.
func (d *Downlink) send(req wire.ChangeRequest) {
	d.mu.Lock()
	c := d.client
	d.mu.Unlock()
	if c == nil {
		d.out = nil
		return
	}
	b, err := json.Marshal(&req)
	if err != nil {
		d.log.Error("encode request", "err", err)
		return
	}
	tok := c.Publish(wire.RequestTopic(d.o.Tenant, d.o.Store), 1, false, b)
	d.out = &outstanding{req: req, sentAt: d.o.Now(), tok: tok}
	d.stats.requests.Add(1)
}

// markSynced tells a waiting Attach that the store caught up.
func (d *Downlink) markSynced() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.synced != nil {
		closeOnce(d.synced)
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onPage handles one payload from the changes topic.
func (d *Downlink) onPage(ctx context.Context, payload []byte) {
	d.stats.pagesIn.Add(1)
	p, err := DecodePage(payload)
	if err != nil {
		d.stats.bad.Add(1)
		d.log.Warn("bad page", "bytes", len(payload), "err", err)
		return
	}
	cursor := d.cursor.Load()
	answers := d.out != nil && p.RequestID == d.out.req.RequestID
	if p.Snapshot != nil {
		// A snapshot page is only meaningful as the answer to the question
		// asked: its position is known from the request alone.
		if !answers {
			d.stale()
			return
		}
		if err := d.applySnapshotPage(ctx, p); err != nil {
			d.applyFailed(ctx, err)
			return
		}
		d.out = nil
		d.ask() // the next page, or the changes after a completed snapshot
		return
	}
	// Changes: the answer to "since cursor", or any page that continues
	// the cursor exactly (a duplicate answer, or one to an earlier question).
	ok := answers && d.out.req.Since == cursor && d.out.req.SnapshotID == "" && d.out.req.Snapshot == ""
	if !ok {
		ok = d.snap == nil && len(p.Changes) > 0 && p.Changes[0].Version == cursor+1
	}
	if !ok || d.snap != nil {
		d.stale()
		return
	}
	if err := d.applyChanges(ctx, p.Changes); err != nil {
		d.applyFailed(ctx, err)
		return
	}
	d.out = nil
	d.stats.pages.Add(1)
	now := d.cursor.Load()
	if p.Head <= now {
		d.markSynced()
	}
	// More to fetch: ask at once. (After an empty page, only the ticker
	// asks again, so an inconsistent HQ cannot cause a request loop.)
	if len(p.Changes) > 0 && (p.Head > now || d.head.Version > now) {
		d.ask()
	}
}

// stale counts an ignored page and asks again when no question is open
// (a page the store cannot use hints that it missed something).
func (d *Downlink) stale() {
	d.stats.stale.Add(1)
	if d.out == nil {
		d.ask()
	}
}

// applyFailed logs a failed apply. The cursor did not move past what was
// committed, and the question stays open: the retry timer asks again.
func (d *Downlink) applyFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	d.stats.applyErrors.Add(1)
	d.log.Error("apply page", "err", err)
	if d.out == nil {
		// Ask again, but only after RetryAfter: a failing disk must not
		// turn into a request loop.
		req := d.request()
		d.out = &outstanding{req: req, sentAt: d.o.Now()}
	}
}
