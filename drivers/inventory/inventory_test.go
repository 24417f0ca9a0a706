package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.bug.st/serial/enumerator"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// piRoot builds, under a temporary directory, the /dev and /proc of a
// Raspberry Pi 4 with a USB barcode scanner and an RFID reader in keyboard
// mode, an FTDI adapter, a CDC ACM scanner, the two UARTs, two GPIO chips and
// SPI0 with both chip selects. Device nodes are plain files.
func piRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	file := func(p string, data []byte) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := func(p, target string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	devices, err := os.ReadFile(filepath.Join("testdata", "pi4-input-devices.txt"))
	if err != nil {
		t.Fatal(err)
	}
	file("proc/bus/input/devices", devices)
	for _, n := range []string{"event0", "event1", "event2", "event3", "event4", "event5", "mouse0", "mice"} {
		file("dev/input/"+n, nil)
	}
	link("dev/input/by-id/usb-Symbol_Technologies__Inc__2008_Symbol_Bar_Code_Scanner_19078010502145-event-kbd", "../event2")
	link("dev/input/by-id/usb-Sycreader_RFID_Technology_Co.__Ltd_SYC_ID_IC_USB_Reader_08FF20140315-event-kbd", "../event3")
	link("dev/input/by-id/usb-Logitech_USB_Receiver-if01-event-mouse", "../event4")
	link("dev/input/by-id/usb-Logitech_USB_Receiver-if01-mouse", "../mouse0")
	link("dev/input/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-event-kbd", "../event2")
	link("dev/input/by-path/platform-pwr_button-event", "../event5")

	for _, n := range []string{"ttyS0", "ttyAMA0", "ttyUSB0", "ttyACM0"} {
		file("dev/"+n, nil)
	}
	link("dev/serial0", "ttyS0")
	link("dev/serial1", "ttyAMA0")
	link("dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0", "../../ttyUSB0")
	link("dev/serial/by-id/usb-Newland_Auto-ID_NLS-HR22_23101712345-if00", "../../ttyACM0")
	link("dev/serial/by-id/usb-Gone_Adapter_0001-if00-port0", "../../ttyUSB9") // dangling: unplugged
	link("dev/serial/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-port0", "../../ttyUSB0")

	for _, n := range []string{"gpiochip0", "gpiochip1", "spidev0.0", "spidev0.1", "spidev0.1.bak"} {
		file("dev/"+n, nil)
	}
	return root
}

