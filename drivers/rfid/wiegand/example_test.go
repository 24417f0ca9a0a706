package wiegand_test

import (
	"context"
	"log"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/wiegand"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// The wiring of a reader on a Raspberry Pi: D0 on GPIO5, D1 on GPIO6,
// requested together so the kernel orders the bits.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	src, err := gpiopair.OpenLineSet("GPIO5", "GPIO6", gpio.PullUp, gpio.FallingEdge)
	if err != nil {
		log.Fatal(err) // the daemon reports the device down and retries
	}
	defer src.Close()
	r, err := wiegand.New(src, &wiegand.Opts{Name: "lane-1-rfid", Meter: drivers.NewMeter()})
	if err != nil {
		log.Fatal(err)
	}
	out := make(chan edge.Event, 64)
	go func() {
		for ev := range out {
			log.Printf("%s: card of %d bytes", ev.Source, len(ev.Card.UID)) // never log the UID
		}
	}()
	if err := r.Run(context.Background(), out); err != nil {
		log.Print(err) // the lines failed: close the source and open it again
	}
}
