package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/sync/broker"
)

// notifyMsg is one datagram received on a test NOTIFY_SOCKET.
type notifyMsg struct {
	at    time.Time
	state string
}

// notifySocket is systemd's side of the notify protocol: a unixgram
// socket in the test's directory. Its messages arrive on the returned
// channel; it closes when the test ends.
func notifySocket(t *testing.T) (string, <-chan notifyMsg) {
	t.Helper()
	dir, err := os.MkdirTemp("", "rcn") // short: sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan notifyMsg, 4096)
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case msgs <- notifyMsg{at: time.Now(), state: string(buf[:n])}:
			default:
				t.Errorf("notify socket: message dropped, test not reading")
			}
		}
	})
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	return path, msgs
}

// has reports whether a notification carries the assignment kv.
func (m notifyMsg) has(kv string) bool {
	return strings.Contains("\n"+m.state+"\n", "\n"+kv+"\n")
}

// status returns the message's STATUS= value, or "".
func (m notifyMsg) status() string {
	for l := range strings.SplitSeq(m.state, "\n") {
		if s, ok := strings.CutPrefix(l, "STATUS="); ok {
			return s
		}
	}
	return ""
}

// awaitNotify returns the first message carrying kv, failing after d.
func awaitNotify(t *testing.T, msgs <-chan notifyMsg, kv string, d time.Duration, seen func(notifyMsg)) notifyMsg {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-msgs:
			if seen != nil {
				seen(m)
			}
			if m.has(kv) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s notification in %s", kv, d)
		}
	}
}

// acceptLog is a listener that records when it first accepted a connection.
type acceptLog struct {
	net.Listener
	first atomic.Int64 // Unix ns
}

func (l *acceptLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.first.CompareAndSwap(0, time.Now().UnixNano())
	}
	return c, err
}

func TestNewNotifier(t *testing.T) {
	sock, _ := notifySocket(t)
	for _, tc := range []struct {
		name     string
		env      map[string]string
		none     bool // no notifier
		watchdog time.Duration
		err      bool
	}{
		{name: "not under systemd", env: map[string]string{"WATCHDOG_USEC": "30000000"}, none: true},
		{name: "notify only", env: map[string]string{"NOTIFY_SOCKET": sock}},
		{name: "watchdog", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "30000000"}, watchdog: 30 * time.Second},
		{name: "watchdog for us", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, watchdog: 30 * time.Second},
		{name: "watchdog for another process", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "43"}},
		{name: "bad watchdog", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "soon"}, err: true},
		{name: "no such socket", env: map[string]string{"NOTIFY_SOCKET": sock + ".missing"}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := newNotifier(func(k string) string { return tc.env[k] }, 42)
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if (n == nil) != tc.none {
				t.Fatalf("notifier %v, want none %v", n, tc.none)
			}
			if n == nil {
				return
			}
			defer n.close()
			if n.watchdog != tc.watchdog {
				t.Errorf("watchdog %s, want %s", n.watchdog, tc.watchdog)
			}
		})
	}
}

// TestSystemdNotify runs the daemon with a real NOTIFY_SOCKET and
// WATCHDOG_USEC=2s under synthetic traffic: READY=1 comes once the HTTP
// listener has answered, with a STATUS line; STATUS lines follow as the
// gateway changes; WATCHDOG=1 comes every second while the engine runs,
// stops while the engine is wedged (its clock blocks) and resumes when it
// runs again; STOPPING=1 comes on shutdown.
func TestSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("watchdog timing test: skipped in -short mode")
	}
	const watchdog = 2 * time.Second
	sock, msgs := notifySocket(t)
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": strconv.Itoa(int(watchdog / time.Microsecond))}
	n, err := newNotifier(func(k string) string { return env[k] }, os.Getpid())
	if err != nil || n == nil {
		t.Fatalf("notifier %v, %v", n, err)
	}
	defer n.close()
	n.every = 100 * time.Millisecond

	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg, err := storeConfig(t.TempDir(), b.URL())
	if err != nil {
		t.Fatal(err)
	}
	load := newSynthLoad(7)
	load.Rate = 100
	if err := seedStore(cfg, &load, 0); err != nil {
		t.Fatal(err)
	}
	// The engine's clock blocks while wedged: the engine stops in its step.
	var wedged atomic.Bool
	release := make(chan struct{})
	now := func() time.Time {
		if wedged.Load() {
			<-release
		}
		return load.now()
	}
	ln := &acceptLog{Listener: listen(t)}
	d, err := newDaemon(cfg, daemonOpts{now: now, logger: slog.New(slog.DiscardHandler), listener: ln,
		drivers: []driver{load.driver(cfg)}, notify: n})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- d.run(ctx) }()

	var statuses []string
	seen := func(m notifyMsg) {
		if s := m.status(); s != "" {
			statuses = append(statuses, s)
		}
	}
	ready := awaitNotify(t, msgs, "READY=1", 30*time.Second, seen)
	first := ln.first.Load()
	if first == 0 || time.Unix(0, first).After(ready.at) {
		t.Fatalf("READY=1 at %s, before the HTTP listener accepted a connection (%d)", ready.at, first)
	}
	if !strings.HasPrefix(ready.status(), "trading: ") {
		t.Errorf("READY=1 without a STATUS line: %q", ready.state)
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz %d after READY=1", resp.StatusCode)
	}

	// Pings while the engine runs.
	for range 3 {
		awaitNotify(t, msgs, "WATCHDOG=1", 2*watchdog, seen)
	}
	// STATUS changes as the uplink connects and the backlog moves.
	for timeout := time.After(10 * time.Second); len(statuses) < 2; {
		select {
		case m := <-msgs:
			seen(m)
		case <-timeout:
			t.Fatalf("STATUS lines %q: no change in 10s", statuses)
		}
	}
	t.Logf("%d STATUS lines before the wedge, last %q", len(statuses), statuses[len(statuses)-1])

	// Wedge the engine: the pings must stop within a watchdog interval of
	// its last loop, and stay stopped.
	wedged.Store(true)
	wedgedAt := time.Now()
	var last time.Time
	quiet := time.After(2*watchdog + watchdog/2)
wait:
	for {
		select {
		case m := <-msgs:
			seen(m)
			if m.has("WATCHDOG=1") {
				last = m.at
			}
		case <-quiet:
			break wait
		}
	}
	if late := last.Sub(wedgedAt); late > watchdog+watchdog/4 {
		t.Errorf("WATCHDOG=1 %s after the engine wedged, want none after %s", late.Round(time.Millisecond), watchdog)
	}
	if alive := d.engine.Alive(); alive.After(wedgedAt.Add(watchdog / 2)) {
		t.Errorf("engine alive at %s while wedged since %s", alive, wedgedAt)
	}

	// Unwedged, it pings again.
	wedged.Store(false)
	close(release)
	awaitNotify(t, msgs, "WATCHDOG=1", 2*watchdog, seen)

	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	awaitNotify(t, msgs, "STOPPING=1", 5*time.Second, seen)
	t.Logf("STATUS lines: %d, e.g. %q … %q", len(statuses), statuses[0], statuses[len(statuses)-1])
	if len(statuses) < 3 { // READY's, at least one change, STOPPING's
		t.Errorf("STATUS lines %q, want a change between READY and STOPPING", statuses)
	}
}
