package hq

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// mosquitto returns the URL of the Mosquitto broker named by
// REDCARPET_TEST_MOSQUITTO (host:port). Unset, the test is skipped; set, the
// broker must answer.
func mosquitto(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("REDCARPET_TEST_MOSQUITTO")
	if addr == "" {
		t.Skip("REDCARPET_TEST_MOSQUITTO is not set (host:port of a Mosquitto 2 broker, e.g. 127.0.0.1:1883)")
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("REDCARPET_TEST_MOSQUITTO=%s: broker unreachable: %v", addr, err)
	}
	c.Close()
	return "tcp://" + addr
}

// mosquittoRun is one test's private corner of a shared broker: a random
// tenant (so topics and the subscription filter are its own), share group
// and client ids. The persistent sessions it creates are removed when the
// test ends.
type mosquittoRun struct {
	url, tenant, group string
}

func newMosquittoRun(t *testing.T) *mosquittoRun {
	url := mosquitto(t)
	var b [6]byte
	rand.Read(b[:])
	r := &mosquittoRun{url: url, tenant: "t" + hex.EncodeToString(b[:])}
	r.group = "g" + r.tenant
	return r
}

func (r *mosquittoRun) clientID(n int) string { return fmt.Sprintf("hqtest-%s-%d", r.tenant, n) }

func (r *mosquittoRun) options(t *testing.T, n int, sink Sink) Options {
	o := testOptions(t, r.url, r.clientID(n), sink)
	o.Tenant, o.ShareGroup = r.tenant, r.group
	// Registered before the Ingest starts, so it runs after it stopped.
	t.Cleanup(func() { r.dropSession(t, r.clientID(n)) })
	return o
}

// dropSession removes a persistent session: a clean-session connect with
// the same client id discards it.
func (r *mosquittoRun) dropSession(t *testing.T, id string) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.url).SetClientID(id).SetCleanSession(true).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Errorf("drop session %s: %v", id, tok.Error())
		return
	}
	c.Disconnect(100)
}

func (r *mosquittoRun) topic(store string) string {
	return wire.UplinkTopic(r.tenant, store, edge.KindFootfall)
}

func (r *mosquittoRun) batch(t *testing.T, store string, evs ...edge.Event) []byte {
	return hqtest.Batch(t, r.tenant, store, evs...)
}

func TestMosquittoStoresAndDeduplicates(t *testing.T) {
	r := newMosquittoRun(t)
	sink := openSink(t)
	in, _ := runIngest(t, r.options(t, 1, sink))
	pub := hqtest.NewPublisher(t, r.url)
	batch := r.batch(t, "s1", hqtest.Footfalls("abcd", 1, 3)...)
	pub.Publish(t, r.topic("s1"), batch)
	pub.Publish(t, r.topic("s1"), batch)

	waitFor(t, "both messages stored", func() bool { s := in.Stats(); return s.Inserted+s.Duplicates == 6 })
	if s := in.Stats(); s.Inserted != 3 || s.Duplicates != 3 {
		t.Errorf("Stats = %+v; want 3 inserted, 3 duplicates", s)
	}
	if ids, _ := sink.IDs(r.tenant, "s1"); !slices.Equal(ids, []string{"abcd-1", "abcd-2", "abcd-3"}) {
		t.Errorf("IDs = %v", ids)
	}
}

func TestMosquittoShareGroup(t *testing.T) {
	r := newMosquittoRun(t)
	s1, s2 := openSink(t), openSink(t)
	in1, _ := runIngest(t, r.options(t, 1, s1))
	in2, _ := runIngest(t, r.options(t, 2, s2))
	pub := hqtest.NewPublisher(t, r.url)
	const messages, per = 30, 4
	for i := range messages {
		from := i*per + 1
		pub.Publish(t, r.topic("s1"), r.batch(t, "s1", hqtest.Footfalls("ep", from, from+per-1)...))
	}
	const total = messages * per
	waitFor(t, "every event stored", func() bool { return in1.Stats().Inserted+in2.Stats().Inserted >= total })
	ids1, _ := s1.IDs(r.tenant, "s1")
	ids2, _ := s2.IDs(r.tenant, "s1")
	seen := map[string]int{}
	for _, id := range slices.Concat(ids1, ids2) {
		seen[id]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s stored by %d workers", id, n)
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct events, want %d", len(seen), total)
	}
	t.Logf("split: worker 1 %d events, worker 2 %d events", len(ids1), len(ids2))
}

func TestMosquittoRejectsAndContinues(t *testing.T) {
	r := newMosquittoRun(t)
	sink := openSink(t)
	in, _ := runIngest(t, r.options(t, 1, sink))
	pub := hqtest.NewPublisher(t, r.url)
	pub.Publish(t, r.topic("s1"), []byte("\x00\x01 not json"))
	pub.Publish(t, r.topic("s1"), r.batch(t, "s2", hqtest.Footfall("abcd-1")))
	pub.Publish(t, r.topic("s1"), r.batch(t, "s1", hqtest.Footfall("abcd-2")))
	waitFor(t, "good message stored", func() bool { return in.Stats().Inserted == 1 })
	waitFor(t, "2 rejections", func() bool { return in.Stats().Rejected == 2 })
	if in.RejectedBy(RejectPayload) != 1 || in.RejectedBy(RejectSource) != 1 {
		t.Errorf("rejections: payload %d, source %d", in.RejectedBy(RejectPayload), in.RejectedBy(RejectSource))
	}
	if ids, _ := sink.IDs(r.tenant, "s2"); len(ids) != 0 {
		t.Errorf("s2 holds %v", ids)
	}
}

func TestMosquittoResumesSession(t *testing.T) {
	r := newMosquittoRun(t)
	sink := openSink(t)
	_, stop := runIngest(t, r.options(t, 1, sink))
	stop()

	pub := hqtest.NewPublisher(t, r.url)
	pub.Publish(t, r.topic("s1"), r.batch(t, "s1", hqtest.Footfalls("abcd", 1, 5)...))

	in, _ := runIngest(t, r.options(t, 1, sink))
	waitFor(t, "messages queued while down", func() bool { return in.Stats().Inserted == 5 })
}

func TestMosquittoShareOfStoppedWorkerWaits(t *testing.T) {
	r := newMosquittoRun(t)
	shareWaits(t, r.url, r.options(t, 1, nil), r.options(t, 2, nil), r.tenant, r.topic("s1"))
}
