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
	topics := map[string]edge.Kind{}
	for _, k := range []edge.Kind{edge.KindRecognition, edge.KindOfferShown, edge.KindFootfall, edge.KindDeviceStatus,
		edge.KindErased, edge.KindRedeemed, edge.KindBasket, edge.KindPlayed, edge.KindTraffic, edge.KindTrafficDay,
		edge.KindVisit, edge.KindWithheld} {
		if got, ok := wire.KindOf(wire.Type(k)); !ok || got != k || k.Topic() == "" {
			t.Errorf("kind %s: type %s round-trips to %s %v, topic %q", k, wire.Type(k), got, ok, k.Topic())
		}
		if other, dup := topics[k.Topic()]; dup {
			t.Errorf("kinds %s and %s share topic %q", other, k, k.Topic())
		}
		topics[k.Topic()] = k
	}
	for k, want := range map[edge.Kind]string{edge.KindTraffic: "traffic", edge.KindTrafficDay: "day",
		edge.KindVisit: "visit", edge.KindWithheld: "holdout"} {
		if got := wire.UplinkTopic("acme", "s1", k); got != "redcarpet/v1/acme/s1/up/"+want {
			t.Errorf("UplinkTopic(%s) = %q", k, got)
		}
	}
}

// TestEncodeRetailKinds: each retail kind's data is its own payload, as
// edge marshals it (money as exact decimals).
func TestEncodeRetailKinds(t *testing.T) {
	reset := 2
	evs := []edge.Event{
		{ID: "e-1", Kind: edge.KindTraffic, Source: "engine", Time: t0, Traffic: &edge.Traffic{Day: "2026-11-20",
			Visitors: 7, Reset: &reset, Spend: 1005, Currency: "EUR"}},
		{ID: "e-2", Kind: edge.KindTrafficDay, Source: "engine", Time: t0, Day: &edge.TrafficDay{Day: "2026-11-20",
			Visitors: 70, Spend: 100000, Doors: []edge.DoorDay{{Door: "main", In: 71, StaffIn: 1}}}},
		{ID: "e-3", Kind: edge.KindVisit, Source: "engine", Time: t0, Visit: &edge.Visit{MemberID: "m-1", DwellS: 600,
			Spend: 4350, Ended: "door"}},
		{ID: "e-4", Kind: edge.KindWithheld, Source: "engine", Time: t0, Withheld: &edge.Exposure{OfferID: "o-1",
			MemberID: "m-2", Channel: edge.ChannelSignage, DiscountPct: 15, Cell: "store/light"}},
	}
	ces, err := wire.Encode("acme", "s1", evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`"visitors":7,`, `"reset":2`, `"spend":10.05,`} {
		if !strings.Contains(string(ces[0].Data), want) {
			t.Errorf("traffic data %s lacks %s (%d)", ces[0].Data, want, i)
		}
	}
	checks := []struct {
		i    int
		typ  string
		want []string
	}{
		{1, "com.redcarpet.traffic.day.v1", []string{`"day":"2026-11-20"`, `"spend":1000.00,`, `"doors":[{"door":"main","in":71,"out":0,"staff_in":1,"staff_out":0}]`}},
		{2, "com.redcarpet.visit.closed.v1", []string{`"member_id":"m-1"`, `"spend":43.50,`, `"ended":"door"`}},
		{3, "com.redcarpet.offer.withheld.v1", []string{`"member_id":"m-2"`, `"discount_pct":15`, `"cell":"store/light"`}},
	}
	for _, c := range checks {
		if ces[c.i].Type != c.typ {
			t.Errorf("event %d: type %s, want %s", c.i, ces[c.i].Type, c.typ)
		}
		for _, w := range c.want {
			if !strings.Contains(string(ces[c.i].Data), w) {
				t.Errorf("event %d: data %s lacks %s", c.i, ces[c.i].Data, w)
			}
		}
	}
	// A withheld offer carried in the exposure field is the wrong payload.
	bad := edge.Event{ID: "e-5", Kind: edge.KindWithheld, Source: "engine", Time: t0, Exposure: evs[3].Withheld}
	if _, err := wire.Encode("acme", "s1", []edge.Event{bad}); err == nil {
		t.Error("offer.withheld with an exposure payload encoded")
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
