package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/sync/tlstest"
)

// writeCert writes a self-signed certificate valid from notBefore to
// notAfter.
func writeCert(t *testing.T, path string, notBefore, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "store-001"},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDoctorCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct {
		name     string
		from, to time.Time // zero: no file written
		path     string
		want     checkStatus
		detail   string
	}{
		{name: "valid", from: now.Add(-day), to: now.Add(365 * day), want: statusOK, detail: "valid until 2027-11-23"},
		{name: "expiring", from: now.Add(-day), to: now.Add(10*day + time.Hour), want: statusWarn, detail: "expires in 10 days"},
		{name: "expires in 31 days", from: now.Add(-day), to: now.Add(31 * day), want: statusOK},
		{name: "expired", from: now.Add(-365 * day), to: now.Add(-day), want: statusFail, detail: "expired on 2026-11-22"},
		{name: "not yet valid", from: now.Add(day), to: now.Add(365 * day), want: statusFail, detail: "not valid before"},
		{name: "missing", path: filepath.Join(dir, "missing.pem"), want: statusFail, detail: "no such file"},
		{name: "not PEM", path: notPEM, want: statusFail, detail: "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".pem")
				writeCert(t, path, tc.from, tc.to)
			}
			r := doctor{now: func() time.Time { return now }}.certificate("hq.cert_file", path)
			if r.Status != tc.want || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("got %s %q; want %s mentioning %q", r.Status, r.Detail, tc.want, tc.detail)
			}
			if r.Status != statusOK && r.Fix == "" {
				t.Errorf("%s without a fix", r.Status)
			}
		})
	}
}

// tlsBroker accepts TLS connections and completes their handshakes.
func tlsBroker(t *testing.T, pki *tlstest.PKI) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.ServerTLS())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestDoctorBroker(t *testing.T) {
	dir := t.TempDir()
	plain := listen(t)
	defer plain.Close()
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()

	pki := tlstest.New(t)
	caFile := filepath.Join(dir, "ca.crt")
	os.WriteFile(caFile, pki.CA.PEM(), 0o600)
	certFile, keyFile := pki.ClientFiles(t, "store-001")
	other := tlstest.NewCA(t, "someone else")
	otherCA := filepath.Join(dir, "other.crt")
	os.WriteFile(otherCA, other.PEM(), 0o600)
	secure := tlsBroker(t, pki)

	for _, tc := range []struct {
		name   string
		hq     configs.HQLink
		want   checkStatus
		detail string
	}{
		{"reachable", configs.HQLink{Broker: "tcp://" + plain.Addr().String()}, statusOK, "reachable (plain TCP"},
		{"unreachable", configs.HQLink{Broker: "tcp://" + closedAddr}, statusFail, "unreachable"},
		{"tls", configs.HQLink{Broker: "ssl://" + secure, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, statusOK, "TLS handshake ok"},
		{"tls with the wrong CA", configs.HQLink{Broker: "ssl://" + secure, CAFile: otherCA, CertFile: certFile, KeyFile: keyFile}, statusFail, "TLS handshake"},
		{"tls with a missing key", configs.HQLink{Broker: "ssl://" + secure, CAFile: caFile, CertFile: certFile, KeyFile: filepath.Join(dir, "none")}, statusFail, "key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &configs.Config{HQ: tc.hq}
			r := doctor{dialTimeout: 2 * time.Second}.broker(context.Background(), cfg)
			if r.Status != tc.want || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("got %s %q; want %s mentioning %q", r.Status, r.Detail, tc.want, tc.detail)
			}
		})
	}
}