// piPorts is what the enumerator reports on that Pi (without ttyACM0, which
// the inventory still finds through its by-id link).
func piPorts() ([]*enumerator.PortDetails, error) {
	return []*enumerator.PortDetails{
		{Name: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001", SerialNumber: "A50285BI", Manufacturer: "FTDI", Product: "FT232R USB UART"},
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyAMA0"},
		{}, // what the enumerator returns for a port without sysfs details
		nil,
	}, nil
}

func TestTakeOnARaspberryPi(t *testing.T) {
	inv := Take(&Opts{Root: piRoot(t), SerialPorts: piPorts})
	if len(inv.Problems) != 0 {
		t.Errorf("problems: %q", inv.Problems)
	}

	t.Run("serial ports", func(t *testing.T) {
		type port struct{ path, config string }
		var got []port
		for _, p := range inv.Serial {
			got = append(got, port{p.Path, p.Config})
			if !p.Access.Readable || !p.Access.Writable || p.Access.Hint != "" {
				t.Errorf("%s: access %+v, want read-write for the owner", p.Path, p.Access)
			}
		}
		want := []port{
			{"/dev/ttyACM0", "/dev/serial/by-id/usb-Newland_Auto-ID_NLS-HR22_23101712345-if00"},
			{"/dev/ttyAMA0", "/dev/serial1"},
			{"/dev/ttyS0", "/dev/serial0"},
			{"/dev/ttyUSB0", "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("ports:\n%v\nwant:\n%v", got, want)
		}
		usb := inv.Serial[3]
		if !usb.USB || usb.VID != "0403" || usb.PID != "6001" || usb.SerialNumber != "A50285BI" || usb.Product != "FT232R USB UART" ||
			!slices.Equal(usb.Links, []string{"/dev/serial/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-port0"}) {
			t.Errorf("ttyUSB0 = %+v", usb)
		}
	})

	t.Run("input devices", func(t *testing.T) {
		type dev struct {
			name, config string
			keyboard     bool
		}
		var got []dev
		for _, d := range inv.Input {
			got = append(got, dev{d.Name, d.Config, d.Keyboard})
		}
		want := []dev{
			{"vc4-hdmi-0", "/dev/input/event0", false},
			{"vc4-hdmi-1", "/dev/input/event1", false},
			{"Symbol Technologies, Inc, 2008 Symbol Bar Code Scanner", "/dev/input/by-id/usb-Symbol_Technologies__Inc__2008_Symbol_Bar_Code_Scanner_19078010502145-event-kbd", true},
			{"Sycreader RFID Technology Co., Ltd SYC ID&IC USB Reader", "/dev/input/by-id/usb-Sycreader_RFID_Technology_Co.__Ltd_SYC_ID_IC_USB_Reader_08FF20140315-event-kbd", true},
			{"Logitech USB Receiver Mouse", "/dev/input/by-id/usb-Logitech_USB_Receiver-if01-event-mouse", false},
			{"pwr_button", "/dev/input/by-path/platform-pwr_button-event", false},
		}
		if !slices.Equal(got, want) {
			t.Errorf("input devices:\n%v\nwant:\n%v", got, want)
		}
		scanner := inv.Input[2]
		if scanner.Event != "/dev/input/event2" || scanner.Bus != "usb" || scanner.Vendor != "05e0" ||
			!slices.Equal(scanner.Links, []string{"/dev/input/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-event-kbd"}) ||
			!scanner.Access.Readable {
			t.Errorf("scanner = %+v", scanner)
		}
	})

	t.Run("GPIO chips", func(t *testing.T) {
		if len(inv.GPIO) != 2 || inv.GPIO[0].Path != "/dev/gpiochip0" || inv.GPIO[1].Path != "/dev/gpiochip1" {
			t.Fatalf("chips = %+v", inv.GPIO)
		}
		// Plain files answer the chip-info ioctl with ENOTTY: listed, with
		// the reason they could not be described.
		if c := inv.GPIO[0]; !strings.Contains(c.Err, "inappropriate ioctl") || c.Lines != 0 || !c.Access.Readable {
			t.Errorf("chip 0 = %+v", c)
		}
	})

	t.Run("SPI buses", func(t *testing.T) {
		want := []SPIBus{{Path: "/dev/spidev0.0", Alias: "SPI0.0"}, {Path: "/dev/spidev0.1", Alias: "SPI0.1", ChipSelect: 1}}
		if len(inv.SPI) != len(want) {
			t.Fatalf("buses = %+v", inv.SPI)
		}
		for i, b := range inv.SPI {
			b.Access = Access{}
			if b != want[i] {
				t.Errorf("bus %d = %+v, want %+v", i, b, want[i])
			}
		}
	})
}

func TestTakeOnAMachineWithoutDevices(t *testing.T) {
	inv := Take(&Opts{Root: t.TempDir()})
	if len(inv.Serial)+len(inv.Input)+len(inv.GPIO)+len(inv.SPI) != 0 || len(inv.Problems) != 0 {
		t.Errorf("inventory of an empty root = %+v", inv)
	}
	if inv.User == "" {
		t.Error("no user")
	}
}

func TestTakeReportsWhatItCannotRead(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "dev/serial"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dev/serial/by-id"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	inv := Take(&Opts{Root: root, SerialPorts: func() ([]*enumerator.PortDetails, error) {
		return nil, errors.New("sysfs is not mounted")
	}})
	want := []string{"reading /dev/serial/by-id:", "serial ports: sysfs is not mounted"}
	if len(inv.Problems) != len(want) {
		t.Fatalf("problems = %q", inv.Problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(inv.Problems[i], w) {
			t.Errorf("problem %d = %q, want %q…", i, inv.Problems[i], w)
		}
	}
}

