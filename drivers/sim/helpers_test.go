package sim

import (
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the tests use Europe/Paris wherever they run

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// demoDevices mirrors the devices of configs/demo.toml, plus a device the
// simulation must ignore.
func demoDevices() []configs.Device {
	return []configs.Device{
		{Name: "entrance-reader", Kind: "sim_rfid", Zone: "entrance"},
		{Name: "fresh-reader", Kind: "sim_rfid", Zone: "fresh"},
		{Name: "bakery-reader", Kind: "sim_rfid", Zone: "bakery"},
		{Name: "wine-reader", Kind: "sim_rfid", Zone: "wine"},
		{Name: "lane-1-scanner", Kind: "sim_scanner", Lane: "1"},
		{Name: "lane-2-scanner", Kind: "sim_scanner", Lane: "2"},
		{Name: "lane-3-scanner", Kind: "sim_scanner", Lane: "3"},
		{Name: "lane-2-reader", Kind: "sim_rfid", Lane: "2"},
		{Name: "main-door-counter", Kind: "sim_door", Door: "main"},
		{Name: "car-park-counter", Kind: "sim_door", Door: "car-park"},
		{Name: "real-reader", Kind: "rdm6300", Zone: "fresh", Port: "/dev/ttyUSB0"},
	}
}

// demoHours are the demo store's hours: 08:30 to 20:30 Monday to Saturday,
// 09:00 to 13:00 on Sunday.
func demoHours(t *testing.T) configs.Store {
	t.Helper()
	cfg, err := configs.Parse("hours.toml", []byte(`
[store]
tenant = "demo"
id = "store-001"
timezone = "Europe/Paris"
[[store.hours]]
days = "mon-sat"
open = "08:30"
close = "20:30"
[[store.hours]]
days = "sun"
open = "09:00"
close = "13:00"
[data]
dir = "x"
[http]
listen = "127.0.0.1:8080"
[hq]
broker = "tcp://127.0.0.1:1883"
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Store
}

// friday is a trading day of the demo store (Friday 13 June 2025).
func friday(t *testing.T) (open, close time.Time) {
	t.Helper()
	st := demoHours(t)
	open, close, ok := st.OpeningOn(time.Date(2025, 6, 13, 12, 0, 0, 0, st.Location()))
	if !ok {
		t.Fatal("demo store closed on a Friday")
	}
	return open, close
}

// demoOpts simulates the demo store's Friday with 500 members.
func demoOpts(t *testing.T, seed uint64) Opts {
	t.Helper()
	st := demoHours(t)
	open, _ := friday(t)
	o := DefaultOpts
	o.Seed = seed
	o.Start = open
	o.Location = st.Location()
	o.Hours = st.OpeningOn
	o.Devices = demoDevices()
	o.Members = Members(500, seed, open)
	return o
}

// drain returns every event of a finite plan.
func drain(t *testing.T, p *Plan) []edge.Event {
	t.Helper()
	var evs []edge.Event
	for {
		ev, ok := p.Next()
		if !ok {
			return evs
		}
		evs = append(evs, ev)
		if len(evs) > 1_000_000 {
			t.Fatal("plan does not end")
		}
	}
}

func mustPlan(t *testing.T, o Opts) *Plan {
	t.Helper()
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withDoorReaders adds a reader at each door of devices: the staff door is
// the first.
func withDoorReaders(devices []configs.Device) []configs.Device {
	out := slices.Clone(devices)
	for _, d := range devices {
		if d.Kind == "sim_door" {
			out = append(out, configs.Device{Name: d.Door + "-door-reader", Kind: "sim_rfid", Door: d.Door})
		}
	}
	return out
}