func TestDoctorDevices(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyUSB0")
	os.WriteFile(port, nil, 0o600)
	for _, tc := range []struct {
		name   string
		dev    configs.Device
		want   []checkStatus
		detail string
	}{
		{"simulated", configs.Device{Name: "r", Kind: "sim_rfid"}, nil, ""},
		{"missing serial port", configs.Device{Name: "r", Kind: "rdm6300", Port: filepath.Join(dir, "ttyUSB9")},
			[]checkStatus{statusFail}, "ttyUSB9 (devices[0].port): no such file or directory"},
		{"serial port", configs.Device{Name: "r", Kind: "rdm6300", Port: port}, []checkStatus{statusOK}, "rdm6300 " + port},
		{"missing input", configs.Device{Name: "s", Kind: "wedge_scanner", Input: filepath.Join(dir, "event7")},
			[]checkStatus{statusFail}, "devices[0].input"},
		{"no gpio chip", configs.Device{Name: "w", Kind: "wiegand", D0Pin: "GPIO5", D1Pin: "GPIO6"},
			[]checkStatus{statusFail}, "no GPIO character device"},
		{"missing spidev", configs.Device{Name: "m", Kind: "mfrc522", SPI: filepath.Join(dir, "spidev0.0"), ResetPin: "GPIO25", IRQPin: "GPIO24"},
			[]checkStatus{statusFail, statusFail}, "devices[0].spi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &configs.Config{Devices: []configs.Device{tc.dev}}
			rs := doctor{gpioGlob: filepath.Join(dir, "gpiochip*")}.devices(cfg)
			var got []checkStatus
			all := ""
			for _, r := range rs {
				got = append(got, r.Status)
				all += r.Detail + "\n"
				if r.Status != statusOK && r.Fix == "" {
					t.Errorf("%s %q without a fix", r.Status, r.Detail)
				}
			}
			if len(got) != len(tc.want) || !strings.Contains(all, tc.detail) {
				t.Errorf("got %v:\n%s\nwant %v mentioning %q", got, all, tc.want, tc.detail)
			}
			for i := range min(len(got), len(tc.want)) {
				if got[i] != tc.want[i] {
					t.Errorf("result %d: %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
	if spiPath("SPI0.1") != "/dev/spidev0.1" || spiPath("/dev/spidev1.0") != "/dev/spidev1.0" {
		t.Error("spiPath does not map periph names to device files")
	}
}

func TestDiskVerdict(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		free, total uint64
		want        checkStatus
	}{
		{10000 * mb, 20000 * mb, statusOK},
		{600 * mb, 1000 * mb, statusOK},
		{400 * mb, 1000 * mb, statusWarn},       // below 500 MB
		{900 * mb, 10000 * mb, statusWarn},      // below 10 %
		{40 * mb, 100 * mb, statusFail},         // below 50 MB
		{49 * mb, 100000000 * mb, statusFail},   // below 50 MB whatever the size
		{100000 * mb, 2000000 * mb, statusWarn}, // 5 %
		{100000 * mb, 1000000 * mb, statusOK},   // 10 %
	} {
		if r := diskVerdict("/data", tc.free, tc.total); r.Status != tc.want {
			t.Errorf("%d MB free of %d: %s %q, want %s", tc.free/mb, tc.total/mb, r.Status, r.Detail, tc.want)
		}
	}
}

func TestDoctorClock(t *testing.T) {
	dir := t.TempDir()
	script := func(name, answer string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("#!/bin/sh\necho "+answer+"\n"), 0o755)
		return p
	}
	synced := filepath.Join(dir, "synchronized")
	os.WriteFile(synced, nil, 0o644)
	for _, tc := range []struct {
		name        string
		timedatectl string
		syncFile    string
		want        checkStatus
		detail      string
	}{
		{"timedatectl yes", script("yes", "yes"), filepath.Join(dir, "none"), statusOK, "timedatectl"},
		{"timedatectl no", script("no", "no"), synced, statusWarn, "not synchronised"},
		{"timesyncd file", "-", synced, statusOK, synced},
		{"cannot tell", "-", filepath.Join(dir, "none"), statusWarn, "cannot tell"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := doctor{timedatectl: tc.timedatectl, syncFile: tc.syncFile}.clock(context.Background())
			if r.Status != tc.want || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("got %s %q; want %s mentioning %q", r.Status, r.Detail, tc.want, tc.detail)
			}
		})
	}
}

func TestDoctorDatabase(t *testing.T) {
	dir := t.TempDir()
	cfg := &configs.Config{Data: configs.Data{Dir: dir}}
	dr := doctor{lockTimeout: 50 * time.Millisecond}
	if r := dr.database(cfg); r.Status != statusOK || !strings.Contains(r.Detail, "not created yet") {
		t.Errorf("no database: %s %q", r.Status, r.Detail)
	}
	db, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := dr.database(cfg); r.Status != statusOK || !strings.Contains(r.Detail, "in use by a running daemon") {
		t.Errorf("locked database: %s %q", r.Status, r.Detail)
	}
	db.Close()
	if r := dr.database(cfg); r.Status != statusOK || !strings.Contains(r.Detail, "not locked") {
		t.Errorf("unlocked database: %s %q", r.Status, r.Detail)
	}
}

// doctorConfig writes the demo configuration with data.dir, hq.broker and
// extra text (appended) changed.
func doctorConfig(t *testing.T, dir, broker, extra string) string {
	t.Helper()
	b, err := configs.Samples.ReadFile(configs.DemoFile)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `dir = "redcarpet-demo-data"`, `dir = "`+dir+`"`, 1)
	s = strings.Replace(s, `broker = "tcp://127.0.0.1:1883"`, `broker = "`+broker+`"`, 1)
	path := filepath.Join(dir, "redcarpet.toml")
	if err := os.WriteFile(path, []byte(s+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDoctorCommand runs `redcarpet doctor` and checks its report and exit
// status: an error (exit 1) exactly when a check failed.
func TestDoctorCommand(t *testing.T) {
	brk := listen(t)
	defer brk.Close()
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()
	dir := t.TempDir()
	missingPort := `
[[devices]]
name = "lane-9-reader"
kind = "rdm6300"
lane = "1"
port = "` + filepath.Join(dir, "ttyUSB9") + `"
`
	for _, tc := range []struct {
		name       string
		broker     string
		extra      string
		fail       bool
		want, deny []string
	}{
		{name: "healthy", broker: "tcp://" + brk.Addr().String(),
			want: []string{"OK    config", "OK    broker", "OK    data dir", "not created yet", "0 failed"}, deny: []string{"FAIL"}},
		{name: "missing serial port", broker: "tcp://" + brk.Addr().String(), extra: missingPort, fail: true,
			want: []string{"FAIL  device lane-9-reader", "ttyUSB9", "fix: plug the device in", "1 failed"}},
		{name: "unreachable broker", broker: "tcp://" + closedAddr, fail: true,
			want: []string{"FAIL  broker", "unreachable", "fix: check the network"}},
		{name: "bad config", broker: "tcp://" + brk.Addr().String(), extra: "\n[nonsense]\n", fail: true,
			want: []string{"FAIL  config", "nonsense", "check-config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			path := doctorConfig(t, d, tc.broker, tc.extra)
			var out bytes.Buffer
			err := run(context.Background(), []string{"doctor", "-config", path}, &out, &out)
			if (err != nil) != tc.fail {
				t.Errorf("doctor returned %v; want failure %v\n%s", err, tc.fail, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.deny {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
		})
	}
}