func TestAccessOfAClosedNode(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "ttyUSB0"), nil, 0); err != nil {
		t.Fatal(err)
	}
	a := tree{root: root}.access("/ttyUSB0", serialFamily, "pi")
	if a.Mode != "----------" {
		t.Errorf("mode = %q", a.Mode)
	}
	if os.Geteuid() == 0 {
		if !a.Readable || !a.Writable || a.Hint != "" {
			t.Errorf("root: %+v, want full access", a)
		}
	} else if a.Readable || a.Writable || !strings.Contains(a.Hint, "udev rule") {
		t.Errorf("%+v, want no access and a udev hint", a)
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		name  string
		a     Access
		f     family
		group string
		perm  fs.FileMode
		want  string
	}{
		{"serial ok", Access{Readable: true, Writable: true}, serialFamily, "dialout", 0o660, ""},
		{"input ok read-only", Access{Readable: true}, inputFamily, "input", 0o660, ""},
		{"serial, dialout", Access{}, serialFamily, "dialout", 0o660,
			"not readable or writable by pi: add the user to the dialout group (sudo usermod -aG dialout pi, then log in again; for the service: SupplementaryGroups=dialout)"},
		{"serial, read-only group", Access{Readable: true}, serialFamily, "dialout", 0o640,
			`not writable by pi: only its owner can open it (-rw-r----- dialout); add a udev rule such as SUBSYSTEM=="tty", GROUP="dialout", MODE="0660", then add the user to the dialout group`},
		{"gpio, root only", Access{}, gpioFamily, "root", 0o600,
			`not readable by pi: only its owner can open it (-rw------- root); add a udev rule such as SUBSYSTEM=="gpio", GROUP="gpio", MODE="0660", then add the user to the gpio group`},
		{"spi, group spi", Access{Readable: true}, spiFamily, "spi", 0o660, "not writable by pi: add the user to the spi group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hint(tt.a, tt.f, "pi", tt.group, tt.perm)
			if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
				t.Errorf("hint = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseInputDevicesGolden(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "pi4-input-devices.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	devs, err := ParseInputDevices(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(devs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "pi4-input-devices.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ParseInputDevices differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestParseInputDevicesTolerance(t *testing.T) {
	in := "garbage\r\n" +
		"I: Bus=0003 Vendor=0c2e Product=0b61\r\n" +
		"N: Name=Unquoted \"Scanner\"\r\n" +
		"H: Handlers=kbd event7\r\n" +
		"B: EV=120013\r\n" +
		"B: KEY=7ff9\r\n" + // digits but no Enter
		"B: =1\r\n" +
		"\r\n\r\n" +
		"N: Name=\"last, no blank line after\"\n" +
		"I: Bus=zz"
	devs, err := ParseInputDevices(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("got %d devices: %+v", len(devs), devs)
	}
	d := devs[0]
	if d.Name != `Unquoted "Scanner"` || d.Bus != "usb" || d.Vendor != "0c2e" || d.Keyboard || len(d.Capabilities) != 2 ||
		!slices.Equal(d.Handlers, []string{"kbd", "event7"}) {
		t.Errorf("device 0 = %+v", d)
	}
	if d := devs[1]; d.Name != "last, no blank line after" || d.Bus != "zz" {
		t.Errorf("device 1 = %+v", d)
	}
}

func TestBitSet(t *testing.T) {
	tests := []struct {
		bitmap string
		bit    int
		want   bool
	}{
		{"120013", 1, true}, {"120013", 2, false}, {"120013", 20, true},
		{"1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe", 28, true},
		{"1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe", 0, false},
		{"ffffffff 0", 5, false}, // 32-bit words: bit 5 is in the last one
		{"", 1, false}, {"xyz", 1, false}, {"ff", 40, false}, {"ff", -1, false},
	}
	for _, tt := range tests {
		if got := bitSet(tt.bitmap, tt.bit); got != tt.want {
			t.Errorf("bitSet(%q, %d) = %v, want %v", tt.bitmap, tt.bit, got, tt.want)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	got := []string{"/dev/ttyS10", "/dev/ttyUSB0", "/dev/ttyS2", "/dev/ttyACM0", "/dev/ttyS02", "/dev/ttyS"}
	slices.SortStableFunc(got, naturalCompare)
	want := []string{"/dev/ttyACM0", "/dev/ttyS", "/dev/ttyS2", "/dev/ttyS02", "/dev/ttyS10", "/dev/ttyUSB0"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %q, want %q", got, want)
	}
}

func TestCString(t *testing.T) {
	var b [32]byte
	copy(b[:], "pinctrl-bcm2711\x00junk")
	if got := cString(b[:]); got != "pinctrl-bcm2711" {
		t.Errorf("cString = %q", got)
	}
	if got := cString([]byte("full")); got != "full" {
		t.Errorf("cString without NUL = %q", got)
	}
}

func FuzzParseInputDevices(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "pi4-input-devices.txt")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("I: Bus=0003 Vendor=05e0\nN: Name=\"\"\nH: Handlers=kbd event0\nB: EV=3\nB: KEY=ffffffff\n\n"))
	f.Add([]byte("N:\nB:\nB: KEY= \n\x00\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		devs, err := ParseInputDevices(bytes.NewReader(data))
		if err != nil && len(data) < maxLine {
			t.Fatalf("error on a short input: %v", err)
		}
		for _, d := range devs {
			if d.Keyboard && !slices.Contains(d.Handlers, "kbd") {
				t.Errorf("keyboard without a kbd handler: %+v", d)
			}
		}
	})
}
