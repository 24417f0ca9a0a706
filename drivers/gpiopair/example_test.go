package gpiopair_test

import (
	"context"
	"fmt"
	"log"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/host/v3"

	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
)

// On a Raspberry Pi: both lines in one request of the GPIO character
// device, so the kernel orders their edges.
func ExampleOpenLineSet() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	src, err := gpiopair.OpenLineSet("GPIO5", "GPIO6", gpio.PullUp, gpio.FallingEdge)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	for {
		e, err := src.Next(context.Background(), -1)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("line", e.Line, "went", e.Level)
	}
}

// In tests: two gpiotest pins, edges sent on their EdgesChan.
func ExampleFromPins() {
	a := &gpiotest.Pin{N: "A", EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	b := &gpiotest.Pin{N: "B", EdgesChan: make(chan gpio.Level), Clock: clockwork.NewRealClock()}
	src, err := gpiopair.FromPins(a, b, gpio.PullUp, gpio.FallingEdge)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	b.EdgesChan <- gpio.Low
	e, err := src.Next(context.Background(), -1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("line", e.Line, "went", e.Level)
	// Output: line 1 went Low
}
