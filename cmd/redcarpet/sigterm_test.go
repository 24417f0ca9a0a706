package main

// The SIGTERM test: systemd stops the gateway with SIGTERM in the middle
// of trading and starts it again; nothing the store committed may be lost
// or held twice at HQ.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/sync/broker"
)

const (
	// sigtermChildEnv holds a child's sigtermSpec as JSON: with it set,
	// TestSIGTERMChild runs one gateway instead of skipping.
	sigtermChildEnv = "REDCARPET_SIGTERM_CHILD"
	// stopTimeout is the unit's TimeoutStopSec: systemd sends SIGKILL
	// after it.
	stopTimeout = 20 * time.Second
)

// sigtermSpec is what TestSIGTERM passes to a child gateway.
type sigtermSpec struct {
	Dir    string    `json:"dir"`
	Broker string    `json:"broker"`
	Load   synthLoad `json:"load"`
	// Drain runs without traffic, on a clock stopped at start (so no
	// footfall interval closes while it idles), and says IDLE once the
	// outbox is empty and nothing was committed for half a second.
	Drain bool `json:"drain"`
}

// TestSIGTERMChild is the child gateway of TestSIGTERM, not a test of its
// own. It runs daemon.run (what `redcarpet run` runs) with main's signal
// handling and NOTIFY_SOCKET from its environment, the synthetic load as
// its driver, until SIGTERM. On stdout it writes "SEQ <n>" whenever the
// outbox's committed sequence number changes, "IDLE" (Drain), and at the
// end "STOPPED <epoch> <seq> <backlog>".
func TestSIGTERMChild(t *testing.T) {
	raw := os.Getenv(sigtermChildEnv)
	if raw == "" {
		t.Skip("the child process of TestSIGTERM")
	}
	var spec sigtermSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	go func() { // the parent holds stdin open: EOF means it is gone
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := storeConfig(spec.Dir, spec.Broker)
	if err != nil {
		t.Fatal(err)
	}
	l := spec.Load
	now, drivers := l.now, []driver{l.driver(cfg)}
	if spec.Drain {
		frozen := l.now()
		now, drivers = func() time.Time { return frozen }, nil
	}
	n, err := newNotifier(os.Getenv, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if n != nil {
		defer n.close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := newDaemon(cfg, daemonOpts{now: now, logger: log, listener: ln, drivers: drivers, notify: n})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ob := d.db.outbox // its Stats are counters, readable after Close
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var seq uint64
		backlog := -1
		var since time.Time
		idle := false
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			st := ob.Stats()
			if st.LastSeq != seq {
				seq, since = st.LastSeq, time.Now()
				fmt.Printf("SEQ %d\n", seq)
			}
			if st.Backlog != backlog {
				backlog = st.Backlog
				fmt.Printf("BACKLOG %d\n", backlog)
			}
			if spec.Drain && !idle && d.engine.Stats().At.After(time.Time{}) && st.Backlog == 0 && time.Since(since) > 500*time.Millisecond {
				idle = true
				fmt.Println("IDLE")
			}
		}
	})
	err = d.run(ctx)
	close(done)
	wg.Wait()
	st := ob.Stats()
	fmt.Printf("STOPPED %s %d %d\n", st.Epoch, st.LastSeq, st.Backlog)
	if err != nil {
		t.Fatal(err)
	}
}

// sigtermProc is a running child of TestSIGTERM.
type sigtermProc struct {
	cmd     *exec.Cmd
	stderr  *syncBuffer
	idle    chan struct{} // closed at IDLE
	exited  chan struct{} // closed after Wait
	waitErr error
	stopped string        // the STOPPED line's fields
	acked   atomic.Uint64 // highest committed sequence reported
	backlog atomic.Int64  // outbox backlog last reported
}

func startSigtermProc(t *testing.T, spec sigtermSpec, notifySock string) *sigtermProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := &sigtermProc{stderr: &syncBuffer{}, idle: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command(exe, "-test.run=^TestSIGTERMChild$", "-test.count=1")
	p.cmd.Env = append(os.Environ(), sigtermChildEnv+"="+string(raw), "GORACE=halt_on_error=1",
		"NOTIFY_SOCKET="+notifySock, "WATCHDOG_USEC=30000000") // the unit's WatchdogSec=30s
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "SEQ":
				if n, err := strconv.ParseUint(f[1], 10, 64); err == nil && n > p.acked.Load() {
					p.acked.Store(n)
				}
			case len(f) == 2 && f[0] == "BACKLOG":
				if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					p.backlog.Store(n)
				}
			case len(f) == 1 && f[0] == "IDLE":
				close(p.idle)
			case len(f) == 4 && f[0] == "STOPPED":
				p.stopped = strings.Join(f[1:], " ")
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// term sends SIGTERM and waits up to the unit's TimeoutStopSec for the
// process to exit; it returns how long the stop took.
func (p *sigtermProc) term(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("not stopped %s after SIGTERM (systemd would SIGKILL it now)\n%s", stopTimeout, p.tail())
	}
	took := time.Since(began)
	if p.waitErr != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", p.waitErr, p.tail())
	}
	return took
}

