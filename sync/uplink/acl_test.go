package uplink_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// The per-store ACL, tested from the receiving side: with MQTT 3.1.1
// Mosquitto acknowledges a forbidden secPublish (PUBACK, return code 0) and
// drops it, so a publisher cannot tell. Each case sends the forbidden
// messages, then a marker that is allowed; a subscriber allowed to read
// everything of the tenant must see the marker and none of the forbidden
// messages.

// secHQReadAll is what an HQ worker may read: every topic of the tenant.
var secHQReadAll = []string{secPrefix + "+/up/#", secPrefix + "+/state", secPrefix + "+/req/#", secPrefix + "+/down/#"}

func TestACL(t *testing.T) {
	for name, start := range secBrokers() {
		t.Run(name, func(t *testing.T) {
			b := start(t)
			t.Run("store publishes only its own topics", func(t *testing.T) { aclStorePublishes(t, b) })
			t.Run("store receives only its own downlink", func(t *testing.T) { aclStoreSubscribes(t, b) })
			t.Run("store configured with another store's id", func(t *testing.T) { aclWrongStoreID(t, b) })
		})
	}
}

func aclStorePublishes(t *testing.T, b *secBroker) {
	obs, _ := b.observe(t, "hq-1", "hq-observer-1", secHQReadAll...)
	forbidden := []string{
		secPrefix + "s2/up/footfall",        // another store's uplink
		secPrefix + "s2/state",              // another store's state
		secPrefix + "s2/req/changes",        // requests in another store's name
		secPrefix + "s1/down/changes",       // HQ's downlink, even its own
		secPrefix + "s2/down/changes",       // HQ's downlink to another store
		secPrefix + "all/down/head",         // HQ's head for every store
		secPrefix + "all/up/footfall",       // "all" is not a store
		"redcarpet/v1/other/s1/up/footfall", // another tenant
	}
	for _, topic := range forbidden {
		// A connection each: the embedded broker disconnects a client
		// after a forbidden secPublish.
		c, err := secConnect(b.url, b.pki.ClientTLS(t, "s1"), "s1-bad", "", "", nil, nil)
		if err != nil {
			t.Fatalf("secConnect as s1: %v", err)
		}
		err = secPublish(c, topic, []byte("forbidden "+topic), false)
		c.Disconnect(0)
		switch {
		case b.strict && err == nil:
			t.Errorf("secPublish to %s acknowledged; the embedded broker should disconnect", topic)
		case !b.strict && err != nil:
			t.Errorf("secPublish to %s: %v; Mosquitto acknowledges and drops with MQTT 3.1.1", topic, err)
		}
	}
	c := b.mustConnect(t, "s1", "s1-good")
	for _, m := range [][2]string{
		{secPrefix + "s1/up/footfall", "legit uplink"},
		{secPrefix + "s1/state", "legit state"},
		{secPrefix + "s1/req/changes", "marker"},
	} {
		if err := secPublish(c, m[0], []byte(m[1]), false); err != nil {
			t.Fatalf("secPublish to %s: %v", m[0], err)
		}
	}
	got := obs.until(t, "marker")
	seen := map[string]bool{}
	for _, m := range got {
		p := string(m.Payload())
		seen[p] = true
		if strings.HasPrefix(p, "forbidden") {
			t.Errorf("HQ received a forbidden secPublish on %s", m.Topic())
		}
	}
	if !seen["legit uplink"] || !seen["legit state"] {
		t.Errorf("HQ missed s1's own messages: got %s", secDescribe(got))
	}
}

