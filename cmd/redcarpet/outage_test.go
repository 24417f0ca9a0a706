package main

// The broker outage test: the broker goes away for a few seconds while the
// store keeps producing, then comes back; everything arrives at HQ exactly
// once, and the store reconnects within the bound its backoff_max sets.
// Also the private Mosquitto process shared with crash_test.go.

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
)

// requireMosquitto gates the tests that run a private Mosquitto process.
// Without REDCARPET_TEST_MOSQUITTO they are skipped; with it (CI sets it),
// a missing mosquitto binary or an unreachable broker fails them. It
// returns the binary.
func requireMosquitto(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("REDCARPET_TEST_MOSQUITTO")
	if addr == "" {
		t.Skip("REDCARPET_TEST_MOSQUITTO is not set (CI sets it to Mosquitto's host:port); this test runs a private mosquitto process")
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("REDCARPET_TEST_MOSQUITTO=%s: broker unreachable: %v", addr, err)
	}
	c.Close()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr != nil {
			t.Fatalf("REDCARPET_TEST_MOSQUITTO is set but there is no mosquitto binary: %v (apt-get install mosquitto)", err)
		}
		bin = "/usr/sbin/mosquitto"
	}
	return bin
}

// freePort returns a free 127.0.0.1 address for a server started later.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// privateMosquitto is a mosquitto process of this test, on its own port
// and configuration; the machine's shared instance is never touched.
type privateMosquitto struct {
	t      *testing.T
	bin    string
	addr   string
	conf   string
	log    *syncBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// startMosquitto runs a private mosquitto. persist keeps sessions in a
// persistence file in the test's directory (saved when it stops on
// SIGTERM). max_queued_messages is unlimited so that the broker's queue for
// HQ never drops what it acknowledged to the store: that limit is a
// deployment setting (see sync/hq's package documentation), not under test.
func startMosquitto(t *testing.T, bin string, persist bool) *privateMosquitto {
	t.Helper()
	dir := t.TempDir()
	m := &privateMosquitto{t: t, bin: bin, addr: freePort(t), conf: filepath.Join(dir, "mosquitto.conf"), log: &syncBuffer{}}
	_, port, _ := net.SplitHostPort(m.addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence %v\npersistence_location %s/\n"+
		"max_queued_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n", port, persist, dir)
	if os.Geteuid() == 0 {
		conf += "user root\n" // else mosquitto drops to the mosquitto user, who cannot write the test's directory
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(func() { m.stop(syscall.SIGKILL) })
	return m
}

func (m *privateMosquitto) url() string { return "tcp://" + m.addr }

// start runs the process and waits until it accepts connections.
func (m *privateMosquitto) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	m.exited = make(chan struct{})
	cmd, exited := m.cmd, m.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			m.t.Fatalf("mosquitto exited at start:\n%s", m.log.Bytes())
		default:
		}
		if time.Now().After(deadline) {
			m.stop(syscall.SIGKILL)
			m.t.Fatalf("private mosquitto unreachable at %s after 10s: %v\n%s", m.addr, err, m.log.Bytes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop signals the process (SIGTERM: a clean stop that saves persistence;
// SIGKILL: a crash) and waits for it to exit.
func (m *privateMosquitto) stop(sig syscall.Signal) {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.exited:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// gateProxy forwards TCP connections to a broker. While held, connections
// are accepted but not forwarded until release: the test uses it to let HQ
// subscribe on a restarted broker before the store's reconnect goes
// through (see outageTest).
type gateProxy struct {
	ln       net.Listener
	upstream string

	mu      sync.Mutex
	gate    chan struct{} // closed: open
	accepts []time.Time
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

func newGateProxy(t *testing.T, upstream string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateProxy{ln: ln, upstream: upstream, gate: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.gate)
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	return p
}

func (p *gateProxy) url() string { return "tcp://" + p.ln.Addr().String() }

func (p *gateProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.accepts = append(p.accepts, time.Now())
		p.conns[c] = struct{}{}
		gate := p.gate
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, gate) })
	}
}

func (p *gateProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed {
			return false
		}
		p.conns[c] = struct{}{}
		return true
	}
	delete(p.conns, c)
	return true
}

func (p *gateProxy) pipe(c net.Conn, gate chan struct{}) {
	defer func() { c.Close(); p.track(c, false) }()
	select {
	case <-gate:
	case <-time.After(30 * time.Second):
		return
	}
	u, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		return // the broker is down: the client sees the connection close
	}
	if !p.track(u, true) {
		u.Close()
		return
	}
	defer func() { u.Close(); p.track(u, false) }()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done // either side ended: end both
}

