package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
)

// Doctor thresholds.
const (
	diskWarnFree    = 500 << 20 // bytes free below which the data disk warns
	diskWarnPercent = 10        // percent free below which the data disk warns
	diskFailFree    = 50 << 20  // bytes free below which the data disk fails
	certWarnAhead   = 30 * 24 * time.Hour
)

// checkStatus is a doctor check's verdict.
type checkStatus int

const (
	statusOK checkStatus = iota
	statusWarn
	statusFail
)

func (s checkStatus) String() string {
	return [...]string{"OK", "WARN", "FAIL"}[s]
}

// checkResult is one line of the doctor's report: what was checked, what was
// found and, unless it is fine, what to do about it.
type checkResult struct {
	Status checkStatus
	Check  string // "config", "device door-reader", "broker"…
	Detail string
	Fix    string
}

// doctor checks a gateway's configuration against the machine it runs on.
// The zero value checks the real machine; tests replace what they cannot
// arrange.
type doctor struct {
	now         func() time.Time // default time.Now
	dialTimeout time.Duration    // broker connect and handshake; default 5s
	lockTimeout time.Duration    // database lock wait; default 500ms
	timedatectl string           // command; default "timedatectl", "-": none
	syncFile    string           // default /run/systemd/timesync/synchronized
	gpioGlob    string           // default /dev/gpiochip*
}

func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultConfig, "configuration `file` to check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("usage: redcarpet doctor [-config FILE]")
	}
	return doctor{}.report(ctx, *path, stdout)
}

// report runs every check, prints one line per result and returns an error
// when any check failed.
func (dr doctor) report(ctx context.Context, path string, w io.Writer) error {
	fmt.Fprintf(w, "redcarpet doctor: %s\n", path)
	results := dr.run(ctx, path)
	var fails, warns int
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-24s %s\n", r.Status, r.Check, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(w, "      %-24s fix: %s\n", "", r.Fix)
		}
		switch r.Status {
		case statusFail:
			fails++
		case statusWarn:
			warns++
		}
	}
	plural := "s"
	if warns == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "%d checks: %d failed, %d warning%s\n", len(results), fails, warns, plural)
	if fails > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", fails, len(results))
	}
	return nil
}

// run runs the checks. A configuration that does not load stops there:
// the other checks need it.
func (dr doctor) run(ctx context.Context, path string) []checkResult {
	cfg, err := configs.Load(path)
	if err != nil {
		return []checkResult{{statusFail, "config", err.Error(), "correct the file; `redcarpet check-config " + path + "` lists every problem"}}
	}
	rs := []checkResult{{Status: statusOK, Check: "config", Detail: fmt.Sprintf("store %s/%s, %d devices, %d zones, %d lanes, %d doors",
		cfg.Store.Tenant, cfg.Store.ID, len(cfg.Devices), len(cfg.Zones), len(cfg.Lanes), len(cfg.Doors))}}
	rs = append(rs, dr.devices(cfg)...)
	rs = append(rs, dr.dataDir(cfg))
	rs = append(rs, dr.clock(ctx))
	rs = append(rs, dr.broker(ctx, cfg))
	for _, f := range []struct{ field, path string }{{"hq.ca_file", cfg.HQ.CAFile}, {"hq.cert_file", cfg.HQ.CertFile}} {
		if f.path != "" {
			rs = append(rs, dr.certificate(f.field, f.path))
		}
	}
	rs = append(rs, dr.database(cfg))
	return rs
}

func (dr doctor) clockNow() time.Time {
	if dr.now != nil {
		return dr.now()
	}
	return time.Now()
}