func aclStoreSubscribes(t *testing.T, b *secBroker) {
	obs, codes := b.observe(t, "s1", "s1-sub",
		secPrefix+"s2/down/#",  // another store's downlink
		secPrefix+"+/down/#",   // every store's downlink
		secPrefix+"+/up/#",     // every store's uplink
		secPrefix+"#",          // everything of the tenant
		secPrefix+"s1/down/#",  // its own downlink
		secPrefix+"all/down/#") // the tenant-wide downlink
	t.Logf("%s SUBACK codes: %v", b.name, codes) // Mosquitto 2.0 grants all and filters each message
	for _, f := range []string{secPrefix + "s1/down/#", secPrefix + "all/down/#"} {
		if codes[f] != 1 {
			t.Errorf("subscription %s: SUBACK %#x, want QoS 1", f, codes[f])
		}
	}
	s2 := b.mustConnect(t, "s2", "s2-pub")
	if err := secPublish(s2, wire.UplinkTopic(secTenant, "s2", edge.KindFootfall), []byte("forbidden s2 uplink"), false); err != nil {
		t.Fatal(err)
	}
	if err := secPublish(s2, wire.StateTopic(secTenant, "s2"), []byte("forbidden s2 state"), false); err != nil {
		t.Fatal(err)
	}
	hqPub := b.mustConnect(t, "hq-2", "hq-2-pub")
	for _, m := range [][2]string{
		{wire.ChangesTopic(secTenant, "s2"), "forbidden s2 changes"},
		{wire.HeadTopic(secTenant), "head"},
		{wire.ChangesTopic(secTenant, "s1"), "marker"},
	} {
		if err := secPublish(hqPub, m[0], []byte(m[1]), false); err != nil {
			t.Fatalf("HQ secPublish to %s: %v", m[0], err)
		}
	}
	got := obs.until(t, "marker")
	sawHead := false
	for _, m := range got {
		p := string(m.Payload())
		sawHead = sawHead || p == "head"
		if strings.HasPrefix(p, "forbidden") {
			t.Errorf("s1 received %q on %s", p, m.Topic())
		}
	}
	if !sawHead {
		t.Errorf("s1 missed the head on %s: got %s", wire.HeadTopic(secTenant), secDescribe(got))
	}
}

// aclWrongStoreID: a gateway with s1's certificate configured as store s2
// does what the uplink does: a Last Will and retained state on s2's state
// topic, then a batch on s2's uplink. Mosquitto accepts the connection and
// acknowledges every secPublish, so the uplink would delete the events from
// its outbox, and drops them all: the events are lost without an error.
// Hence the startup check that store.id equals the certificate's name.
// The embedded broker refuses the connection.
func aclWrongStoreID(t *testing.T, b *secBroker) {
	obs, _ := b.observe(t, "hq-1", "hq-observer-2", secHQReadAll...)
	state := []byte(`{"online":false,"backlog":0,"seq":0,"downlink":0,"at":"0001-01-01T00:00:00Z"}`)
	c, err := secConnect(b.url, b.pki.ClientTLS(t, "s1"), "redcarpet-acme-s2", "", "", nil,
		&secWill{wire.StateTopic(secTenant, "s2"), state})
	if b.strict {
		if err == nil {
			c.Disconnect(0)
			t.Fatal("the embedded broker accepted a Last Will on another store's state topic")
		}
		t.Logf("refused: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("secConnect: %v", err)
	}
	defer c.Disconnect(0)
	ces, err := wire.Encode(secTenant, "s2", []edge.Event{{ID: "ep-1", Kind: edge.KindFootfall, Source: "engine",
		Time: time.Now(), Footfall: &edge.Footfall{Door: "main", In: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	batch, _ := wire.MarshalBatch(ces)
	for _, m := range []struct {
		topic    string
		payload  []byte
		retained bool
	}{
		{wire.StateTopic(secTenant, "s2"), state, true},
		{wire.UplinkTopic(secTenant, "s2", edge.KindFootfall), batch, false},
	} {
		if err := secPublish(c, m.topic, m.payload, m.retained); err != nil {
			t.Fatalf("secPublish %s: %v (Mosquitto was expected to acknowledge)", m.topic, err)
		}
	}
	if err := secPublish(c, secPrefix+"s1/req/changes", []byte("marker"), false); err != nil {
		t.Fatal(err)
	}
	for _, m := range obs.until(t, "marker") {
		if strings.Contains(m.Topic(), "/s2/") {
			t.Errorf("HQ received %s", m.Topic())
		}
	}
}
