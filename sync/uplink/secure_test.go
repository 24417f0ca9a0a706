package uplink_test

// Helpers for the TLS and ACL tests (tls_test.go, acl_test.go): private
// Mosquitto brokers started from the sample configuration in
// deploy/mosquitto, the embedded broker with TLS and the per-store ACL, and
// small MQTT clients.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/tlstest"
	"github.com/redcarpet-retail/redcarpet/sync/uplink"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// secTenant is the tenant written into deploy/mosquitto/redcarpet.acl.
const secTenant = "acme"

// secPrefix starts every topic of secTenant.
const secPrefix = wire.Root + "/" + secTenant + "/"

// secWait bounds every wait of these tests.
const secWait = 15 * time.Second

const secMosquittoEnv = "REDCARPET_TEST_MOSQUITTO"

// secBroker is a broker under test: TLS with client certificates of pki,
// the per-store ACL, HQ workers hq-1 and hq-2.
type secBroker struct {
	name string
	url  string // ssl://127.0.0.1:port
	pki  *tlstest.PKI
	// strict: the embedded broker disconnects a client that publishes to a
	// forbidden topic and refuses a CONNECT whose Last Will it may not
	// secPublish. Mosquitto acknowledges such publishes (MQTT 3.1.1 PUBACK)
	// and drops them, and drops such wills.
	strict bool
}

// secBrokers returns the brokers to run a test against: a private
// Mosquitto from deploy/mosquitto/redcarpet.conf (when secMosquittoEnv is
// set) and the embedded broker.
func secBrokers() map[string]func(*testing.T) *secBroker {
	return map[string]func(*testing.T) *secBroker{
		"mosquitto": func(t *testing.T) *secBroker {
			pki := tlstest.New(t)
			m := secStartMosquitto(t, "redcarpet.conf", pki, "")
			return &secBroker{name: "mosquitto", url: m.url, pki: pki}
		},
		"embedded": func(t *testing.T) *secBroker {
			pki := tlstest.New(t)
			b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", TLS: pki.ServerTLS(),
				ACL: &broker.ACL{Tenant: secTenant, HQ: []string{"hq-1", "hq-2"}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return &secBroker{name: "embedded", url: b.URL(), pki: pki, strict: true}
		},
	}
}

// secMosquittoBinary returns the path of a tool of the mosquitto package. It
// skips the test when secMosquittoEnv is unset and fails it when the variable
// is set but the tool is missing.
func secMosquittoBinary(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv(secMosquittoEnv) == "" {
		t.Skip(secMosquittoEnv + " is not set: no private Mosquitto brokers (CI sets it)")
	}
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name, "/usr/local/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("%s is set but %s is not installed (apt-get install mosquitto)", secMosquittoEnv, name)
	return ""
}

// secMosquitto is a Mosquitto process of one test.
type secMosquitto struct {
	url string

	mu  sync.Mutex
	log []string
}

func (m *secMosquitto) logLine(l string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, l)
}

func (m *secMosquitto) logs() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.log, "\n")
}

