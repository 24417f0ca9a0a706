package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/signage"
	"github.com/redcarpet-retail/redcarpet/sync/downlink"
	"github.com/redcarpet-retail/redcarpet/sync/uplink"
)

// driver is one device driver: open opens its device(s) and returns the
// session that reads them; it reports for the named devices. The daemon
// opens it again, with backoff, whenever opening or the session fails.
type driver struct {
	devices []configs.Device
	open    func() (session, error)
}

// session is one opened device: run reads it until ctx ends (returning
// nil) or the device fails; close, when not nil, releases it afterwards.
type session struct {
	run   func(ctx context.Context, out chan<- edge.Event) error
	close func() error
}

// always is a driver that needs no opening (the simulation).
func always(run func(ctx context.Context, out chan<- edge.Event) error) func() (session, error) {
	return func() (session, error) { return session{run: run}, nil }
}

// daemonOpts are what differ between `run` and `demo`.
type daemonOpts struct {
	now      func() time.Time      // engine clock; nil: time.Now
	drivers  []driver              // device drivers
	hardware bool                  // also drive the configured hardware devices
	status   func() map[string]any // extra overview status
	listener net.Listener          // HTTP listener; nil: listen on cfg.HTTP.Listen
	logger   *slog.Logger          // required
	tls      *tls.Config           // HQ TLS; nil: built from cfg.HQ
	password string                // HQ password; "": read cfg.HQ.PasswordFile
	// display wraps what the engine tells (the demo's simulated tills);
	// nil: the signage server alone.
	display func(edge.Display) edge.Display
	notify  *notifier // systemd notifications (notify.go); nil: none
}

// daemon is the store gateway with every component wired once.
type daemon struct {
	cfg    *configs.Config
	log    *slog.Logger
	db     *database
	inbox  *edge.Inbox
	engine *edge.Engine
	uplink *uplink.Uplink
	// downlink shares the uplink's connection.
	downlink *downlink.Downlink
	web      *signage.Server
	http     *http.Server
	handler  http.Handler // every HTTP route
	ln       net.Listener
	reg      *prometheus.Registry
	opts     daemonOpts
	meters   map[string]*drivers.Meter // by device name
	// laneTokens are the checkout terminals' tokens by lane; adminToken is
	// valid for every lane.
	laneTokens map[string]string
	adminToken string

	driverRun, engineRun, uplinkRun, downlinkRun, httpRun *task
	notifyRun                                             *task // systemd notifications
	started                                               time.Time
}

// laneIDs lists the configured lanes.
func laneIDs(cfg *configs.Config) []string {
	ids := make([]string, len(cfg.Lanes))
	for i, l := range cfg.Lanes {
		ids[i] = l.ID
	}
	return ids
}

// task is a goroutine with an owner and a stop path.
type task struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func start(f func(ctx context.Context) error) *task {
	ctx, cancel := context.WithCancel(context.Background())
	t := &task{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.err = f(ctx)
	}()
	return t
}

func (t *task) stop() error {
	if t == nil {
		return nil
	}
	t.cancel()
	<-t.done
	return t.err
}

