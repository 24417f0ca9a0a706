package uplink_test

import (
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	hqingest "github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/tlstest"
	"github.com/redcarpet-retail/redcarpet/sync/uplink"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// secSink is an HQ sink that hands every stored event to a channel.
type secSink chan wire.CloudEvent

func (s secSink) Store(ctx context.Context, _, _ string, evs []wire.CloudEvent) (int, int, error) {
	for _, e := range evs {
		select {
		case s <- e:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
	return len(evs), 0, nil
}

// secRunIngest runs the real HQ ingest as worker cn until the test ends and
// waits for its shared subscription.
func secRunIngest(t *testing.T, url string, tc *tls.Config, id string, sink hqingest.Sink) {
	t.Helper()
	in := hqingest.New(hqingest.Options{Broker: url, ClientID: id, TLS: tc, Tenant: secTenant, Sink: sink,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, ConnectTimeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest Run = %v", err)
		}
	})
	select {
	case <-in.Ready():
	case <-time.After(secWait):
		t.Fatalf("HQ ingest not subscribed to %s within %s", in.Filter(), secWait)
	}
}

// TestMutualTLS: a store delivers through the broker to HQ, both
// authenticated by their certificates; clients without a certificate, with
// one of another CA, or not trusting the broker do not get in.
func TestMutualTLS(t *testing.T) {
	for name, start := range secBrokers() {
		t.Run(name, func(t *testing.T) {
			b := start(t)
			got := make(chan wire.CloudEvent, 1000)
			secRunIngest(t, b.url, b.pki.ClientTLS(t, "hq-1"), "hq-1", secSink(got))

			// The store's TLS comes from its configuration files, as in
			// the daemon.
			certFile, keyFile := b.pki.ClientFiles(t, "s1")
			tc, err := configs.LoadTLS(b.url, b.pki.CAFile, certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			const n = 50
			ob := secOutbox(t, n)
			secRunUplink(t, ob, uplink.Options{Broker: b.url, ClientID: "redcarpet-acme-s1", TLS: tc,
				Tenant: secTenant, Store: "s1", Version: "test", BatchMaxEvents: 20, BatchMaxAge: 10 * time.Millisecond,
				BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, AckTimeout: 5 * time.Second})
			ids := map[string]bool{}
			timeout := time.After(secWait)
			for len(ids) < n {
				select {
				case e := <-got:
					if e.Source != wire.Source(secTenant, "s1") {
						t.Errorf("event %s from %s", e.ID, e.Source)
					}
					ids[e.ID] = true
				case <-timeout:
					t.Fatalf("HQ got %d of %d events within %s", len(ids), n, secWait)
				}
			}

			rogue := tlstest.NewNamed(t, "Rogue CA")
			withRogueCert := b.pki.TrustTLS()
			rogueCert := rogue.Client(t, "s1").TLS
			// Sent even though the broker asks for certificates of its CA.
			withRogueCert.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &rogueCert, nil
			}
			trustsRogue := rogue.TrustTLS()
			trustsRogue.Certificates = []tls.Certificate{b.pki.Client(t, "s1").TLS}
			for what, tc := range map[string]*tls.Config{
				"no client certificate":          b.pki.TrustTLS(),
				"a certificate of another CA":    withRogueCert,
				"a client not trusting the CA":   trustsRogue,
				"a client without TLS (tcp://)":  nil,
				"a valid certificate, TLS 1.1":   {RootCAs: b.pki.CA.Pool(), Certificates: []tls.Certificate{b.pki.Client(t, "s1").TLS}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
				"a valid certificate (baseline)": b.pki.ClientTLS(t, "s1"),
			} {
				url := b.url
				if tc == nil {
					url = "tcp://" + url[len("ssl://"):]
				}
				c, err := secConnect(url, tc, "probe", "", "", nil, nil)
				if what == "a valid certificate (baseline)" {
					if err != nil {
						t.Errorf("%s refused: %v", what, err)
					} else {
						c.Disconnect(0)
					}
					continue
				}
				if err == nil {
					c.Disconnect(0)
					t.Errorf("%s: connected", what)
					continue
				}
				t.Logf("%s: refused: %v", what, err)
			}
		})
	}
}

// TestMosquittoPassword runs deploy/mosquitto/redcarpet-password.conf:
// stores log in with username and password over server-authenticated TLS,
// under the same ACL.
func TestMosquittoPassword(t *testing.T) {
	passwdBin := secMosquittoBinary(t, "mosquitto_passwd")
	pki := tlstest.New(t)
	passwd := filepath.Join(t.TempDir(), "passwd")
	users := [][2]string{{"s1", "s1-secret"}, {"hq-1", "hq-secret"}}
	for i, u := range users {
		args := []string{"-b", passwd, u[0], u[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(passwdBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
	}
	if err := os.Chmod(passwd, 0o600); err != nil {
		t.Fatal(err)
	}
	m := secStartMosquitto(t, "redcarpet-password.conf", pki, passwd)

	got := make(chan wire.CloudEvent, 100)
	in := hqingest.New(hqingest.Options{Broker: m.url, ClientID: "hq-1", Username: "hq-1", Password: "hq-secret",
		TLS: pki.TrustTLS(), Tenant: secTenant, Sink: secSink(got),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, ConnectTimeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-in.Ready():
	case <-time.After(secWait):
		t.Fatal("HQ ingest did not subscribe with its password")
	}

	const n = 10
	ob := secOutbox(t, n)
	secRunUplink(t, ob, uplink.Options{Broker: m.url, ClientID: "redcarpet-acme-s1", Username: "s1", Password: "s1-secret",
		TLS: pki.TrustTLS(), Tenant: secTenant, Store: "s1", BatchMaxAge: 10 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	ids := map[string]bool{}
	timeout := time.After(secWait)
	for len(ids) < n {
		select {
		case e := <-got:
			ids[e.ID] = true
		case <-timeout:
			t.Fatalf("HQ got %d of %d events within %s", len(ids), n, secWait)
		}
	}

	for what, login := range map[string][2]string{
		"a wrong password": {"s1", "guess"},
		"an unknown user":  {"s9", "s1-secret"},
		"no password":      {"s1", ""},
		"no username":      {"", ""},
	} {
		c, err := secConnect(m.url, pki.TrustTLS(), "probe", login[0], login[1], nil, nil)
		if err == nil {
			c.Disconnect(0)
			t.Errorf("%s: connected", what)
			continue
		}
		t.Logf("%s: refused: %v", what, err)
	}
}

// TestMosquittoClientIDIsUsername: with use_username_as_clientid a store
// that connects with an HQ worker's client id does not take the worker's
// session away.
func TestMosquittoClientIDIsUsername(t *testing.T) {
	b := secBrokers()["mosquitto"](t)
	obs, _ := b.observe(t, "hq-1", "hq-1", secPrefix+"+/req/#")
	impostor := b.mustConnect(t, "s1", "hq-1")
	if err := secPublish(impostor, secPrefix+"s1/req/changes", []byte("marker"), false); err != nil {
		t.Fatal(err)
	}
	obs.until(t, "marker") // fails if the secObserver lost its connection
}
