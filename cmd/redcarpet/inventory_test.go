package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/redcarpet-retail/redcarpet/drivers/inventory"
)

var devicesSections = []string{"Serial ports\n", "\nInput devices\n", "\nGPIO chips\n", "\nSPI buses\n"}

// On whatever machine the tests run: text with the four sections, exit 0.
func TestDevicesCommandText(t *testing.T) {
	var out, errb bytes.Buffer
	if err := cmdDevices(nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Logf("redcarpet devices on this machine:\n%s%s", text, errb.String())
	last := -1
	for _, s := range devicesSections {
		i := strings.Index(text, s)
		if i < 0 || i < last {
			t.Errorf("section %q missing or out of order in:\n%s", strings.TrimSpace(s), text)
		}
		last = i
	}
}

func TestDevicesCommandJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if err := cmdDevices([]string{"-json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var inv inventory.Inventory
	if err := json.Unmarshal(out.Bytes(), &inv); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"serial_ports", "input_devices", "gpio_chips", "spi_buses"} {
		if v := raw[k]; len(v) == 0 || v[0] != '[' {
			t.Errorf("%s = %s, want an array (empty rather than null)", k, v)
		}
	}
	if inv.User == "" {
		t.Error("no user in the inventory")
	}
}

func TestDevicesCommandFlags(t *testing.T) {
	var out bytes.Buffer
	if err := cmdDevices([]string{"-h"}, &out, &out); err != nil || !strings.Contains(out.String(), "usage: redcarpet devices [-json]") {
		t.Errorf("-h: %v\n%s", err, out.String())
	}
	for _, args := range [][]string{{"-yaml"}, {"extra"}} {
		var ue usageError
		if err := cmdDevices(args, &out, &out); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

func TestPrintInventoryOfAnEmptyMachine(t *testing.T) {
	var out bytes.Buffer
	if err := printInventory(&out, &inventory.Inventory{User: "pi"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Serial ports\n  none found",
		"Input devices\n  none found",
		"GPIO chips\n  no GPIO chips found (is this a Raspberry Pi? is gpio access allowed for this user?)",
		"SPI buses\n  no SPI buses found",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}

func TestPrintInventoryOfAPi(t *testing.T) {
	noAccess := inventory.Access{Hint: "not readable or writable by pi: add the user to the dialout group"}
	inv := &inventory.Inventory{
		User: "pi",
		Serial: []inventory.SerialPort{
			{Path: "/dev/ttyS0", Config: "/dev/serial0", Links: []string{"/dev/serial0"}, Access: inventory.Access{Readable: true, Writable: true}},
			{Path: "/dev/ttyUSB0", Config: "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0",
				ByID: "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0", Links: []string{"/dev/serial/by-path/platform-usb-0:1.2:1.0-port0"},
				USB: true, VID: "0403", PID: "6001", Manufacturer: "FTDI", Product: "FT232R USB UART", SerialNumber: "A50285BI", Access: noAccess},
		},
		Input: []inventory.InputDevice{{
			Name: "Symbol Bar Code Scanner", Bus: "usb", Vendor: "05e0", Product: "1200", Keyboard: true, Event: "/dev/input/event2",
			Config: "/dev/input/by-id/usb-Symbol_Bar_Code_Scanner-event-kbd", Access: inventory.Access{Readable: true},
		}},
		GPIO: []inventory.GPIOChip{
			{Path: "/dev/gpiochip0", Name: "gpiochip0", Label: "pinctrl-bcm2711", Lines: 58, Named: []inventory.GPIOLine{
				{Offset: 0, Name: "ID_SDA"}, {Offset: 17, Name: "GPIO17", Consumer: "redcarpet", Used: true}, {Offset: 18, Name: "GPIO18"},
			}},
			{Path: "/dev/gpiochip1", Err: "reading chip info: permission denied"},
		},
		SPI: []inventory.SPIBus{{Path: "/dev/spidev0.0", Alias: "SPI0.0"}},
	}
	var out bytes.Buffer
	if err := printInventory(&out, inv); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"  /dev/ttyS0\n      port = \"/dev/serial0\"\n      (a Raspberry Pi UART",
		"  /dev/ttyUSB0  USB 0403:6001, FTDI FT232R USB UART, serial A50285BI\n" +
			"      port = \"/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0\"\n" +
			"      also /dev/serial/by-path/platform-usb-0:1.2:1.0-port0\n" +
			"      ! not readable or writable by pi: add the user to the dialout group\n",
		"  /dev/input/event2  \"Symbol Bar Code Scanner\" (usb 05e0:1200)\n      types like a keyboard",
		"      input = \"/dev/input/by-id/usb-Symbol_Bar_Code_Scanner-event-kbd\"\n",
		"  /dev/gpiochip0  pinctrl-bcm2711, 58 lines\n      lines: ID_SDA GPIO17 GPIO18\n      in use: GPIO17 (redcarpet)\n" +
			"      pin fields take these names, e.g. beam_a_pin = \"GPIO17\"\n",
		"  /dev/gpiochip1  reading chip info: permission denied\n      gpioinfo",
		"  /dev/spidev0.0  SPI0.0 (bus 0, chip select 0)\n      spi = \"/dev/spidev0.0\"\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing:\n%s\nin:\n%s", want, text)
		}
	}
	if strings.Contains(text, "also /dev/serial0") {
		t.Errorf("the configured name is repeated as another name:\n%s", text)
	}
}

func TestDevicesWrap(t *testing.T) {
	names := make([]string, 58)
	for i := range names {
		names[i] = "GPIO" + strings.Repeat("9", i%3+1)
	}
	var out bytes.Buffer
	devicesWrap(&devicesText{w: &out}, 6, "lines: ", names)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("not wrapped:\n%s", out.String())
	}
	for _, l := range lines {
		if len(l) > 100 {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
		if !strings.HasPrefix(l, "      lines: GPIO") && !strings.HasPrefix(l, strings.Repeat(" ", 6+len("lines: "))+"GPIO") {
			t.Errorf("badly indented: %q", l)
		}
	}
	if got := strings.Count(out.String(), "GPIO"); got != len(names) {
		t.Errorf("%d names printed, want %d", got, len(names))
	}
}
