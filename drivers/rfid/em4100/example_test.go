package em4100_test

import (
	"context"
	"fmt"
	"log"

	"go.bug.st/serial"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/em4100"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// A reader's byte stream, split anywhere, with noise and a corrupted frame.
func ExampleParser() {
	var p em4100.Parser
	emit := func(f em4100.Frame) {
		fmt.Printf("version %02X tag %d (UID % X)\n", f.Version, f.ID, f.UID())
	}
	reject := func(reason string) { fmt.Println("rejected:", reason) }
	p.Feed([]byte("\x00\x0201000734"), emit, reject)
	p.Feed([]byte("E0D2\x03\x0201000734E0D3\x03"), emit, reject)
	p.Feed([]byte("\x0262e3086ced08\r\n\x03"), emit, reject)
	// Output:
	// rejected: framing
	// version 01 tag 472288 (UID 00 07 34 E0)
	// rejected: checksum
	// version 62 tag 3808980205 (UID E3 08 6C ED)
}

// How cmd/redcarpet runs an RDM6300 on a serial port.
func ExampleNew() {
	ctx := context.Background()
	port, err := serial.Open("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K1ZQ2-if00-port0", &serial.Mode{BaudRate: 9600})
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()
	o := em4100.DefaultOpts
	o.Name = "entrance-rfid"
	o.Meter = drivers.NewMeter()
	r, err := em4100.New(port, &o)
	if err != nil {
		log.Fatal(err)
	}
	events := make(chan edge.Event, 64)
	// nil when ctx ends; otherwise the port failed: close it, reopen, New again.
	if err := r.Run(ctx, events); err != nil {
		log.Print(err)
	}
}