// devices checks that every hardware device's special file exists and that
// this user may open it. Simulated devices and counters that push over
// HTTP have none.
func (dr doctor) devices(cfg *configs.Config) []checkResult {
	var rs []checkResult
	for i, d := range cfg.Devices {
		if configs.DeviceKinds[d.Kind].Sim {
			continue
		}
		name := "device " + d.Name
		field := fmt.Sprintf("devices[%d]", i)
		var paths []devicePath
		switch {
		case d.Port != "":
			paths = append(paths, devicePath{d.Port, field + ".port", syscall.O_RDWR,
				"plug the device in and point " + field + ".port at it (`redcarpet devices` lists serial ports; prefer /dev/serial/by-id/…)"})
		case d.Input != "":
			paths = append(paths, devicePath{d.Input, field + ".input", syscall.O_RDONLY,
				"plug the device in and point " + field + ".input at it (`redcarpet devices` lists input devices; prefer /dev/input/by-id/…)"})
		case d.CounterID != "":
			paths = append(paths, devicePath{d.TokenFile, field + ".token_file", syscall.O_RDONLY,
				"create the file holding the token the counter sends"})
		}
		if d.SPI != "" {
			paths = append(paths, devicePath{spiPath(d.SPI), field + ".spi", syscall.O_RDWR,
				"turn SPI on (raspi-config > Interface Options > SPI) and check " + field + ".spi"})
		}
		if d.ResetPin != "" || d.D0Pin != "" || d.BeamAPin != "" {
			glob := dr.gpioGlob
			if glob == "" {
				glob = "/dev/gpiochip*"
			}
			chips, _ := filepath.Glob(glob)
			if len(chips) == 0 {
				rs = append(rs, checkResult{statusFail, name, "no GPIO character device (" + glob + ")",
					"use a kernel with GPIO character devices (Linux 4.8+); sysfs GPIO is not supported"})
			}
			for _, c := range chips {
				paths = append(paths, devicePath{c, field + " pins", syscall.O_RDWR, ""})
			}
		}
		bad := false
		for _, p := range paths {
			if r, ok := checkDevicePath(name, p); !ok {
				rs = append(rs, r)
				bad = true
			}
		}
		if !bad && len(paths) > 0 {
			var ps []string
			for _, p := range paths {
				ps = append(ps, p.path)
			}
			rs = append(rs, checkResult{Status: statusOK, Check: name, Detail: d.Kind + " " + strings.Join(ps, ", ")})
		}
	}
	return rs
}

type devicePath struct {
	path, field string
	mode        int // syscall.O_RDONLY or O_RDWR: the access the driver needs
	fix         string
}

// spiPath maps periph's SPI names ("SPI0.0") to the device file.
func spiPath(name string) string {
	var bus, cs int
	if _, err := fmt.Sscanf(name, "SPI%d.%d", &bus, &cs); err == nil {
		return fmt.Sprintf("/dev/spidev%d.%d", bus, cs)
	}
	return name
}

// checkDevicePath reports a missing or inaccessible file; it does not open
// it (opening a serial port toggles its control lines).
func checkDevicePath(check string, p devicePath) (checkResult, bool) {
	if _, err := os.Stat(p.path); err != nil {
		fix := p.fix
		if fix == "" {
			fix = "check " + p.field
		}
		return checkResult{statusFail, check, fmt.Sprintf("%s (%s): %v", p.path, p.field, unwrapPath(err)), fix}, false
	}
	mode := uint32(4) // R_OK
	if p.mode == syscall.O_RDWR {
		mode |= 2 // W_OK
	}
	if err := syscall.Access(p.path, mode); err != nil {
		return checkResult{statusFail, check, fmt.Sprintf("%s (%s): %v for user %s", p.path, p.field, err, userName()),
			"install the package's udev rules (they grant the redcarpet user access) or add the user to the device's group (" + groupOf(p.path) + ")"}, false
	}
	return checkResult{}, true
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func userName() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// groupOf names a file's group id, for the fix line.
func groupOf(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if name := groupName(st.Gid); name != "" {
			return name
		}
		return fmt.Sprintf("gid %d", st.Gid)
	}
	return "?"
}

