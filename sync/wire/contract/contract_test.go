package contract_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
	"github.com/redcarpet-retail/redcarpet/sync/wire/contract"
)

const tenant, store = "acme", "lyon-1"

var (
	loadOnce sync.Once
	loaded   *contract.Contract
	loadErr  error
)

// load reads the repository's contract once per test binary.
func load(t *testing.T) *contract.Contract {
	t.Helper()
	loadOnce.Do(func() {
		loaded, loadErr = contract.Load(filepath.Join("..", "..", "..", "deploy", "asyncapi.yaml"))
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

// events returns one event of every kind the uplink sends, with every
// optional field set (full) or none (minimal).
func events(full bool) []edge.Event {
	rec := &edge.Recognition{MemberID: "m-1", Via: edge.ViaCard}
	dev := &edge.DeviceStatus{Device: "door-1", Kind: "door", State: edge.DeviceDown}
	red := &edge.Redemption{OfferID: "o-1", MemberID: "m-1", Lane: "2", BasketID: "b-1", Discount: 0}
	bsk := &edge.BasketClosed{BasketID: "b-1", Lane: "2", Currency: "EUR"}
	exp := &edge.Exposure{OfferID: "o-1", MemberID: "m-1", Channel: edge.ChannelCheckout, Screen: "lane-2", Rank: 2}
	held := &edge.Exposure{OfferID: "o-1", MemberID: "m-2", Channel: edge.ChannelSignage, Screen: "fresh", Rank: 1}
	ff := &edge.Footfall{Door: "main", Start: t0.Add(-15 * time.Minute), End: t0, In: 12, Out: 9, Occupancy: 31}
	day := t0.Format("2006-01-02")
	traffic := &edge.Traffic{Start: t0.Add(-15 * time.Minute), End: t0, Day: day, In: 12, Out: 9, Visitors: 12,
		Occupancy: 31, Peak: 33, Currency: "EUR"}
	tday := &edge.TrafficDay{Day: day, Start: t0.Add(-10 * time.Hour), End: t0.Add(14 * time.Hour), Currency: "EUR"}
	visit := &edge.Visit{MemberID: "m-1", Start: t0.Add(-20 * time.Minute), End: t0, DwellS: 1200, Ended: "gap"}
	if full {
		exp.DiscountPct, exp.Cell = 30, "switcher/heavy"
		held.DiscountPct, held.Cell = 20, "national/light"
		ff.StaffIn, ff.StaffOut = 2, 1
		reset := 4
		traffic = &edge.Traffic{Start: t0.Add(-15 * time.Minute), End: t0, Day: day, In: 12, Out: 9, StaffIn: 2,
			StaffOut: 1, Visitors: 10, Occupancy: 31, Peak: 33, Clamped: 1, Reset: &reset, MemberVisits: 3, Baskets: 6,
			MemberBaskets: 2, Spend: 12345, MemberSpend: 4599, Currency: "EUR", OffersShown: 5, OffersRedeemed: 1,
			OffersWithheld: 1}
		tday = &edge.TrafficDay{Day: day, Start: t0.Add(-10 * time.Hour), End: t0.Add(14 * time.Hour), In: 420, Out: 419,
			StaffIn: 20, StaffOut: 19, Visitors: 400, Peak: 61, PeakAt: t0.Add(2 * time.Hour), Mismatch: 1, Clamped: 2,
			DwellS: 1260, Members: 80, MemberVisits: 95, MemberDwellS: 1500, Baskets: 170, MemberBaskets: 60,
			Spend: 512345, MemberSpend: 200000, Currency: "EUR", OffersShown: 120, OffersRedeemed: 17, OffersWithheld: 14,
			Doors: []edge.DoorDay{{Door: "main", In: 400, Out: 399, StaffIn: 20, StaffOut: 19}, {Door: "side", In: 20, Out: 20}},
			Zones: []edge.ZoneDwell{{Zone: "fresh", Visits: 70, DwellS: 240}}}
		visit = &edge.Visit{MemberID: "m-1", Start: t0.Add(-20 * time.Minute), End: t0, DwellS: 1200, EntryDoor: "main",
			ExitDoor: "main", Zones: []edge.ZoneVisit{{Zone: "fresh", First: t0.Add(-15 * time.Minute), Last: t0.Add(-10 * time.Minute), DwellS: 420}},
			Lanes: []string{"lane-2"}, Baskets: 1, Spend: 4350, Ended: "door"}
		red.Discount, red.Auto = 249, true
		bsk = &edge.BasketClosed{BasketID: "b-1", Lane: "2", MemberID: "m-1", Items: 7, Subtotal: 4599, Discount: 249,
			Total: 4350, Currency: "EUR", Categories: []string{"coffee", "dairy"}}
		rec = &edge.Recognition{MemberID: "m-1", Via: edge.ViaTyped, Zone: "fresh", Lane: "lane-2", Door: "main", NewVisit: true}
		dev.Detail = "no frames for 30s"
	}
	return []edge.Event{
		{ID: "ep-1", Kind: edge.KindRecognition, Source: "reader-1", Time: t0, Recognition: rec},
		{ID: "ep-2", Kind: edge.KindOfferShown, Source: "engine", Time: t0, Exposure: exp},
		{ID: "ep-3", Kind: edge.KindFootfall, Source: "engine", Time: t0, Footfall: ff},
		{ID: "ep-4", Kind: edge.KindDeviceStatus, Source: "door-1", Time: t0, Device: dev},
		{ID: "ep-5", Kind: edge.KindErased, Source: "engine", Time: t0,
			Erased: &edge.Erased{MemberID: "m-9", RequestID: "er-1", Events: 3}},
		{ID: "ep-7", Kind: edge.KindRedeemed, Source: "pos", Time: t0, Redemption: red},
		{ID: "ep-8", Kind: edge.KindBasket, Source: "pos", Time: t0, Basket: bsk},
		{ID: "ep-9", Kind: edge.KindPlayed, Source: "signage/fresh", Time: t0,
			Played: &edge.Played{OfferID: "o-1", Zone: "fresh", Screen: "scr-0a1b", Started: t0, DurationMS: 10000}},
		{ID: "ep-10", Kind: edge.KindTraffic, Source: "engine", Time: t0, Traffic: traffic},
		{ID: "ep-11", Kind: edge.KindTrafficDay, Source: "engine", Time: tday.End, Day: tday},
		{ID: "ep-12", Kind: edge.KindVisit, Source: "engine", Time: t0, Visit: visit},
		{ID: "ep-13", Kind: edge.KindWithheld, Source: "engine", Time: t0, Withheld: held},
	}
}

// batch encodes events as the uplink does.
func batch(t *testing.T, evs ...edge.Event) []byte {
	t.Helper()
	ces, err := wire.Encode(tenant, store, evs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.MarshalBatch(ces)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func member(full bool) wire.MemberChange {
	if !full {
		return wire.MemberChange{Member: edge.Member{ID: "m-1"}}
	}
	return wire.MemberChange{
		Member: edge.Member{ID: "m-1", FirstName: "Ada", Tier: "gold", Segment: "families", Stage: edge.StageLapsing,
			GreetByName: true, Affinity: map[string]float64{"coffee": 0.4, "bakery": 0.1},
			Cycles:   map[string]edge.Cycle{"coffee": {MeanDays: 6.5, Last: t0.Add(-72 * time.Hour), Count: 14}},
			Redeemed: map[string]int{"o-1": 2},
			Matrix:   map[string]edge.Cell{"coffee": {Loyalty: edge.LoyalSwitcher, Usage: edge.UsageHeavy}}},
		Cards: []string{"04a1b2c3d4e5f6"}, Loyalty: "2900000000017", List: "2910000000014",
	}
}

func offer(full bool) *edge.Offer {
	o := &edge.Offer{ID: "o-1", Title: "Coffee -20%", Channels: []edge.Channel{edge.ChannelSignage},
		ValidFrom: t0, ValidTo: t0.Add(7 * 24 * time.Hour), DiscountPct: 20}
	if full {
		o.Body = "Any bag of beans"
		o.Channels = append(o.Channels, edge.ChannelCheckout)
		o.Segments, o.Stages, o.Categories = []string{"families"}, []edge.Stage{edge.StageActive, edge.StageLapsing}, []string{"coffee"}
		o.CapPerMember = 1
		o.Depth, o.HoldoutPct = map[string]float64{"switcher/heavy": 30, "national/light": 10}, 10
	}
	return o
}

func memberChange(full bool) *wire.MemberChange { m := member(full); return &m }

// valid lists payloads produced by the real types, on their topics.
func valid(t *testing.T) map[string]struct {
	topic   string
	payload []byte
} {
	type tp = struct {
		topic   string
		payload []byte
	}
	out := map[string]tp{}
	for _, full := range []bool{false, true} {
		suffix := map[bool]string{false: " minimal", true: " full"}[full]
		evs := events(full)
		for _, e := range evs {
			out[string(e.Kind)+suffix] = tp{wire.UplinkTopic(tenant, store, e.Kind), batch(t, e)}
		}
		out["state online"+suffix] = tp{wire.StateTopic(tenant, store), mustJSON(t, wire.State{Online: true, Version: "1.4.0",
			Backlog: 17, Epoch: "9f3c", Seq: 4711, Downlink: 42, At: t0})}
		out["change page"+suffix] = tp{wire.ChangesTopic(tenant, store), mustJSON(t, wire.ChangePage{RequestID: "r-1", Head: 9, Changes: []wire.Change{
			{Version: 5, Kind: wire.ChangeMemberUpsert, Member: memberChange(full)},
			{Version: 6, Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: "m-2", RequestID: "er-2"}},
			{Version: 7, Kind: wire.ChangeOfferUpsert, Offer: offer(full)},
			{Version: 8, Kind: wire.ChangeOfferDelete, OfferID: "o-0"},
		}})}
	}
	// Several events of one kind in one batch.
	ff := events(true)[2]
	ff2 := ff
	ff2.ID = "ep-6"
	out["footfall batch of two"] = tp{wire.UplinkTopic(tenant, store, edge.KindFootfall), batch(t, ff, ff2)}
	// The Last Will: offline, no time.
	out["state will"] = tp{wire.StateTopic(tenant, store), mustJSON(t, wire.State{Online: false, Version: "1.4.0", Epoch: "9f3c"})}
	out["head"] = tp{wire.HeadTopic(tenant), mustJSON(t, wire.Head{Version: 9, Oldest: 3, At: t0})}
	out["head empty log"] = tp{wire.HeadTopic(tenant), mustJSON(t, wire.Head{})}
	out["change request"] = tp{wire.RequestTopic(tenant, store), mustJSON(t, wire.ChangeRequest{RequestID: "r-1", Since: 4})}
	out["change request snapshot"] = tp{wire.RequestTopic(tenant, store), mustJSON(t, wire.ChangeRequest{
		RequestID: "r-2", Since: 0, SnapshotID: "snap-1", Snapshot: "m/m-1", Max: 100})}
	out["change page empty"] = tp{wire.ChangesTopic(tenant, store), mustJSON(t, wire.ChangePage{RequestID: "r-1", Head: 9})}
	out["change page snapshot"] = tp{wire.ChangesTopic(tenant, store), mustJSON(t, wire.ChangePage{RequestID: "r-2", Head: 9,
		Snapshot: &wire.SnapshotPage{ID: "snap-1", Version: 9, Next: ""},
		Changes: []wire.Change{{Kind: wire.ChangeMemberUpsert, Member: memberChange(false)},
			{Kind: wire.ChangeOfferUpsert, Offer: offer(false)}}})}
	out["change page snapshot nil channels"] = tp{wire.ChangesTopic(tenant, store), mustJSON(t, wire.ChangePage{RequestID: "r-3", Head: 9,
		Changes: []wire.Change{{Version: 9, Kind: wire.ChangeOfferUpsert, Offer: &edge.Offer{ID: "o-2", Title: "x"}}}})}
	out["resend"] = tp{wire.ResendTopic(tenant, store), mustJSON(t, wire.ResendRequest{RequestID: "rs-1", Epoch: "9f3c",
		Ranges: []wire.SeqRange{{From: 4700, To: 4702}, {From: 4710, To: 4710}}})}
	return out
}

func TestRealPayloadsValidate(t *testing.T) {
	c := load(t)
	for name, v := range valid(t) {
		if err := c.Validate(v.topic, v.payload); err != nil {
			t.Errorf("%s: %v\npayload: %s", name, err, v.payload)
		}
	}
}

// TestEveryWireTopicHasAChannel ties the contract to package wire and
// package edge: every topic the code builds has a channel, and every
// channel is a topic the code builds.
func TestEveryWireTopicHasAChannel(t *testing.T) {
	c := load(t)
	topics := map[string]string{
		wire.StateTopic(tenant, store):   "state",
		wire.HeadTopic(tenant):           "head",
		wire.ChangesTopic(tenant, store): "changes",
		wire.RequestTopic(tenant, store): "changeRequests",
		wire.ResendTopic(tenant, store):  "resend",
	}
	for _, k := range []edge.Kind{edge.KindRecognition, edge.KindOfferShown, edge.KindFootfall, edge.KindDeviceStatus, edge.KindErased,
		edge.KindRedeemed, edge.KindBasket, edge.KindPlayed, edge.KindTraffic, edge.KindTrafficDay, edge.KindVisit, edge.KindWithheld} {
		topics[wire.UplinkTopic(tenant, store, k)] = "uplink"
	}
	seen := map[string]bool{}
	for topic, want := range topics {
		name, params, ok := c.Match(topic)
		if !ok || name != want {
			t.Errorf("Match(%q) = %q %v, want channel %s", topic, name, ok, want)
			continue
		}
		if params["tenant"] != tenant || (name != "head" && params["store"] != store) {
			t.Errorf("Match(%q) parameters %v", topic, params)
		}
		seen[name] = true
	}
	for name, addr := range c.Channels() {
		if !seen[name] {
			t.Errorf("channel %s (%s) is not a topic of package wire", name, addr)
		}
	}
	// The subscription filters HQ and stores use are instances of channels.
	for _, f := range []string{wire.UplinkFilter(tenant), wire.RequestFilter(tenant)} {
		topic := strings.Replace(f, "+", "s9", 1) // the store level
		topic = strings.ReplaceAll(topic, "+", edge.KindFootfall.Topic())
		if _, _, ok := c.Match(topic); !ok {
			t.Errorf("filter %s: %s matches no channel", f, topic)
		}
	}
}

// mutate decodes payload, applies f, and encodes it again.
func mutate(t *testing.T, payload []byte, f func(v any)) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatal(err)
	}
	f(v)
	return mustJSON(t, v)
}

// at walks a decoded JSON value along a path of object keys and array
// indexes.
func at(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

func rename(m map[string]any, from, to string) {
	m[to] = m[from]
	delete(m, from)
}

func TestMutatedPayloadsFail(t *testing.T) {
	c := load(t)
	v := valid(t)
	get := func(name string) (string, []byte) {
		p, ok := v[name]
		if !ok {
			t.Fatalf("no valid payload %q", name)
		}
		return p.topic, p.payload
	}
	cases := []struct {
		name, base string
		f          func(v any)
	}{
		{"renamed event attribute", "footfall.interval full", func(v any) { rename(at(v, 0), "specversion", "spec_version") }},
		{"renamed data field", "footfall.interval full", func(v any) { rename(at(v, 0, "data"), "door", "doorway") }},
		{"missing data field", "member.recognised minimal", func(v any) { delete(at(v, 0, "data"), "member_id") }},
		{"missing event id", "offer.shown full", func(v any) { delete(at(v, 0), "id") }},
		{"missing event data", "device.status full", func(v any) { delete(at(v, 0), "data") }},
		{"wrong type in data", "footfall.interval full", func(v any) { at(v, 0, "data")["in"] = "12" }},
		{"negative count", "member.erased full", func(v any) { at(v, 0, "data")["events_removed"] = -1 }},
		{"bad enum in data", "device.status full", func(v any) { at(v, 0, "data")["state"] = "on-fire" }},
		{"bad time", "footfall.interval full", func(v any) { at(v, 0)["time"] = "yesterday" }},
		{"unknown data field", "offer.shown full", func(v any) { at(v, 0, "data")["uid"] = "04a1b2c3" }},
		{"unknown event attribute", "offer.shown full", func(v any) { at(v, 0)["partitionkey"] = "x" }},
		{"second event renamed", "footfall batch of two", func(v any) { rename(at(v, 1, "data"), "occupancy", "occ") }},
		{"wrong event type for topic", "footfall.interval full", func(v any) {
			at(v, 0)["type"] = wire.Type(edge.KindRecognition)
		}},
		{"renamed state field", "state online full", func(v any) { rename(at(v), "backlog", "queue") }},
		{"missing state time", "state will", func(v any) { delete(at(v), "at") }},
		{"wrong state type", "state online full", func(v any) { at(v)["online"] = "yes" }},
		{"renamed head field", "head", func(v any) { rename(at(v), "oldest", "first") }},
		{"negative head", "head", func(v any) { at(v)["version"] = -1 }},
		{"renamed request field", "change request", func(v any) { rename(at(v), "since", "after") }},
		{"missing request id", "change request", func(v any) { delete(at(v), "request_id") }},
		{"renamed page field", "change page full", func(v any) { rename(at(v), "changes", "items") }},
		{"renamed change field", "change page full", func(v any) { rename(at(v, "changes", 3), "offer_id", "offerId") }},
		{"member upsert without member", "change page full", func(v any) { delete(at(v, "changes", 0), "member") }},
		{"two payloads in a change", "change page full", func(v any) { at(v, "changes", 1)["offer_id"] = "o-1" }},
		{"unknown change kind", "change page full", func(v any) { at(v, "changes", 3)["kind"] = "offer.expire" }},
		{"renamed member field", "change page full", func(v any) { rename(at(v, "changes", 0, "member", "member"), "greet_by_name", "greet") }},
		{"bad card hex", "change page full", func(v any) { at(v, "changes", 0, "member")["cards"] = []any{"zz"} }},
		{"renamed offer field", "change page full", func(v any) { rename(at(v, "changes", 2, "offer"), "valid_to", "valid_until") }},
		{"discount over 100", "change page full", func(v any) { at(v, "changes", 2, "offer")["discount_pct"] = 120 }},
		{"renamed snapshot field", "change page snapshot", func(v any) { rename(at(v, "snapshot"), "next", "cursor") }},
		{"renamed traffic field", "traffic.interval full", func(v any) { rename(at(v, 0, "data"), "visitors", "visits") }},
		{"traffic day not a date", "traffic.interval minimal", func(v any) { at(v, 0, "data")["day"] = "today" }},
		{"negative visitors", "traffic.day full", func(v any) { at(v, 0, "data")["visitors"] = -1 }},
		{"renamed door field", "traffic.day full", func(v any) { rename(at(v, 0, "data", "doors", 0), "staff_in", "staff") }},
		{"day without zones", "traffic.day minimal", func(v any) { delete(at(v, 0, "data"), "zones") }},
		{"bad currency", "traffic.day full", func(v any) { at(v, 0, "data")["currency"] = "euro" }},
		{"visit ended badly", "visit.closed full", func(v any) { at(v, 0, "data")["ended"] = "timeout" }},
		{"renamed zone visit field", "visit.closed full", func(v any) { rename(at(v, 0, "data", "zones", 0), "first", "from") }},
		{"withheld without member", "offer.withheld minimal", func(v any) { delete(at(v, 0, "data"), "member_id") }},
		{"bad cell", "offer.shown full", func(v any) { at(v, 0, "data")["cell"] = "heavy" }},
		{"withheld on the exposure type", "offer.withheld full", func(v any) { at(v, 0)["type"] = wire.Type(edge.KindOfferShown) }},
		{"negative staff crossings", "footfall.interval full", func(v any) { at(v, 0, "data")["staff_in"] = -2 }},
		{"holdout over 50", "change page full", func(v any) { at(v, "changes", 2, "offer")["holdout_pct"] = 60 }},
		{"bad depth cell", "change page full", func(v any) { at(v, "changes", 2, "offer", "depth")["heavy"] = 5 }},
		{"bad matrix usage", "change page full", func(v any) {
			at(v, "changes", 0, "member", "member", "matrix", "coffee")["usage"] = "huge"
		}},
	}
	for _, tc := range cases {
		topic, base := get(tc.base)
		bad := mutate(t, base, tc.f)
		err := c.Validate(topic, bad)
		if err == nil {
			t.Errorf("%s: accepted %s", tc.name, bad)
			continue
		}
		t.Logf("%s: %v", tc.name, firstLine(err))
	}
	// Payloads of another channel, and payloads that are not JSON.
	for name, p := range map[string]struct {
		topic   string
		payload []byte
	}{
		"state on the head topic":  {wire.HeadTopic(tenant), v["state online full"].payload},
		"batch on the state topic": {wire.StateTopic(tenant, store), v["footfall.interval full"].payload},
		"empty batch":              {wire.UplinkTopic(tenant, store, edge.KindFootfall), []byte("[]")},
		"single event, no batch":   {wire.UplinkTopic(tenant, store, edge.KindFootfall), []byte(`{"specversion":"1.0"}`)},
		"not JSON":                 {wire.StateTopic(tenant, store), []byte("online")},
		"empty (retained clear)":   {wire.StateTopic(tenant, store), nil},
	} {
		if err := c.Validate(p.topic, p.payload); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUnknownTopicsFail(t *testing.T) {
	c := load(t)
	payload := valid(t)["footfall.interval full"].payload
	for _, topic := range []string{
		"",
		"redcarpet/v1/acme/lyon-1/up/unknown",
		"redcarpet/v1/acme/lyon-1/up/footfall/extra",
		"redcarpet/v1/acme/lyon-1/up",
		"redcarpet/v2/acme/lyon-1/up/footfall",
		"redcarpet/v1/acme/lyon-1/down/offers",
		"redcarpet/v1/acme/lyon-1/req/snapshot",
		"redcarpet/v1/+/lyon-1/up/footfall",
		"redcarpet/v1/acme/#",
		"redcarpet/v1/Acme/lyon-1/up/footfall",
		"redcarpet/v1//lyon-1/up/footfall",
		"retail/lyon-1/events/footfall",
	} {
		err := c.Validate(topic, payload)
		if err == nil || !strings.Contains(err.Error(), "matches no channel") {
			t.Errorf("Validate(%q) = %v, want no channel", topic, err)
		}
	}
}

func TestParseRejectsBrokenDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"not asyncapi 3": "asyncapi: 2.6.0\ninfo: {title: x, version: '1'}\nchannels: {}\n",
		"no channels":    "asyncapi: 3.0.0\ninfo: {title: x, version: '1'}\n",
		"undefined parameter": `asyncapi: 3.0.0
info: {title: x, version: '1'}
channels:
  c:
    address: a/{p}
    messages:
      m: {payload: {type: object}}
`,
		"dangling reference": `asyncapi: 3.0.0
info: {title: x, version: '1'}
channels:
  c:
    address: a/b
    messages:
      m: {$ref: '#/components/messages/nope'}
`,
		"bad schema": `asyncapi: 3.0.0
info: {title: x, version: '1'}
channels:
  c:
    address: a/b
    messages:
      m: {payload: {type: objekt}}
`,
	} {
		if _, err := contract.Parse("mem:"+name, []byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	c, err := contract.Parse("mem:ok", []byte(`asyncapi: 3.0.0
info: {title: x, version: '1.2'}
channels:
  c:
    address: a/{p}
    parameters:
      p: {enum: [x, y]}
    messages:
      m: {payload: {schemaFormat: 'application/schema+json;version=draft-07', schema: {type: integer}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "1.2" || !slices.Equal(keys(c.Channels()), []string{"c"}) {
		t.Errorf("Version %q, channels %v", c.Version, c.Channels())
	}
	if err := c.Validate("a/x", []byte("7")); err != nil {
		t.Error(err)
	}
	if err := c.Validate("a/x", []byte(`"7"`)); err == nil {
		t.Error("string accepted as integer")
	}
	if err := c.Validate("a/z", []byte("7")); err == nil {
		t.Error("parameter outside its enum accepted")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return strings.TrimSpace(s[i:])
	}
	return s
}
