package main

// systemd supervision (sd_notify(3)): with Type=notify the unit is started
// once the daemon says READY=1; with WatchdogSec the daemon must say
// WATCHDOG=1 more often than that or systemd kills and restarts it. The
// daemon pings only while its engine goes round its loop, so a wedged
// engine (not only a dead process) gets the gateway restarted.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// statusEvery is how often the STATUS line is recomputed; it is sent only
// when it changed.
const statusEvery = 10 * time.Second

// notifier sends systemd notifications to NOTIFY_SOCKET.
type notifier struct {
	conn *net.UnixConn
	// watchdog is WATCHDOG_USEC: systemd's limit between two pings. The
	// daemon pings every half of it, while the engine went round its loop
	// within the last whole of it. 0: no watchdog.
	watchdog time.Duration
	every    time.Duration // STATUS refresh; default statusEvery
}

// newNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID through
// getenv (os.Getenv in the daemon). It returns nil, nil when NOTIFY_SOCKET
// is not set: not started by systemd (or not Type=notify), nothing to do.
func newNotifier(getenv func(string) string, pid int) (*notifier, error) {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	// A leading '@' names an abstract socket; net does the translation.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET %s: %w", path, err)
	}
	n := &notifier{conn: conn, every: statusEvery}
	if s := getenv("WATCHDOG_USEC"); s != "" {
		usec, err := strconv.ParseUint(s, 10, 63)
		if err != nil || usec == 0 {
			conn.Close()
			return nil, fmt.Errorf("WATCHDOG_USEC %q: not a positive number of microseconds", s)
		}
		// WATCHDOG_PID, when set, says which process the watchdog is for.
		if p := getenv("WATCHDOG_PID"); p == "" || p == strconv.Itoa(pid) {
			n.watchdog = time.Duration(usec) * time.Microsecond
		}
	}
	return n, nil
}

// send writes one notification (newline-separated assignments).
func (n *notifier) send(state string) error {
	_, err := n.conn.Write([]byte(state))
	return err
}

func (n *notifier) close() error { return n.conn.Close() }

// startNotify runs the notification loop when the daemon has a notifier.
func (d *daemon) startNotify() {
	if n := d.opts.notify; n != nil {
		d.notifyRun = start(func(ctx context.Context) error { return d.notify(ctx, n) })
	}
}

// stopNotify says STOPPING=1 and ends the loop: the first step of stop.
func (d *daemon) stopNotify() {
	n := d.opts.notify
	if n == nil || d.notifyRun == nil {
		return
	}
	err := n.send("STOPPING=1\nSTATUS=stopping: draining the engine and closing the database")
	d.notifyRun.stop()
	d.notifyRun = nil
	if err != nil {
		d.log.Warn("systemd notify failed", "component", "systemd", "err", err)
	}
}

// notify waits until the gateway answers /readyz on its own listener, says
// READY=1, then pings the watchdog while the engine is alive and refreshes
// STATUS when it changes, until ctx ends.
func (d *daemon) notify(ctx context.Context, n *notifier) error {
	log := d.log.With("component", "systemd")
	poll := time.NewTicker(20 * time.Millisecond)
	for !d.answers(ctx) {
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil
		case <-poll.C:
		}
	}
	poll.Stop()
	status := d.statusLine()
	msg := "READY=1\nSTATUS=" + status
	if n.watchdog > 0 {
		msg += "\nWATCHDOG=1"
	}
	if err := n.send(msg); err != nil {
		log.Warn("systemd notify failed", "err", err)
	}
	log.Info("told systemd ready", "status", status, "watchdog", n.watchdog.String())

	var ping <-chan time.Time
	if n.watchdog > 0 {
		t := time.NewTicker(n.watchdog / 2)
		defer t.Stop()
		ping = t.C
	}
	refresh := time.NewTicker(n.every)
	defer refresh.Stop()
	withheld := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ping:
			idle := time.Since(d.engine.Alive())
			if idle >= n.watchdog {
				if !withheld {
					log.Error("engine stuck; withholding the watchdog ping so systemd restarts the gateway", "idle", idle.Round(time.Millisecond).String())
					withheld = true
				}
				continue
			}
			if withheld {
				log.Info("engine alive again; watchdog pings resumed")
				withheld = false
			}
			if err := n.send("WATCHDOG=1"); err != nil {
				log.Warn("systemd watchdog ping failed", "err", err)
			}
		case <-refresh.C:
			if s := d.statusLine(); s != status {
				status = s
				if err := n.send("STATUS=" + s); err != nil {
					log.Warn("systemd notify failed", "err", err)
				}
			}
		}
	}
}

// answers reports whether the gateway's own HTTP listener answers /readyz
// with 200: the listener is bound, Serve runs, the engine has published
// its first stats.
func (d *daemon) answers(ctx context.Context) bool {
	if d.ready() != nil {
		return false
	}
	addr, ok := d.ln.Addr().(*net.TCPAddr)
	if !ok {
		return true // not TCP (a test's listener): ready() is all we can check
	}
	host := addr.IP
	if host == nil || host.IsUnspecified() {
		host = net.IPv4(127, 0, 0, 1)
		if addr.IP != nil && addr.IP.To4() == nil {
			host = net.IPv6loopback
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host.String(), strconv.Itoa(addr.Port)) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Close = true // no idle connection left behind for Shutdown
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// statusLine is the one line systemctl status shows, e.g. "trading: 12
// devices up, 0 down, uplink connected, backlog 0".
func (d *daemon) statusLine() string {
	up, down := 0, 0
	for _, dev := range d.engine.Stats().Devices {
		if dev.State == edge.DeviceUp {
			up++
		} else {
			down++
		}
	}
	starting := ""
	if n := len(d.cfg.Devices) - up - down; n > 0 {
		starting = fmt.Sprintf(" (%d not reported yet)", n)
	}
	link := "uplink disconnected"
	if d.uplink.Stats().Connected {
		link = "uplink connected"
	}
	return fmt.Sprintf("trading: %d devices up, %d down%s, %s, backlog %d", up, down, starting, link, d.db.outbox.Stats().Backlog)
}