// groupName looks a gid up in /etc/group (os/user would need cgo on some
// targets for NSS; the static binaries read the file).
func groupName(gid uint32) string {
	b, err := os.ReadFile("/etc/group")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[2] == fmt.Sprint(gid) {
			return f[0]
		}
	}
	return ""
}

// dataDir checks that data.dir is writable and has room.
func (dr doctor) dataDir(cfg *configs.Config) checkResult {
	const check = "data dir"
	dir := cfg.Data.Dir
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return checkResult{statusFail, check, fmt.Sprintf("%s is not writable: %v", dir, unwrapPath(err)),
			"create it and give it to the daemon's user (systemd: StateDirectory=redcarpet)"}
	}
	f.Close()
	os.Remove(f.Name())
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return checkResult{statusWarn, check, fmt.Sprintf("%s: free space unknown: %v", dir, err), ""}
	}
	free := st.Bavail * uint64(st.Bsize)
	total := st.Blocks * uint64(st.Bsize)
	return diskVerdict(dir, free, total)
}

// diskVerdict grades free space on the data disk.
func diskVerdict(dir string, free, total uint64) checkResult {
	const check = "data dir"
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(free) / float64(total)
	}
	detail := fmt.Sprintf("%s writable, %s free (%.0f%%)", dir, mib(free), pct)
	fix := "free space on that filesystem or move data.dir; the outbox needs room during an HQ outage"
	switch {
	case free < diskFailFree:
		return checkResult{statusFail, check, detail, fix}
	case free < diskWarnFree || pct < diskWarnPercent:
		return checkResult{statusWarn, check, detail, fix}
	}
	return checkResult{Status: statusOK, Check: check, Detail: detail}
}

func mib(b uint64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%.0f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

// clock asks systemd whether the clock is synchronised: opening hours,
// intervals and certificate checks depend on it.
func (dr doctor) clock(ctx context.Context) checkResult {
	const check = "clock"
	fix := "enable time sync: sudo timedatectl set-ntp true (systemd-timesyncd), or run chrony"
	cmd := dr.timedatectl
	if cmd == "" {
		cmd = "timedatectl"
	}
	if cmd != "-" {
		if p, err := exec.LookPath(cmd); err == nil {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			out, err := exec.CommandContext(ctx, p, "show", "-p", "NTPSynchronized", "--value").Output()
			cancel()
			switch v := strings.TrimSpace(string(out)); {
			case err == nil && v == "yes":
				return checkResult{Status: statusOK, Check: check, Detail: "synchronised (timedatectl)"}
			case err == nil && v == "no":
				return checkResult{statusWarn, check, "not synchronised (timedatectl)", fix}
			}
		}
	}
	file := dr.syncFile
	if file == "" {
		file = "/run/systemd/timesync/synchronized"
	}
	if _, err := os.Stat(file); err == nil {
		return checkResult{Status: statusOK, Check: check, Detail: "synchronised (" + file + ")"}
	}
	return checkResult{statusWarn, check, "cannot tell whether the clock is synchronised (no timedatectl, no " + file + ")", fix}
}

// broker connects to HQ's broker and, for ssl://, completes a TLS handshake
// with the configured CA and client certificate.
func (dr doctor) broker(ctx context.Context, cfg *configs.Config) checkResult {
	const check = "broker"
	u, err := url.Parse(cfg.HQ.Broker)
	if err != nil {
		return checkResult{statusFail, check, fmt.Sprintf("hq.broker %q: %v", cfg.HQ.Broker, err), "correct hq.broker"}
	}
	secure := u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts"
	host := u.Host
	if u.Port() == "" {
		port := "1883"
		if secure {
			port = "8883"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	timeout := dr.dialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, port, _ := net.SplitHostPort(host)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return checkResult{statusFail, check, fmt.Sprintf("%s unreachable: %v", host, err),
			"check the network, DNS and firewall (outbound TCP " + port + "), and hq.broker; the store keeps trading and queues events meanwhile"}
	}
	defer conn.Close()
	if !secure {
		return checkResult{Status: statusOK, Check: check, Detail: host + " reachable (plain TCP, no TLS)"}
	}
	tc, err := configs.LoadTLS(cfg.HQ.Broker, cfg.HQ.CAFile, cfg.HQ.CertFile, cfg.HQ.KeyFile)
	if err != nil {
		return checkResult{statusFail, check, err.Error(), "correct hq.ca_file, hq.cert_file and hq.key_file"}
	}
	tc = tc.Clone()
	tc.ServerName = u.Hostname()
	tc.Time = dr.now
	t := tls.Client(conn, tc)
	if err := t.HandshakeContext(ctx); err != nil {
		return checkResult{statusFail, check, fmt.Sprintf("%s: TLS handshake: %v", host, err),
			"check that hq.ca_file is the CA that signed the broker's certificate, the broker's name matches hq.broker, and HQ accepts hq.cert_file"}
	}
	return checkResult{Status: statusOK, Check: check, Detail: host + " reachable, TLS handshake ok"}
}

// certificate checks the validity period of every certificate in a PEM file.
func (dr doctor) certificate(field, path string) checkResult {
	check := field
	b, err := os.ReadFile(path)
	if err != nil {
		return checkResult{statusFail, check, fmt.Sprintf("%s: %v", path, unwrapPath(err)), "correct " + field}
	}
	now := dr.clockNow()
	worst := checkResult{Status: statusOK, Check: check}
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return checkResult{statusFail, check, fmt.Sprintf("%s: %v", path, err), "replace " + field + " with a PEM certificate"}
		}
		n++
		r := certVerdict(check, c, now)
		if n == 1 || r.Status > worst.Status {
			worst = r
		}
	}
	if n == 0 {
		return checkResult{statusFail, check, path + ": no PEM certificate in it", "replace " + field + " with a PEM certificate"}
	}
	return worst
}