func (p *sigtermProc) tail() string {
	b := p.stderr.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// TestSIGTERM stops a gateway process with SIGTERM while it trades (300
// card reads a second plus door crossings) and drains a backlog to HQ
// over the embedded broker, restarts it on the same data directory, lets
// it drain and stops it with SIGTERM again. Each stop must exit with
// status 0 within TimeoutStopSec, after STOPPING=1; the database must pass
// bbolt's check with the epoch unchanged and every sequence the child
// reported committed on disk; finally the outbox must be empty and HQ
// must hold exactly <epoch>-1 … <epoch>-LastSeq, each once.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("SIGTERM test: skipped in -short mode")
	}
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sink := boltSink(t)
	ing := startHQ(t, b.URL(), "hq-sigterm", sink)
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	load := newSynthLoad(uint64(time.Now().UnixNano()))
	cfg, err := storeConfig(dir, b.URL())
	if err != nil {
		t.Fatal(err)
	}
	const backlog = 8000 // an outage's worth, still uploading when SIGTERM comes
	if err := seedStore(cfg, &load, backlog); err != nil {
		t.Fatal(err)
	}
	initial, err := inspectOutbox(path)
	if err != nil {
		t.Fatal(err)
	}
	epoch := initial.Epoch
	sock, msgs := notifySocket(t)

	// Run 1: SIGTERM mid-traffic.
	p := startSigtermProc(t, sigtermSpec{Dir: dir, Broker: b.URL(), Load: load}, sock)
	awaitNotify(t, msgs, "READY=1", 60*time.Second, nil)
	// SIGTERM once the store has traded a while and the uplink is
	// half-way through the backlog.
	for timeout := time.After(30 * time.Second); p.acked.Load() < initial.LastSeq+500 || p.backlog.Load() > backlog/2; {
		select {
		case <-p.exited:
			t.Fatalf("child exited: %v\n%s", p.waitErr, p.tail())
		case <-timeout:
			t.Fatalf("in 30s: %d events committed, want 500; backlog %d, want ≤ %d\n%s", p.acked.Load()-initial.LastSeq, p.backlog.Load(), backlog/2, p.tail())
		case <-time.After(10 * time.Millisecond):
		}
	}
	before, queued, atTerm := ing.Stats(), p.backlog.Load(), p.acked.Load()
	took1 := p.term(t)
	awaitNotify(t, msgs, "STOPPING=1", time.Second, nil)
	mid, err := inspectOutbox(path)
	switch {
	case err != nil:
		t.Fatalf("database after SIGTERM: %v", err)
	case mid.Epoch != epoch:
		t.Fatalf("epoch %s after SIGTERM, want %s", mid.Epoch, epoch)
	case mid.LastSeq < p.acked.Load():
		t.Fatalf("child reported seq %d committed, the file holds %d", p.acked.Load(), mid.LastSeq)
	case p.stopped != fmt.Sprintf("%s %d %d", epoch, mid.LastSeq, mid.Queued):
		t.Fatalf("child stopped at %q, file holds seq %d with %d queued", p.stopped, mid.LastSeq, mid.Queued)
	}
	t.Logf("run 1: SIGTERM with %d events committed (%d of them traffic), %d queued, HQ holding %d; stopped in %s with %d committed, %d queued",
		atTerm, atTerm-initial.LastSeq, queued, before.Inserted, took1.Round(time.Millisecond), mid.LastSeq, mid.Queued)

	// Run 2: restart, drain, SIGTERM again.
	p = startSigtermProc(t, sigtermSpec{Dir: dir, Broker: b.URL(), Load: load, Drain: true}, sock)
	awaitNotify(t, msgs, "READY=1", 60*time.Second, nil)
	select {
	case <-p.idle:
	case <-p.exited:
		t.Fatalf("drain run exited: %v\n%s", p.waitErr, p.tail())
	case <-time.After(60 * time.Second):
		t.Fatalf("outbox not drained in 60s\n%s", p.tail())
	}
	took2 := p.term(t)
	awaitNotify(t, msgs, "STOPPING=1", time.Second, nil)
	end, err := inspectOutbox(path)
	switch {
	case err != nil:
		t.Fatalf("database after the second SIGTERM: %v", err)
	case end.Epoch != epoch || end.LastSeq < mid.LastSeq:
		t.Fatalf("final database %+v, want epoch %s with seq ≥ %d", end, epoch, mid.LastSeq)
	case end.Queued != 0:
		t.Fatalf("%d events left in the outbox after the drain run", end.Queued)
	}

	tenant, store := cfg.Store.Tenant, cfg.Store.ID
	waitHQ(sink, tenant, store, epoch, end.LastSeq, 30*time.Second)
	v, err := checkHQ(sink, tenant, store, epoch, end.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run 2: drained %d queued (+%d committed at start), stopped in %s", mid.Queued, end.LastSeq-mid.LastSeq, took2.Round(time.Millisecond))
	t.Logf("checker: committed %d (epoch %s), HQ holds %d, lost %d, unexpected %d, duplicates dropped %d; kinds %v",
		v.LastSeq, epoch, v.Held, v.Lost, v.Unexpected, v.Duplicates, v.Kinds)
	if err := v.check(epoch); err != nil {
		t.Fatalf("checker: %v", err)
	}
	// A clean stop does not wait for acknowledgements: at most the
	// in-flight window per stop is sent again, and HQ drops those copies.
	if bound := uint64(2 * cfg.HQ.InFlight * cfg.HQ.BatchMaxEvents); v.Duplicates > bound {
		t.Errorf("%d duplicates, more than 2 stops × %d in flight × %d per batch = %d", v.Duplicates, cfg.HQ.InFlight, cfg.HQ.BatchMaxEvents, bound)
	}
}
