package beams_test

import (
	"context"
	"log"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/door/beams"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// The wiring of store.example.toml's main door on a Raspberry Pi: beam A
// (street side) on GPIO17, beam B (inside) on GPIO27, open-collector
// outputs that go high while a beam is broken.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	src, err := gpiopair.OpenLineSet("GPIO17", "GPIO27", gpio.PullUp, gpio.BothEdges)
	if err != nil {
		log.Fatal(err) // the daemon reports the device down and retries
	}
	defer src.Close()
	c, err := beams.New(src, &beams.Opts{Name: "main-door-beams", BrokenLevel: beams.BrokenHigh, Meter: drivers.NewMeter()})
	if err != nil {
		log.Fatal(err)
	}
	out := make(chan edge.Event, 64)
	go func() {
		for ev := range out {
			switch ev.Kind {
			case edge.KindDoorCrossing:
				log.Printf("%s: %d %s", ev.Source, ev.Crossing.Count, ev.Crossing.Dir)
			case edge.KindDeviceStatus:
				log.Printf("%s: %s %s", ev.Source, ev.Device.State, ev.Device.Detail)
			}
		}
	}()
	if err := c.Run(context.Background(), out); err != nil {
		log.Print(err) // the lines failed: close the source and open it again
	}
}