// newDaemon builds the daemon. Nothing runs until start.
func newDaemon(cfg *configs.Config, o daemonOpts) (*daemon, error) {
	d := &daemon{cfg: cfg, log: o.logger, opts: o, inbox: edge.NewInbox(edge.DefaultInboxSize), meters: map[string]*drivers.Meter{}}
	for _, dev := range cfg.Devices {
		d.meters[dev.Name] = drivers.NewMeter()
	}
	tlsCfg := o.tls
	if tlsCfg == nil {
		var err error
		if tlsCfg, err = configs.LoadTLS(cfg.HQ.Broker, cfg.HQ.CAFile, cfg.HQ.CertFile, cfg.HQ.KeyFile); err != nil {
			return nil, fmt.Errorf("hq: %w", err)
		}
	}
	if err := checkIdentity(tlsCfg, cfg.Store.ID); err != nil {
		return nil, err
	}
	password := o.password
	if password == "" && cfg.HQ.PasswordFile != "" {
		b, err := os.ReadFile(cfg.HQ.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("hq.password_file: %w", err)
		}
		password = strings.TrimSpace(string(b))
	}
	db, err := openDatabase(cfg)
	if err != nil {
		return nil, err
	}
	d.db = db
	if db.compacted != "" {
		d.log.Info(db.compacted)
	}
	if db.corrupt != nil {
		d.log.Error("database corrupt: moved aside; a fresh one resynchronises from HQ, the events it still queued are lost",
			"error", db.corrupt, "moved_to", db.corruptPath)
	}
	if db.sealed > 0 {
		d.log.Info("sealed the personal fields of members stored in clear", "members", db.sealed)
	}
	laneTokens, adminToken, err := loadTokens(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	d.laneTokens, d.adminToken = laneTokens, adminToken

	places := map[string]edge.Placement{}
	for _, dev := range cfg.Devices {
		places[dev.Name] = edge.Placement{Kind: dev.Kind, Zone: dev.Zone, Lane: dev.Lane, Door: dev.Door}
	}
	doors := make([]string, len(cfg.Doors))
	for i, p := range cfg.Doors {
		doors[i] = p.ID
	}
	d.reg = prometheus.NewRegistry()
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.web = signage.New(signage.Options{
		StoreName: cfg.Store.Name, Zones: cfg.Zones, Lanes: cfg.Lanes, Slides: cfg.Signage.Slides, TimeZone: cfg.Store.TimeZone,
		Location: cfg.Store.Location(), History: db.outbox, // the dashboard's days and its last week
		Stats:      func() edge.Stats { return d.engine.Stats() },
		Status:     d.status,
		Ready:      d.ready,
		Registry:   d.reg,
		Logger:     d.log,
		LaneTokens: laneTokens, AdminToken: adminToken,
	})
	mux := http.NewServeMux()
	mux.Handle("/", d.web.Handler())
	mux.HandleFunc("GET "+backupPath, d.serveBackup)
	d.handler = mux
	if o.hardware {
		drvs, err := d.hardware(mux)
		if err != nil {
			db.Close()
			return nil, err
		}
		d.opts.drivers = append(d.opts.drivers, drvs...)
	}
	var display edge.Display = d.web
	if o.display != nil {
		display = o.display(d.web)
	}
	d.engine = edge.NewEngine(db.store, db.outbox, display, d.inbox, edge.Options{
		Devices: places, Doors: doors, Location: cfg.Store.Location(),
		Interval: cfg.Footfall.Interval.Duration, CheckoutMax: cfg.Offers.CheckoutMax,
		FrequencyCap: cfg.Offers.FrequencyCap.Duration, SignageShowFor: cfg.Offers.SignageShowFor.Duration,
		DailyCap: cfg.Offers.DailyCap,
		VisitGap: cfg.Offers.VisitGap.Duration, Now: o.now, Logger: d.log,
		DayStart: cfg.Store.DayStartOffset(), Closing: cfg.Footfall.ClosingOffset(), StaffWindow: cfg.Footfall.StaffWindow.Duration,
		Lanes: laneIDs(cfg), Currency: cfg.Store.Currency, History: db.store,
	})
	d.web.SetCheckout(d.engine)
	d.web.SetPlays(d.engine)
	h := cfg.HQ
	dl, err := downlink.New(db.db, db.store, db.outbox, downlink.Options{
		Tenant: cfg.Store.Tenant, Store: cfg.Store.ID, Logger: d.log,
		OnErase: d.forgetErased,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	d.downlink = dl
	d.uplink = uplink.New(db.outbox, uplink.Options{
		Broker: h.Broker, ClientID: h.ClientID, Username: h.Username, Password: password, TLS: tlsCfg,
		Tenant: cfg.Store.Tenant, Store: cfg.Store.ID, Version: Version, Recovered: recoveredNote(db),
		BatchMaxEvents: h.BatchMaxEvents, BatchMaxBytes: h.BatchMaxBytes, BatchMaxAge: h.BatchMaxAge.Duration,
		InFlight: h.InFlight, BackoffMin: h.BackoffMin.Duration, BackoffMax: h.BackoffMax.Duration,
		AckTimeout: h.AckTimeout.Duration, Logger: d.log,
		// The downlink shares the store's one connection (one client id).
		OnConnect: dl.Attach, OnDisconnect: dl.Detach, Downlink: dl.Version,
	})
	// Registering collects once, so every component must exist by now.
	d.reg.MustRegister(&collector{d: d}, dl)
	return d, nil
}

// checkIdentity refuses a client certificate whose common name is not the
// store id. The broker's ACL (deploy/mosquitto) takes the certificate's name
// as the store's identity; with MQTT 3.1.1 a publish to another store's
// topics is acknowledged and dropped, so such a gateway would lose every
// event without an error anywhere.
func checkIdentity(c *tls.Config, storeID string) error {
	if c == nil || len(c.Certificates) == 0 {
		return nil
	}
	leaf := c.Certificates[0].Leaf
	if leaf == nil && len(c.Certificates[0].Certificate) > 0 {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificates[0].Certificate[0]); err != nil {
			return fmt.Errorf("hq.cert_file: %w", err)
		}
	}
	if leaf != nil && leaf.Subject.CommonName != storeID {
		return fmt.Errorf("hq.cert_file: the certificate is for %q, but store.id is %q: the broker would drop every event this gateway sends",
			leaf.Subject.CommonName, storeID)
	}
	return nil
}

// recoveredNote is what the state topic reports of a database found
// corrupt at this start ("" when it was fine).
func recoveredNote(db *database) string {
	if db.corrupt == nil {
		return ""
	}
	return "database replaced at start, resynchronising from HQ: " + db.corrupt.Error()
}

// forgetErased makes the engine forget members HQ erased before the
// downlink purges the outbox of their events: whatever the engine derived
// from their records is committed or dropped by then. An engine that does
// not answer in time (stopping) forgets them at its next step.
func (d *daemon) forgetErased(ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, id := range ids {
		if err := d.engine.Forget(ctx, id); err != nil {
			d.engine.ForgetLater(ids[i:]...)
			return
		}
	}
}

// start runs every component. The engine starts before the drivers so their
// first events find it running.
func (d *daemon) start() error {
	ln := d.opts.listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", d.cfg.HTTP.Listen); err != nil {
			return fmt.Errorf("http.listen %s: %w", d.cfg.HTTP.Listen, err)
		}
	}
	d.ln = ln
	d.started = time.Now()
	d.engineRun = start(d.engine.Run)
	d.downlinkRun = start(d.downlink.Run)
	d.uplinkRun = start(d.uplink.Run)
	d.http = signage.NewHTTPServer(d.handler)
	d.http.RegisterOnShutdown(d.web.CloseStreams) // open event streams would hold Shutdown
	d.httpRun = start(func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- d.http.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = d.http.Shutdown(sctx)
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}
	})
	d.driverRun = start(d.runDrivers)
	d.log.Info("gateway started", "store", d.cfg.Store.Tenant+"/"+d.cfg.Store.ID, "http", ln.Addr().String(),
		"broker", d.cfg.HQ.Broker, "devices", len(d.cfg.Devices), "version", Version)
	return nil
}