func certVerdict(check string, c *x509.Certificate, now time.Time) checkResult {
	subject := c.Subject.CommonName
	if subject == "" {
		subject = c.Subject.String()
	}
	until := c.NotAfter.UTC().Format("2006-01-02")
	left := c.NotAfter.Sub(now)
	switch {
	case now.Before(c.NotBefore):
		return checkResult{statusFail, check, fmt.Sprintf("%q not valid before %s", subject, c.NotBefore.UTC().Format(time.DateTime)),
			"check the clock, or wait: the certificate is not valid yet"}
	case left <= 0:
		return checkResult{statusFail, check, fmt.Sprintf("%q expired on %s", subject, until),
			"renew the certificate at HQ and install the new one; the gateway cannot connect until then"}
	case left < certWarnAhead:
		return checkResult{statusWarn, check, fmt.Sprintf("%q expires in %d days (%s)", subject, int(left.Hours()/24), until),
			"renew the certificate at HQ and install it before it expires"}
	}
	return checkResult{Status: statusOK, Check: check, Detail: fmt.Sprintf("%q valid until %s", subject, until)}
}

// database reports whether a running daemon holds the database. That is
// normal; it only means that commands needing the file must stop it first.
func (dr doctor) database(cfg *configs.Config) checkResult {
	const check = "database"
	path := filepath.Join(cfg.Data.Dir, DBFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return checkResult{Status: statusOK, Check: check, Detail: path + " not created yet (the daemon creates it)"}
	}
	timeout := dr.lockTimeout
	if timeout == 0 {
		timeout = 500 * time.Millisecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: true})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return checkResult{Status: statusOK, Check: check, Detail: path + " in use by a running daemon"}
	case err != nil:
		return checkResult{statusFail, check, fmt.Sprintf("%s: %v", path, err),
			"the daemon moves a corrupt database aside at start; check the file's owner and mode"}
	}
	db.Close()
	return checkResult{Status: statusOK, Check: check, Detail: path + " not locked (no daemon running on it)"}
}
