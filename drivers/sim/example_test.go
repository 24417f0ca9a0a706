package sim_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// The demo wiring: members and offers for the store, and a simulation whose
// clock the engine uses.
func ExampleNew() {
	cfg, err := configs.Demo()
	if err != nil {
		log.Fatal(err)
	}
	loc := cfg.Store.Location()

	o := sim.DefaultOpts
	o.Seed = 1
	o.Location = loc
	o.Hours = cfg.Store.OpeningOn
	o.Devices = cfg.Devices
	// Fix the start (today's opening) first: members' purchase histories end
	// there, and offers are valid around it.
	o.Start = sim.Opening(time.Now(), loc, cfg.Store.OpeningOn)
	members := sim.Members(500, o.Seed, o.Start) // import into the member store
	offers := sim.Offers(o.Start, loc)           // push to the offer store
	o.Members = members                          // the shoppers' cards and barcodes
	s, err := sim.New(o)
	if err != nil {
		log.Fatal(err)
	}
	// The engine's clock is s.Clock().Now: events, counting intervals and
	// offer validity all follow simulated time.
	fmt.Println(len(members), "members,", len(offers), "offers; it is", s.Clock().Now().Format(time.DateTime))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inbox := edge.NewInbox(0)
	events := make(chan edge.Event, 64)
	go func() { _ = inbox.Forward(ctx, events) }()
	go func() { _ = s.Run(ctx, events) }() // returns nil when ctx ends
}

// A plan yields the events of a simulated day without waiting.
func ExampleNewPlan() {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		log.Fatal(err)
	}
	open := time.Date(2025, 6, 13, 8, 30, 0, 0, loc)
	o := sim.DefaultOpts
	o.Seed = 1
	o.Start = open
	o.Days = 1
	o.Location = loc
	o.Hours = func(t time.Time) (time.Time, time.Time, bool) {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 8, 30, 0, 0, loc), time.Date(y, m, d, 20, 30, 0, 0, loc), true
	}
	o.Devices = []configs.Device{
		{Name: "main-door-counter", Kind: "sim_door", Door: "main"},
		{Name: "entrance-reader", Kind: "sim_rfid", Zone: "entrance"},
		{Name: "bakery-reader", Kind: "sim_rfid", Zone: "bakery"},
		{Name: "lane-1-scanner", Kind: "sim_scanner", Lane: "1"},
		{Name: "lane-2-scanner", Kind: "sim_scanner", Lane: "2"},
		{Name: "lane-3-scanner", Kind: "sim_scanner", Lane: "3"},
	}
	o.Members = sim.Members(200, o.Seed, open)
	p, err := sim.NewPlan(o)
	if err != nil {
		log.Fatal(err)
	}
	for range 6 {
		ev, _ := p.Next()
		fmt.Println(ev.Time.Format("15:04:05"), ev.Kind, ev.Source)
	}
	for {
		if _, ok := p.Next(); !ok {
			break
		}
	}
	st := p.Stats()
	fmt.Printf("%d shoppers, %d members, %d bought (%d anonymously), %d units, %s\n",
		st.Shoppers, st.Members, st.Buyers, st.Anonymous, st.Units, st.Spend)
	// Output:
	// 08:30:51 door.crossing main-door-counter
	// 08:33:24 door.crossing main-door-counter
	// 08:35:21 door.crossing main-door-counter
	// 08:35:53 door.crossing main-door-counter
	// 08:36:19 door.crossing main-door-counter
	// 08:36:48 door.crossing main-door-counter
	// 1811 shoppers, 657 members, 1118 bought (724 anonymously), 10247 units, 37737.23
}

func ExampleMembers() {
	now := time.Date(2025, 6, 13, 8, 30, 0, 0, time.UTC)
	for _, rec := range sim.Members(3, 1, now) {
		m := rec.Member
		fmt.Println(m.ID, m.FirstName, m.Tier, m.Segment, m.Stage, len(rec.Cards[0]), rec.Loyalty, rec.List)
	}
	// Output:
	// M0000001 Ethan silver national-brand-loyal-light active 7 0419586146031 0492545060340
	// M0000002 Pierre silver national-brand-loyal-light active 7 0410436223438 0499973821659
	// M0000003 Sacha silver store-brand-loyal-heavy active 7 0417971483617 0495536691813
}
