package hid_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/hid"
	"github.com/redcarpet-retail/redcarpet/drivers/hid/hidtest"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Keystrokes of a scanner reading a GS1-128 code: FNC1 separators arrive as
// Ctrl+], which the decoder turns into GS.
func ExampleDecoder() {
	d, err := hid.NewDecoder(hid.RecordSize, 0)
	if err != nil {
		log.Fatal(err)
	}
	records := hidtest.Keyboard{Size: hid.RecordSize}.Type("0104012345678901\x1d10AB-12\n")
	d.Feed(records, func(text string) { fmt.Printf("%q\n", text) }, nil)
	// Output:
	// "0104012345678901\x1d10AB-12"
}

// How cmd/redcarpet runs a keyboard-wedge RFID reader (kind wedge_rfid).
func ExampleOpen() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dev, err := hid.Open("/dev/input/by-id/usb-Sycreader_RFID_Technology_Co.__Ltd_SYC_ID_IC_USB_Reader_08FF20140315-event-kbd")
	if err != nil {
		log.Fatal(err) // says what to do: plug it in, fix the path, join group input
	}
	defer dev.Close()
	meter := drivers.NewMeter()
	kb := hid.NewKeyboard(dev, &hid.KeyboardOpts{Meter: meter})
	cards, err := hid.NewCardReader(kb, &hid.CardOpts{Name: "entrance-wedge", NumberFormat: hid.FormatDecimal, Meter: meter})
	if err != nil {
		log.Fatal(err)
	}
	events := make(chan edge.Event, 64)
	// nil once ctx ends (the Device's read deadline wakes the blocked read);
	// otherwise the device failed (ENODEV: unplugged): close it and reopen.
	if err := cards.Run(ctx, events); err != nil {
		log.Printf("%s: %v", dev.Name(), err)
	}
}

// A scanner's lines, for a scanner driver: Keyboard is a LineSource.
func ExampleKeyboard_Run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dev, err := hid.Open("/dev/input/by-id/usb-Honeywell_Imaging___Mobility_1900-event-kbd")
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	var src hid.LineSource = hid.NewKeyboard(dev, nil)
	err = src.Run(ctx, func(text string, at time.Time) {
		_ = text // classify and send an edge.Scan; never log it
	})
	if err != nil {
		log.Print(err)
	}
}
