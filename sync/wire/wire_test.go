package wire_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.FixedZone("CET", 3600))

func TestTopics(t *testing.T) {
	topic := wire.UplinkTopic("acme", "s1", edge.KindFootfall)
	if topic != "redcarpet/v1/acme/s1/up/footfall" {
		t.Errorf("UplinkTopic = %q", topic)
	}
	if tn, st, k, ok := wire.ParseUplinkTopic(topic); !ok || tn != "acme" || st != "s1" || k != "footfall" {
		t.Errorf("ParseUplinkTopic(%q) = %q %q %q %v", topic, tn, st, k, ok)
	}
	for _, bad := range []string{"", "redcarpet/v1/acme/s1/state", "redcarpet/v2/acme/s1/up/footfall",
		"redcarpet/v1/acme/s1/up/footfall/x", "redcarpet/v1//s1/up/footfall", "redcarpet/v1/acme/s1/down/offers"} {
		if _, _, _, ok := wire.ParseUplinkTopic(bad); ok {
			t.Errorf("ParseUplinkTopic(%q) accepted", bad)
		}
	}
	if got := wire.UplinkFilter("+"); got != "redcarpet/v1/+/+/up/+" {
		t.Errorf("UplinkFilter = %q", got)
	}
	if got := wire.StateTopic("acme", "s1"); got != "redcarpet/v1/acme/s1/state" {
		t.Errorf("StateTopic = %q", got)
	}
	for _, k := range []edge.Kind{edge.KindRecognition, edge.KindOfferShown, edge.KindFootfall, edge.KindDeviceStatus} {
		if got, ok := wire.KindOf(wire.Type(k)); !ok || got != k || k.Topic() == "" {
			t.Errorf("kind %s: type %s round-trips to %s %v, topic %q", k, wire.Type(k), got, ok, k.Topic())
		}
	}
}

func TestEncodeAndDecode(t *testing.T) {
	evs := []edge.Event{{ID: "e1-1", Kind: edge.KindFootfall, Source: "engine", Time: t0,
		Footfall: &edge.Footfall{Door: "main", Start: t0, End: t0.Add(15 * time.Minute), In: 4, Out: 2, Occupancy: 2}}}
	ces, err := wire.Encode("acme", "s1", evs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.MarshalBatch(ces)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	c := got[0]
	if c.SpecVersion != "1.0" || c.ID != "e1-1" || c.Source != "/redcarpet/v1/acme/s1" ||
		c.Type != "com.redcarpet.footfall.interval.v1" || !c.Time.Equal(t0) || c.DataContentType != "application/json" {
		t.Errorf("envelope %+v", c)
	}
	var ff edge.Footfall
	if err := json.Unmarshal(c.Data, &ff); err != nil || ff.In != 4 || ff.Door != "main" {
		t.Errorf("data %s: %+v %v", c.Data, ff, err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	uid := []byte{0xDE, 0xAD, 0xBE, 0xEF}
	for name, e := range map[string]edge.Event{
		"raw card read": {ID: "e-1", Kind: edge.KindCardRead, Source: "r", Time: t0, Card: &edge.CardRead{UID: uid}},
		"raw scan":      {ID: "e-1", Kind: edge.KindScan, Source: "s", Time: t0, Scan: &edge.Scan{Code: "0400000000017"}},
		"no id":         {Kind: edge.KindFootfall, Source: "engine", Time: t0, Footfall: &edge.Footfall{}},
		"no payload":    {ID: "e-1", Kind: edge.KindFootfall, Source: "engine", Time: t0},
	} {
		if _, err := wire.Encode("acme", "s1", []edge.Event{e}); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	good := `{"specversion":"1.0","id":"e-1","source":"/x","type":"com.redcarpet.footfall.interval.v1","time":"2026-11-20T10:00:00Z","datacontenttype":"application/json","data":{"door":"main"}}`
	for name, payload := range map[string]string{
		"empty":         "",
		"object":        good,
		"not json":      "[{",
		"wrong version": strings.Replace("["+good+"]", `"1.0"`, `"0.3"`, 1),
		"no id":         strings.Replace("["+good+"]", `"id":"e-1",`, "", 1),
		"foreign type":  strings.Replace("["+good+"]", "com.redcarpet.footfall.interval.v1", "org.example.x", 1),
		"null data":     strings.Replace("["+good+"]", `{"door":"main"}`, "null", 1),
	} {
		if _, err := wire.DecodeBatch([]byte(payload)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if evs, err := wire.DecodeBatch([]byte("[" + good + "]")); err != nil || len(evs) != 1 {
		t.Errorf("good batch: %v %v", evs, err)
	}
}

// FuzzDecodeBatch: payloads come from the network; decoding must never
// panic, and whatever it accepts passes Check and re-encodes.
func FuzzDecodeBatch(f *testing.F) {
	ces, _ := wire.Encode("acme", "s1", []edge.Event{{ID: "e-1", Kind: edge.KindDeviceStatus, Source: "d", Time: t0,
		Device: &edge.DeviceStatus{Device: "d", State: edge.DeviceUp}}})
	b, _ := wire.MarshalBatch(ces)
	f.Add(b)
	f.Add([]byte("[]"))
	f.Add([]byte(`[{"specversion":"1.0"}]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		evs, err := wire.DecodeBatch(payload)
		if err != nil {
			return
		}
		for _, e := range evs {
			if err := e.Check(); err != nil {
				t.Fatalf("accepted an event that fails Check: %v", err)
			}
		}
		if _, err := wire.MarshalBatch(evs); err != nil {
			t.Fatalf("accepted batch does not re-encode: %v", err)
		}
	})
}
