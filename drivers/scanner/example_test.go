package scanner_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"go.bug.st/serial"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/scanner"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func ExampleDecoder_Decode() {
	d := scanner.NewDecoder(scanner.Classes{
		LoyaltyPrefixes: []string{"04"},
		ListPrefixes:    []string{"049"},
		CouponPrefixes:  configs.DefaultCouponPrefixes,
		LoyaltyAIs:      configs.DefaultLoyaltyAIs,
		CouponAIs:       configs.DefaultCouponAIs,
	}, "", "")
	for _, raw := range []string{
		"0410000001233",                        // loyalty card, no identifier
		"]E00490000000016",                     // shopping list: "049" beats "04"
		"]E04006381333931",                     // a product
		"512345678900",                         // UPC-A coupon: 0512345678900 as EAN-13
		"]C18018123456789012345675",            // GS1-128 with a GSRN
		"]d20104012345678901" + "21ABC\x1d10L", // GS1 DataMatrix on a pack
		"4006381333932",                        // misread
	} {
		s, err := d.Decode(raw)
		if err != nil {
			fmt.Printf("%-9s %v\n", scanner.Reason(err), err)
			continue
		}
		fmt.Printf("%-9s %-3s %s\n", s.Class, s.Symbology, s.Code)
	}
	// Output:
	// loyalty       0410000001233
	// list      ]E0 0490000000016
	// product   ]E0 4006381333931
	// coupon        512345678900
	// loyalty   ]C1 123456789012345675
	// product   ]d2 04012345678901
	// checksum  EAN-13: wrong check digit
}

func ExampleParse() {
	b, err := scanner.Parse("]d2" + "0104012345678901" + "17261231" + "10LOT1\x1d" + "21ABC")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Kind, b.GTIN)
	for _, e := range b.Elements {
		fmt.Println(e)
	}
	// Output:
	// GS1 04012345678901
	// (01)04012345678901
	// (17)261231
	// (10)LOT1
	// (21)ABC
}

// The daemon's wiring of a serial scanner.
func ExampleNew() {
	var (
		dev   = configs.Device{Name: "lane-1-scanner", Port: "/dev/serial/by-id/usb-Datalogic_Scanner-if00", Terminator: "line"}
		codes configs.Barcodes // the store's, validated
		meter = drivers.NewMeter()
		out   = make(chan edge.Event, 64)
	)
	port, err := serial.Open(dev.Port, &serial.Mode{BaudRate: 9600})
	if err != nil {
		log.Print(err) // the daemon reports the device down and retries
		return
	}
	defer port.Close()
	s, err := scanner.New(port, &scanner.Opts{
		Name:        dev.Name,
		Terminator:  scanner.Terminator(dev.Terminator),
		IdleGap:     dev.IdleGap.Duration,
		StripPrefix: dev.StripPrefix,
		StripSuffix: dev.StripSuffix,
		Classes:     scanner.Classes(codes),
		Meter:       meter,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx, out); err != nil {
		log.Print(err) // unplugged: reopen with backoff
	}
}