// stop shuts down in dependency order so nothing is lost: drivers (no new
// events), engine (handles and commits what was queued), uplink, HTTP, and
// finally the database.
func (d *daemon) stop() error {
	d.stopNotify()
	errs := []error{d.driverRun.stop(), d.engineRun.stop()}
	d.driverRun, d.engineRun = nil, nil
	errs = append(errs, d.stopUplink(), d.httpRun.stop(), d.db.Close())
	d.httpRun = nil
	d.log.Info("gateway stopped")
	return errors.Join(errs...)
}

// stopDrivers stops the device drivers only (the demo stops its simulation
// before draining).
func (d *daemon) stopDrivers() error {
	err := d.driverRun.stop()
	d.driverRun = nil
	return err
}

// stopEngine stops the engine after the drivers.
func (d *daemon) stopEngine() error {
	err := errors.Join(d.stopDrivers(), d.engineRun.stop())
	d.engineRun = nil
	return err
}

// stopUplink stops the connection to HQ: the uplink, then the downlink
// that shares it.
func (d *daemon) stopUplink() error {
	err := errors.Join(d.uplinkRun.stop(), d.downlinkRun.stop())
	d.uplinkRun, d.downlinkRun = nil, nil
	return err
}

// run starts the daemon and stops it when ctx ends or a component fails.
func (d *daemon) run(ctx context.Context) error {
	if err := d.start(); err != nil {
		d.db.Close()
		return err
	}
	d.startNotify()
	var failed error
	select {
	case <-ctx.Done():
	case <-d.engineRun.done:
		failed = fmt.Errorf("engine stopped: %w", d.engineRun.err)
	case <-d.httpRun.done:
		failed = fmt.Errorf("http server stopped: %w", d.httpRun.err)
	}
	return errors.Join(failed, d.stop())
}

// runDrivers runs every driver under supervision until ctx ends.
func (d *daemon) runDrivers(ctx context.Context) error {
	var wg sync.WaitGroup
	covered := map[string]bool{}
	for _, drv := range d.opts.drivers {
		for _, dev := range drv.devices {
			covered[dev.Name] = true
		}
		wg.Go(func() { d.supervise(ctx, drv) })
	}
	for _, dev := range d.cfg.Devices {
		if !covered[dev.Name] {
			d.log.Warn("no driver for device in this build", "device", dev.Name, "kind", dev.Kind)
			d.deviceStatus(ctx, dev, edge.DeviceDown, "no driver for kind "+dev.Kind+" in this build")
		}
	}
	wg.Wait()
	return nil
}

