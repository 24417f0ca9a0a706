package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire/contract"
)

// payloads records every PUBLISH the broker receives (msgs), and in all
// what the store sent.
type payloads struct {
	mqtt.HookBase
	mu   sync.Mutex
	all  [][]byte
	msgs []message
}

func (p *payloads) ID() string           { return "payloads" }
func (p *payloads) Provides(b byte) bool { return b == mqtt.OnPublish }

func (p *payloads) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// What leaves the store: its uplink, state and change requests. The
	// downlink brings member data from HQ into the store by design.
	if strings.Contains(pk.TopicName, "/up/") || strings.HasSuffix(pk.TopicName, "/state") || strings.Contains(pk.TopicName, "/req/") {
		p.all = append(p.all, append([]byte(pk.TopicName+" "), pk.Payload...))
	}
	p.msgs = append(p.msgs, message{pk.TopicName, bytes.Clone(pk.Payload)})
	return pk, nil
}

type message struct {
	topic   string
	payload []byte
}

// identifiers records the raw card UIDs and barcodes the devices produced.
type identifiers struct {
	mu    sync.Mutex
	uids  map[string][]byte
	codes map[string]bool
}

func (ids *identifiers) tap(ev edge.Event) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	switch {
	case ev.Card != nil:
		ids.uids[string(ev.Card.UID)] = ev.Card.UID
	case ev.Scan != nil:
		ids.codes[ev.Scan.Code] = true
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// TestDemoEndToEnd runs the demo (simulated store, embedded broker, HQ
// ingest) and checks that HQ holds exactly what the store produced, and that
// no raw card UID or member barcode appears in the database files, the logs
// or any MQTT payload.
func TestDemoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ids := &identifiers{uids: map[string][]byte{}, codes: map[string]bool{}}
	pl := &payloads{}
	var stdout, stderr syncBuffer
	paris, _ := time.LoadLocation("Europe/Paris")
	o := demoOptions{
		duration: 6 * time.Second, members: 2000, speed: 900, seed: 7, listen: "127.0.0.1:0", dir: dir,
		start: time.Date(2026, 11, 21, 10, 30, 0, 0, paris), // a Saturday
		drain: 30 * time.Second, tap: ids.tap, brokerHooks: []mqtt.Hook{pl},
	}
	sum, err := runDemo(context.Background(), o, &stdout, &stderr)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.Bytes())
	}
	if !sum.Complete() {
		t.Errorf("HQ incomplete: %+v", sum)
	}
	if sum.Recognised == 0 || sum.OffersShown == 0 || sum.Intervals == 0 || sum.Produced == 0 {
		t.Errorf("a simulated 90 minutes should recognise members, show offers and close intervals: %+v", sum)
	}
	if sum.Baskets == 0 {
		t.Errorf("the simulated tills closed no member basket: %+v", sum)
	}
	out := string(stdout.Bytes())
	for _, want := range []string{"/signage/fresh", "/checkout/2", "HQ holds exactly what the store produced: yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	ids.mu.Lock()
	defer ids.mu.Unlock()
	if len(ids.uids) < 10 || len(ids.codes) < 3 {
		t.Fatalf("only %d card UIDs and %d barcodes seen: the scan below would prove little", len(ids.uids), len(ids.codes))
	}
	haystacks := map[string][]byte{"stdout": stdout.Bytes(), "logs": stderr.Bytes()}
	// The store's file. (HQ's hq.db holds HQ's own member master data, raw
	// card ids included: HQ issued them.)
	for _, f := range []string{DBFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		haystacks[f] = b
	}
	pl.mu.Lock()
	haystacks["mqtt"] = bytes.Join(pl.all, []byte("\n"))
	pl.mu.Unlock()
	if len(haystacks["mqtt"]) < 1000 {
		t.Fatalf("captured only %d bytes of MQTT payloads", len(haystacks["mqtt"]))
	}
	for name, h := range haystacks {
		upper := bytes.ToUpper(h)
		for _, uid := range ids.uids {
			// Every UID as hex text; as raw bytes only from 7 bytes up: four
			// given bytes turn up by chance in a megabyte of binary file.
			if bytes.Contains(upper, []byte(strings.ToUpper(hex.EncodeToString(uid)))) ||
				(len(uid) >= 7 && bytes.Contains(h, uid)) {
				t.Errorf("%s contains raw card UID %X", name, uid)
			}
		}
		for code := range ids.codes {
			if bytes.Contains(h, []byte(code)) {
				t.Errorf("%s contains a raw member barcode", name)
			}
		}
	}
	if bytes.Contains(haystacks["mqtt"], []byte("first_name")) {
		t.Error("an MQTT payload carries a first name")
	}
	// The scan works: member ids do reach HQ.
	if !bytes.Contains(haystacks["mqtt"], []byte(`"member_id":"M`)) {
		t.Error("no member id in MQTT payloads: the payload capture is broken")
	}

	// Every message that crossed the broker follows the published
	// contract (deploy/asyncapi.yaml).
	c, err := contract.Load(filepath.Join("..", "..", "deploy", "asyncapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	topics := map[string]int{}
	for _, m := range pl.msgs {
		if len(m.payload) == 0 {
			continue // a retained message cleared
		}
		if err := c.Validate(m.topic, m.payload); err != nil {
			t.Errorf("%s: %v", m.topic, err)
		}
		parts := strings.Split(m.topic, "/")
		topics[strings.Join(parts[len(parts)-2:], "/")]++
	}
	for _, want := range []string{"up/recognition", "up/exposure", "up/footfall", "up/device", "store-001/state", "req/changes", "down/changes", "down/head"} {
		if topics[want] == 0 {
			t.Errorf("no %s message was validated (saw %v)", want, topics)
		}
	}
}
