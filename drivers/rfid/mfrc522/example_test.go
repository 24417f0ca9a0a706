package mfrc522_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"github.com/redcarpet-retail/redcarpet/drivers/rfid/mfrc522"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/mfrc522/mfrc522test"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// A reader on a Raspberry Pi: SDA on CE0 (/dev/spidev0.0), RST on GPIO25,
// IRQ on GPIO24. Only main opens devices by name; the driver gets them
// opened.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	port, err := spireg.Open("/dev/spidev0.0") // or "SPI0.0"
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()
	reset, irq := gpioreg.ByName("GPIO25"), gpioreg.ByName("GPIO24")
	if reset == nil || irq == nil {
		log.Fatal("mfrc522: GPIO25 or GPIO24 not found")
	}

	o := mfrc522.DefaultOpts
	o.Name = "entrance-rfid"
	r, err := mfrc522.New(port, reset, irq, &o)
	if err != nil {
		log.Fatal(err) // e.g. "mfrc522 on SPI0.0: no answer (version register reads 0xFF); …"
	}
	defer r.Close()
	log.Printf("entrance-rfid: %s", r.Version())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out := make(chan edge.Event, 16)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, out) }()
	for {
		select {
		case ev := <-out:
			log.Printf("card of %d bytes at %s", len(ev.Card.UID), ev.Source)
		case err := <-errc:
			if err != nil {
				log.Fatal(err)
			}
			return
		}
	}
}

// The driver against the emulated chip of package mfrc522test.
func Example_emulated() {
	irq := &gpiotest.Pin{N: "GPIO24", EdgesChan: make(chan gpio.Level, 1)}
	chip := mfrc522test.NewChip(irq)
	chip.Present([]byte{0xDE, 0xAD, 0xBE, 0xEF})

	o := mfrc522.DefaultOpts
	o.Name = "entrance-rfid"
	r, err := mfrc522.New(chip, &gpiotest.Pin{N: "GPIO25"}, irq, &o)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := make(chan edge.Event)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, out) }()

	ev := <-out
	fmt.Printf("%s from %s: % X\n", ev.Kind, ev.Source, ev.Card.UID)
	fmt.Println(r.Version())
	cancel()
	if err := <-errc; err != nil {
		log.Fatal(err)
	}
	// Output:
	// card.read from entrance-rfid: DE AD BE EF
	// MFRC522 v2.0 (0x92)
}