// supervise opens a driver and runs its sessions until ctx ends. A device
// missing at start or lost later is reported down with the reason and
// reopened with backoff (1 s doubling to 30 s); a failing device never takes
// the daemon down. Device states are reported when they change, so a
// device missing for hours does not flood HQ with identical reports.
func (d *daemon) supervise(ctx context.Context, drv driver) {
	out := make(chan edge.Event, 64)
	fwd := make(chan struct{})
	go func() {
		defer close(fwd)
		d.forward(ctx, out)
	}()
	defer func() { <-fwd }()
	var (
		state  edge.DeviceState // last reported
		detail string
		opened bool // a session ran before: the next open is a reconnect
	)
	report := func(st edge.DeviceState, why string) {
		if st == state && why == detail {
			return
		}
		state, detail = st, why
		for _, dev := range drv.devices {
			if st == edge.DeviceUp {
				d.log.Info("device up", "device", dev.Name, "kind", dev.Kind)
			} else {
				d.log.Error("device down; retrying", "device", dev.Name, "kind", dev.Kind, "err", why)
			}
			d.deviceStatus(ctx, dev, st, why)
		}
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		sess, err := drv.open()
		if err == nil {
			if opened {
				for _, dev := range drv.devices {
					d.meters[dev.Name].Reconnect()
				}
			}
			opened = true
			report(edge.DeviceUp, "")
			startedAt := time.Now()
			err = sess.run(ctx, out)
			if sess.close != nil {
				if cerr := sess.close(); cerr != nil && err == nil && ctx.Err() == nil {
					err = cerr
				}
			}
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = errors.New("driver stopped")
			}
			if time.Since(startedAt) > time.Minute {
				attempt = 0 // it ran a while: start the backoff over
			}
		}
		report(edge.DeviceDown, err.Error())
		delay := min(30*time.Second, time.Second<<min(attempt, 5))
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
}

// forward passes a driver's events to the engine, counting each device's
// reads. A send that finds the engine's input full is counted and waits.
func (d *daemon) forward(ctx context.Context, out <-chan edge.Event) {
	for {
		select {
		case ev := <-out:
			if ev.Kind != edge.KindDeviceStatus {
				d.meters[ev.Source].Accept(time.Now()) // a nil meter (unknown source) counts nothing
			}
			if d.inbox.Send(ctx, ev) != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (d *daemon) deviceStatus(ctx context.Context, dev configs.Device, st edge.DeviceState, detail string) {
	now := time.Now
	if d.opts.now != nil {
		now = d.opts.now
	}
	_ = d.inbox.Send(ctx, edge.Event{
		Kind: edge.KindDeviceStatus, Source: dev.Name, Time: now(),
		Device: &edge.DeviceStatus{Device: dev.Name, Kind: dev.Kind, State: st, Detail: detail},
	})
}

// ready is nil once the engine and the HTTP server run.
func (d *daemon) ready() error {
	switch {
	case d.engineRun == nil:
		return errors.New("engine not running")
	case d.engine.Stats().At.IsZero():
		return errors.New("engine starting")
	}
	return nil
}

// status feeds the overview page.
func (d *daemon) status() map[string]any {
	ob, up := d.db.outbox.Stats(), d.uplink.Stats()
	s := map[string]any{
		"outbox_backlog":   ob.Backlog,
		"hq_connected":     up.Connected,
		"hq_events_acked":  up.EventsAcked,
		"hq_broker":        d.cfg.HQ.Broker,
		"uptime":           time.Since(d.started).Round(time.Second).String(),
		"version":          Version,
		"inbox_full_waits": d.inbox.Stats().Full,
	}
	if d.opts.status != nil {
		for k, v := range d.opts.status() {
			s[k] = v
		}
	}
	return s
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultConfig, "configuration `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := configs.Load(*path)
	if err != nil {
		return err
	}
	log := cfg.Log.Logger(stderr)
	n, err := newNotifier(os.Getenv, os.Getpid())
	if err != nil {
		return err
	}
	if n != nil {
		defer n.close()
	}
	d, err := newDaemon(cfg, daemonOpts{logger: log, hardware: true, notify: n})
	if err != nil {
		return err
	}
	return d.run(ctx)
}
