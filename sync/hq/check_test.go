package hq

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

func TestDecode(t *testing.T) {
	ff := hqtest.Batch(t, "acme", "s1", hqtest.Footfall("abcd-1"), hqtest.Footfall("abcd-2"))
	mutate := func(f func(evs []wire.CloudEvent)) []byte {
		evs := encode(t, "acme", "s1", hqtest.Footfall("abcd-1"), hqtest.Footfall("abcd-2"))
		f(evs)
		b, err := wire.MarshalBatch(evs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		tenant  string
		topic   string
		payload []byte
		reason  string // "" means accepted
	}{
		{"ok", "+", "redcarpet/v1/acme/s1/up/footfall", ff, ""},
		{"ok tenant", "acme", "redcarpet/v1/acme/s1/up/footfall", ff, ""},
		{"other tenant", "globex", "redcarpet/v1/acme/s1/up/footfall", ff, RejectTopic},
		{"not uplink", "+", "redcarpet/v1/acme/s1/state", ff, RejectTopic},
		{"bad store id", "+", "redcarpet/v1/acme/S 1/up/footfall", ff, RejectTopic},
		{"garbage", "+", "redcarpet/v1/acme/s1/up/footfall", []byte("garbage"), RejectPayload},
		{"object", "+", "redcarpet/v1/acme/s1/up/footfall", []byte(`{"id":"x"}`), RejectPayload},
		{"empty batch", "+", "redcarpet/v1/acme/s1/up/footfall", []byte(`[]`), RejectPayload},
		{"missing id", "+", "redcarpet/v1/acme/s1/up/footfall", mutate(func(e []wire.CloudEvent) { e[1].ID = "" }), RejectPayload},
		{"topic of another store", "+", "redcarpet/v1/acme/s2/up/footfall", ff, RejectSource},
		{"source of another store", "+", "redcarpet/v1/acme/s1/up/footfall",
			mutate(func(e []wire.CloudEvent) { e[1].Source = wire.Source("acme", "s2") }), RejectSource},
		{"kind not the topic's", "+", "redcarpet/v1/acme/s1/up/recognition", ff, RejectKind},
		{"raw device kind", "+", "redcarpet/v1/acme/s1/up/footfall",
			mutate(func(e []wire.CloudEvent) { e[0].Type = wire.Type(edge.KindCardRead) }), RejectKind},
		{"malformed kind", "+", "redcarpet/v1/acme/s1/up/footfall",
			mutate(func(e []wire.CloudEvent) { e[0].Type = wire.TypePrefix + "../x.v1" }), RejectKind},
		{"unknown kind kept", "+", "redcarpet/v1/acme/s1/up/footfall",
			mutate(func(e []wire.CloudEvent) { e[0].Type = wire.Type("loyalty.points_earned") }), ""},
		{"long id", "+", "redcarpet/v1/acme/s1/up/footfall",
			mutate(func(e []wire.CloudEvent) { e[0].ID = strings.Repeat("1", MaxIDBytes+1) }), RejectID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant, store, evs, err := decode(tc.tenant, tc.topic, tc.payload)
			if got := rejectReason(err); got != tc.reason {
				t.Fatalf("decode reason %q (%v), want %q", got, err, tc.reason)
			}
			if tc.reason == "" && (tenant != "acme" || store != "s1" || len(evs) != 2) {
				t.Errorf("decode = %s/%s %d events", tenant, store, len(evs))
			}
			if err != nil && strings.Contains(err.Error(), "m-1") {
				t.Errorf("error carries payload content: %v", err)
			}
		})
	}
}

// FuzzDecodeBatch feeds decode, the checks Ingest applies to every topic and
// payload from the broker, arbitrary input: it must never panic, and what
// it accepts must be safe to hand to a Sink.
func FuzzDecodeBatch(f *testing.F) {
	f.Add("redcarpet/v1/acme/s1/up/footfall", hqtest.Batch(f, "acme", "s1", hqtest.Footfall("abcd-1"), hqtest.Footfall("abcd-2")))
	f.Add("redcarpet/v1/acme/s1/up/recognition", hqtest.Batch(f, "acme", "s1", hqtest.Recognition("abcd-3")))
	f.Add("redcarpet/v1/acme/s2/up/footfall", hqtest.Batch(f, "acme", "s1", hqtest.Footfall("abcd-1")))
	f.Add("redcarpet/v1/acme/s1/up/footfall", []byte(`[{"specversion":"1.0","id":"a-1","source":"/redcarpet/v1/acme/s1","type":"com.redcarpet.x.v1","data":{}}]`))
	f.Add("redcarpet/v1//s1/up/x", []byte(`[]`))
	f.Add("redcarpet/v1/acme/s1/up/footfall", []byte(`[null]`))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		tenant, store, evs, err := decode("+", topic, payload)
		if err != nil {
			if rejectReason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if !validID(tenant) || !validID(store) || len(evs) == 0 {
			t.Fatalf("accepted %q/%q with %d events", tenant, store, len(evs))
		}
		for i := range evs {
			e := &evs[i]
			k := kindOf(e)
			if e.Source != wire.Source(tenant, store) || e.ID == "" || len(e.ID) > MaxIDBytes || !KindName(string(k)) || k.Local() {
				t.Fatalf("accepted event %+v", e)
			}
			if !json.Valid(e.Data) {
				t.Fatalf("accepted invalid data %q", e.Data)
			}
		}
	})
}

func TestKindName(t *testing.T) {
	for _, k := range []edge.Kind{edge.KindRecognition, edge.KindOfferShown, edge.KindFootfall, edge.KindDeviceStatus, edge.KindCardRead} {
		if !KindName(string(k)) {
			t.Errorf("KindName(%q) = false", k)
		}
	}
	for _, s := range []string{"", ".x", "A", "a/b", "a b", strings.Repeat("a", 65)} {
		if KindName(s) {
			t.Errorf("KindName(%q) = true", s)
		}
	}
}