// hold makes new connections wait; release lets them through.
func (p *gateProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = make(chan struct{})
}

func (p *gateProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// firstAcceptAfter is when the first connection at or after t arrived.
func (p *gateProxy) firstAcceptAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.accepts {
		if !a.Before(t) {
			return a, true
		}
	}
	return time.Time{}, false
}

func (p *gateProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// outageBroker is a broker the test can stop and start again on the same
// address.
type outageBroker struct {
	addr        string
	start, stop func()
}

func TestBrokerOutage(t *testing.T) {
	addr := freePort(t)
	var b *broker.Broker
	ob := outageBroker{addr: addr,
		start: func() {
			var err error
			if b, err = broker.Start(broker.Options{Addr: addr}); err != nil {
				t.Fatalf("broker on %s: %v", addr, err)
			}
		},
		stop: func() { b.Close() },
	}
	ob.start()
	defer func() { b.Close() }()
	outageTest(t, ob, boltSink(t))
}

// TestBrokerOutageMosquitto: a private Mosquitto with persistence is
// stopped (SIGTERM) and started again on the same port; HQ stores into
// PostgreSQL (see postgresOrBolt).
func TestBrokerOutageMosquitto(t *testing.T) {
	m := startMosquitto(t, requireMosquitto(t), true)
	outageTest(t, outageBroker{addr: m.addr, start: m.start, stop: func() { m.stop(syscall.SIGTERM) }}, postgresOrBolt(t))
}

// outageTest runs a daemon in-process with the synthetic load, publishing
// through a gateProxy to the broker; HQ ingest connects to the broker
// directly. The broker is stopped while events flow, for at least 3 s and
// 500 committed events, then started again. Measured: the time from the
// restart to the store's first acknowledged publish. Asserted: that time is
// within backoff_max (2 s here) plus 3 s, the store kept committing during
// the outage, and after draining HQ holds exactly 1..LastSeq of the
// store's epoch.
//
// The proxy holds the store's reconnection until HQ (ingest and responder)
// has subscribed again on the restarted broker. What a broker acknowledged and then lost (a
// message in flight to HQ when the broker stopped; one published before HQ
// resubscribed) is repaired as in production: HQ's responder watches the
// sequence coverage and asks the store to send it again.
func outageTest(t *testing.T, b outageBroker, sink hqSink) {
	const backoffMax = 2 * time.Second
	proxy := newGateProxy(t, b.addr)
	ing := startHQ(t, "tcp://"+b.addr, "hq-outage", sink)

	dir := t.TempDir()
	load := newSynthLoad(1)
	cfg, err := storeConfig(dir, proxy.url())
	if err != nil {
		t.Fatal(err)
	}
	resp := startGapWatch(t, "tcp://"+b.addr, "hq-outage-downlink", cfg.Store.Tenant, sink)
	cfg.HQ.BackoffMin, cfg.HQ.BackoffMax = configs.D(100*time.Millisecond), configs.D(backoffMax)
	if err := seedStore(cfg, &load, 0); err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, daemonOpts{now: load.now, logger: slog.New(slog.DiscardHandler), listener: listen(t),
		drivers: []driver{load.driver(cfg)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		d.db.Close()
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.stop()
		}
	}()
	ob, up := d.db.outbox, d.uplink
	eventually(t, 20*time.Second, "events acknowledged by the broker", func() bool { return up.Stats().EventsAcked > 200 })

	// Outage: the store's connection attempts fail (the proxy finds no
	// broker and closes them); events keep flowing into the outbox.
	b.stop()
	down := time.Now()
	eventually(t, 10*time.Second, "the uplink to see the broker gone", func() bool { return !up.Stats().Connected })
	atDown := ob.Stats().LastSeq
	eventually(t, 30*time.Second, "3 s and 500 events of outage", func() bool {
		return time.Since(down) >= 3*time.Second && ob.Stats().LastSeq >= atDown+500
	})
	if es := d.engine.Stats(); es.CommitErrors > 0 || es.Uncommitted > 1000 {
		t.Fatalf("engine during the outage: %d commit errors, %d uncommitted: the broker outage held up the store", es.CommitErrors, es.Uncommitted)
	}
	backlog := ob.Stats().Backlog
	outage := time.Since(down)

	// The broker returns. HQ resubscribes first, then the store's
	// reconnection goes through.
	connects, respConnects := ing.Stats().Connects, resp.Stats().Connects
	failures := up.Stats().ConnectFailures
	proxy.hold()
	b.start()
	restart := time.Now()
	var hqBack, firstAck time.Time
	deadline := restart.Add(30 * time.Second)
	for firstAck.IsZero() {
		now := time.Now()
		if now.After(deadline) {
			t.Fatalf("no acknowledged publish 30s after the broker restarted (HQ back: %v, uplink %+v)", !hqBack.IsZero(), up.Stats())
		}
		// HQ is back when both its ingest and its responder (which answers
		// the store's first change request after a reconnection) are.
		if rs := resp.Stats(); hqBack.IsZero() && ing.Connected() && ing.Stats().Connects > connects && rs.Connected && rs.Connects > respConnects {
			hqBack = now
			proxy.release()
		}
		if la := up.Stats().LastAck; la.After(restart) {
			firstAck = la
		}
		time.Sleep(time.Millisecond)
	}
	reconnect := firstAck.Sub(restart)
	attempt, _ := proxy.firstAcceptAfter(restart)
	if failures == 0 {
		t.Errorf("no failed connection attempt during a %s outage: the uplink is not retrying", outage)
	}
	t.Logf("outage %s, %d failed connection attempts, %d events queued; after the broker restart: HQ resubscribed at +%s, the store's first connection attempt at +%s, its first acknowledged publish at +%s (backoff_max %s)",
		outage.Round(time.Millisecond), failures, backlog, hqBack.Sub(restart).Round(time.Millisecond),
		attempt.Sub(restart).Round(time.Millisecond), reconnect.Round(time.Millisecond), backoffMax)
	// The store sleeps at most backoff_max between attempts; connecting,
	// the state message and one batch take milliseconds on loopback.
	if bound := backoffMax + 3*time.Second; reconnect > bound {
		t.Errorf("first acknowledged publish %s after the broker restart, want < %s (backoff_max %s + 3 s)", reconnect, bound, backoffMax)
	}

	// Stop producing, drain, check.
	if err := d.stopEngine(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the outbox to drain", func() bool { return ob.Stats().Backlog == 0 })
	last, epoch := ob.Stats().LastSeq, ob.Epoch()
	tenant, store := cfg.Store.Tenant, cfg.Store.ID
	waitHQ(sink, tenant, store, epoch, last, 30*time.Second)
	v, err := checkHQ(sink, tenant, store, epoch, last)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checker: committed %d, HQ holds %d, lost %d, unexpected %d, duplicates dropped %d; uplink %+v",
		v.LastSeq, v.Held, v.Lost, v.Unexpected, v.Duplicates, up.Stats())
	if err := v.check(epoch); err != nil {
		t.Error(err)
	}
	stopped = true
	if err := d.stop(); err != nil {
		t.Error(err)
	}
}

// startGapWatch runs HQ's downlink responder, as redcarpet-hq does beside
// its ingest, until the test ends: it asks stores for what the sink misses.
// Its change log is an empty one of its own.
func startGapWatch(t *testing.T, url, clientID, tenant string, sink hqSink) *hq.Responder {
	t.Helper()
	changes, err := boltSink(t).ChangeLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := hq.NewResponder(hq.ResponderOptions{Broker: url, ClientID: clientID, Tenants: []string{tenant},
		Log: changes, Gaps: sink, GapEvery: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, ConnectTimeout: 5 * time.Second})
	run := start(resp.Run)
	t.Cleanup(func() { run.stop() })
	select {
	case <-resp.Ready():
	case <-time.After(15 * time.Second):
		t.Fatalf("HQ responder did not connect to %s in 15s", url)
	}
	return resp
}