// secStartMosquitto starts Mosquitto with the sample configuration
// deploy/mosquitto/<sample>, adapted only in paths and port: the listener
// on a free port of 127.0.0.1, the certificates of pki, the sample ACL file
// itself, passwd as password file, persistence and logs in a temporary
// directory. It is stopped when the test ends.
func secStartMosquitto(t *testing.T, sample string, pki *tlstest.PKI, passwd string) *secMosquitto {
	t.Helper()
	bin := secMosquittoBinary(t, "mosquitto")
	dir := t.TempDir()
	for attempt := range 3 {
		port := secFreePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("%s.%d", sample, attempt))
		if err := os.WriteFile(conf, []byte(secAdaptSample(t, sample, pki, passwd, dir, port)), 0o600); err != nil {
			t.Fatal(err)
		}
		m := &secMosquitto{url: "ssl://127.0.0.1:" + strconv.Itoa(port)}
		cmd := exec.Command(bin, "-c", conf)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start mosquitto: %v", err)
		}
		ready, exited := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(exited)
			sc := bufio.NewScanner(stderr)
			isReady := false
			for sc.Scan() {
				m.logLine(sc.Text())
				if !isReady && strings.Contains(sc.Text(), "mosquitto version") && strings.HasSuffix(sc.Text(), "running") {
					isReady = true
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
			// Only the adapted listener: a listener setting misplaced in
			// the sample opens a default plain-text listener on 1883.
			for _, l := range strings.Split(m.logs(), "\n") {
				if strings.Contains(l, "listen socket on port") && !strings.HasSuffix(l, " port "+strconv.Itoa(port)+".") {
					t.Errorf("mosquitto opened another listener: %s", l)
				}
			}
			t.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(5 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("mosquitto %s log:\n%s", sample, m.logs())
				}
			})
			return m
		case <-exited:
			_ = cmd.Wait()
			if strings.Contains(m.logs(), "Address already in use") {
				t.Logf("mosquitto: port %d taken meanwhile:\n%s", port, m.logs())
				continue
			}
			t.Fatalf("mosquitto exited at start:\n%s", m.logs())
		case <-time.After(secWait):
			_ = cmd.Process.Kill()
			<-exited
			_ = cmd.Wait()
			t.Fatalf("mosquitto not running after %s:\n%s", secWait, m.logs())
		}
	}
	t.Fatal("mosquitto: no free port in 3 attempts")
	return nil
}

// secAdaptSample rewrites the paths and the port of a sample configuration.
// It fails the test when the sample lacks a setting it expects, so the
// sample cannot drift away from what is tested.
func secAdaptSample(t *testing.T, sample string, pki *tlstest.PKI, passwd, dir string, port int) string {
	t.Helper()
	src := filepath.Join("..", "..", "deploy", "mosquitto", sample)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	acl, err := filepath.Abs(filepath.Join("..", "..", "deploy", "mosquitto", "redcarpet.acl"))
	if err != nil {
		t.Fatal(err)
	}
	replace := map[string]string{
		"listener":             fmt.Sprintf("%d 127.0.0.1", port),
		"cafile":               pki.CAFile,
		"certfile":             pki.ServerCertFile,
		"keyfile":              pki.ServerKeyFile,
		"acl_file":             acl,
		"persistence_location": dir + "/",
		"log_dest":             "stderr",
	}
	if passwd != "" {
		replace["password_file"] = passwd
	}
	seen := map[string]bool{}
	var out []string
	if os.Geteuid() == 0 {
		// Mosquitto started as root drops to the user "mosquitto", which
		// cannot read the test's temporary files.
		if u, err := user.Current(); err == nil {
			out = append(out, "user "+u.Username)
		}
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			if f[0] == "user" || f[0] == "pid_file" || f[0] == "crlfile" {
				t.Fatalf("%s: %s is set; the test cannot adapt it", src, f[0])
			}
			if v, ok := replace[f[0]]; ok {
				line = f[0] + " " + v
				seen[f[0]] = true
			}
		}
		out = append(out, line)
	}
	for k := range replace {
		if !seen[k] {
			t.Fatalf("%s: no %s setting", src, k)
		}
	}
	return strings.Join(out, "\n")
}

func secFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// secConnect opens an MQTT 3.1.1 connection and returns the CONNECT error.
// lost, when not nil, receives the error of a connection lost later.
func secConnect(url string, tc *tls.Config, id, username, password string, lost chan<- error, will *secWill) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second).
		SetUsername(username).SetPassword(password)
	if tc != nil {
		o.SetTLSConfig(tc)
	}
	if will != nil {
		o.SetBinaryWill(will.topic, will.payload, 1, true)
	}
	if lost != nil {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(secWait) {
		c.Disconnect(0)
		return nil, fmt.Errorf("secConnect %s: no CONNACK within %s", url, secWait)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

type secWill struct {
	topic   string
	payload []byte
}

// mustConnect connects as the certificate cn of b.
func (b *secBroker) mustConnect(t *testing.T, cn, id string) paho.Client {
	t.Helper()
	c, err := secConnect(b.url, b.pki.ClientTLS(t, cn), id, "", "", nil, nil)
	if err != nil {
		t.Fatalf("%s: secConnect as %s: %v", b.name, cn, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// secPublish publishes at QoS 1 and returns the error of the token: nil when
// the broker acknowledged.
func secPublish(c paho.Client, topic string, payload []byte, retained bool) error {
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(secWait) {
		return fmt.Errorf("secPublish %s: no PUBACK within %s", topic, secWait)
	}
	return tok.Error()
}

// secObserver is a subscriber that hands every message to its channel.
type secObserver struct {
	name string
	msgs chan paho.Message
	lost chan error
}

// observe connects as cn and subscribes to filters; it returns the SUBACK
// codes by filter.
func (b *secBroker) observe(t *testing.T, cn, id string, filters ...string) (*secObserver, map[string]byte) {
	t.Helper()
	o := &secObserver{name: cn, msgs: make(chan paho.Message, 1000), lost: make(chan error, 1)}
	c, err := secConnect(b.url, b.pki.ClientTLS(t, cn), id, "", "", o.lost, nil)
	if err != nil {
		t.Fatalf("%s: secConnect as %s: %v", b.name, cn, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	c.AddRoute("#", func(_ paho.Client, m paho.Message) { o.msgs <- m })
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	tok := c.SubscribeMultiple(subs, nil)
	if !tok.WaitTimeout(secWait) || tok.Error() != nil {
		t.Fatalf("%s: subscribe as %s: %v", b.name, cn, tok.Error())
	}
	return o, tok.(*paho.SubscribeToken).Result()
}

// until collects messages until one with payload marker arrives.
func (o *secObserver) until(t *testing.T, marker string) []paho.Message {
	t.Helper()
	var got []paho.Message
	timeout := time.After(secWait)
	for {
		select {
		case m := <-o.msgs:
			got = append(got, m)
			if string(m.Payload()) == marker {
				return got
			}
		case err := <-o.lost:
			t.Fatalf("%s lost its connection waiting for %q: %v", o.name, marker, err)
		case <-timeout:
			t.Fatalf("%s: no %q within %s; got %s", o.name, marker, secWait, secDescribe(got))
		}
	}
}

func secDescribe(ms []paho.Message) string {
	var s []string
	for _, m := range ms {
		p := string(m.Payload())
		if len(p) > 40 {
			p = p[:40] + "…"
		}
		s = append(s, fmt.Sprintf("%s=%q", m.Topic(), p))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// secOutbox opens an outbox in a temporary directory, holding n events of
// several kinds.
func secOutbox(t *testing.T, n int) *outbox.Outbox {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"), 0o600, outbox.DBOptions())
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close(); db.Close() })
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var evs []edge.Event
	for i := range n {
		if i%2 == 0 {
			evs = append(evs, edge.Event{Kind: edge.KindFootfall, Source: "engine", Time: at,
				Footfall: &edge.Footfall{Door: "main", Start: at, End: at.Add(15 * time.Minute), In: i, Out: i / 2, Occupancy: i / 2}})
		} else {
			evs = append(evs, edge.Event{Kind: edge.KindDeviceStatus, Source: "door-1", Time: at,
				Device: &edge.DeviceStatus{Device: "door-1", Kind: "door", State: edge.DeviceUp}})
		}
	}
	if err := ob.Append(evs); err != nil {
		t.Fatal(err)
	}
	return ob
}

// secRunUplink runs an uplink until the test ends.
func secRunUplink(t *testing.T, ob *outbox.Outbox, o uplink.Options) {
	t.Helper()
	u := uplink.New(ob, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("uplink Run = %v after cancel, want nil", err)
		}
	})
}
