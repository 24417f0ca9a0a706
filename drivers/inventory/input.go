package inventory

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// InputDevice is an input device of the kernel: a keyboard, a mouse, a
// button, or a barcode scanner or RFID reader in keyboard-wedge mode.
type InputDevice struct {
	Name    string `json:"name"`
	Bus     string `json:"bus"`     // "usb", "bluetooth", "host", … or the kernel's hex number
	Vendor  string `json:"vendor"`  // hex, as the kernel prints it: "05e0"
	Product string `json:"product"` // hex: "1200"
	Version string `json:"version,omitempty"`
	Phys    string `json:"phys,omitempty"` // where it is plugged: "usb-0000:01:00.0-1.3/input0"
	Uniq    string `json:"uniq,omitempty"` // a serial number, when the device has one
	Sysfs   string `json:"sysfs,omitempty"`
	// Handlers are the kernel handlers bound to it: "sysrq", "kbd",
	// "leds", "event0", "mouse0", …
	Handlers []string `json:"handlers"`
	// Capabilities are the B: bitmaps by name ("EV", "KEY", "MSC", …), in
	// hex as the kernel prints them.
	Capabilities map[string]string `json:"capabilities,omitempty"`
	// Keyboard is true when it types like a keyboard: a kbd handler, key
	// events, the digit keys and Enter. Wedge scanners and readers do.
	Keyboard bool `json:"keyboard"`

	// Event is its evdev node, "/dev/input/event0"; empty when it has none.
	Event string `json:"event,omitempty"`
	// Config is the value for a device's input field: the by-id link
	// (…-event-kbd preferred), else the by-path link, else Event. Empty
	// without an evdev node.
	Config string `json:"config,omitempty"`
	// ByID is the /dev/input/by-id link to Event, when udev made one.
	ByID string `json:"by_id,omitempty"`
	// Links are the other links to Event (by-path, other by-id names).
	Links []string `json:"links,omitempty"`
	// Access is for Event; zero without an evdev node.
	Access Access `json:"access,omitzero"`
}

// Linux input constants (linux/input-event-codes.h, linux/input.h).
const (
	evKey    = 1  // EV_KEY
	keyOne   = 2  // KEY_1; KEY_1…KEY_9, KEY_0 are 2…11
	keyZero  = 11 // KEY_0
	keyEnter = 28 // KEY_ENTER
)

// busNames names the bus types of linux/input.h an installer meets.
var busNames = map[uint64]string{
	0x01: "pci", 0x03: "usb", 0x05: "bluetooth", 0x06: "virtual",
	0x11: "i8042", 0x18: "i2c", 0x19: "host", 0x1c: "spi",
}

// maxLine bounds one line of /proc/bus/input/devices; the longest real
// ones (KEY bitmaps, sysfs paths) are a few hundred bytes.
const maxLine = 64 << 10

// ParseInputDevices reads the format of /proc/bus/input/devices: blocks of
// "X: ..." lines separated by blank lines. Unknown lines are skipped. On a
// read error it returns the devices parsed so far with the error.
func ParseInputDevices(r io.Reader) ([]InputDevice, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var (
		out []InputDevice
		cur *InputDevice
	)
	end := func() {
		if cur != nil {
			cur.Keyboard = cur.typesLikeKeyboard()
			out = append(out, *cur)
			cur = nil
		}
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(line) == "" {
			end()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		if cur == nil {
			cur = &InputDevice{}
		}
		rest := strings.TrimSpace(line[2:])
		switch line[0] {
		case 'I':
			for _, f := range strings.Fields(rest) {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "Bus":
					cur.Bus = busName(v)
				case "Vendor":
					cur.Vendor = v
				case "Product":
					cur.Product = v
				case "Version":
					cur.Version = v
				}
			}
		case 'N':
			name := strings.TrimPrefix(rest, "Name=")
			if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
				name = name[1 : len(name)-1]
			}
			cur.Name = name
		case 'P':
			cur.Phys = strings.TrimPrefix(rest, "Phys=")
		case 'S':
			cur.Sysfs = strings.TrimPrefix(rest, "Sysfs=")
		case 'U':
			cur.Uniq = strings.TrimPrefix(rest, "Uniq=")
		case 'H':
			cur.Handlers = strings.Fields(strings.TrimPrefix(rest, "Handlers="))
		case 'B':
			if k, v, ok := strings.Cut(rest, "="); ok && k != "" {
				if cur.Capabilities == nil {
					cur.Capabilities = map[string]string{}
				}
				cur.Capabilities[k] = v
			}
		}
	}
	end()
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("parse input devices: %w", err)
	}
	return out, nil
}

// busName names a hex bus number.
func busName(hex string) string {
	n, err := strconv.ParseUint(hex, 16, 16)
	if err != nil {
		return hex
	}
	if name, ok := busNames[n]; ok {
		return name
	}
	return hex
}

// typesLikeKeyboard reports a kbd handler, EV_KEY, the digits and Enter.
func (d *InputDevice) typesLikeKeyboard() bool {
	if !slices.Contains(d.Handlers, "kbd") || !bitSet(d.Capabilities["EV"], evKey) {
		return false
	}
	keys := d.Capabilities["KEY"]
	for k := keyOne; k <= keyZero; k++ {
		if !bitSet(keys, k) {
			return false
		}
	}
	return bitSet(keys, keyEnter)
}

// bitSet reports whether bit n (< 32) is set in a kernel bitmap as
// /proc prints it: hex words, most significant first, of the kernel's long
// size. Bits below 32 are in the last word whatever that size.
func bitSet(bitmap string, n int) bool {
	words := strings.Fields(bitmap)
	if len(words) == 0 || n < 0 || n >= 32 {
		return false
	}
	w, err := strconv.ParseUint(words[len(words)-1], 16, 64)
	return err == nil && w&(1<<n) != 0
}

// inputDevices lists /proc/bus/input/devices with the evdev links.
func (t tree) inputDevices(user string, problems *[]string) []InputDevice {
	f, err := os.Open(t.path("/proc/bus/input/devices"))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*problems = append(*problems, fmt.Sprintf("input devices: %v", err))
		}
		return nil
	}
	defer f.Close()
	devs, err := ParseInputDevices(f)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("input devices: %v", err))
	}
	byID := t.links("/dev/input/by-id", problems)
	byPath := t.links("/dev/input/by-path", problems)
	for i := range devs {
		d := &devs[i]
		for _, h := range d.Handlers {
			if n, ok := strings.CutPrefix(h, "event"); ok && n != "" && digits(n) == len(n) {
				d.Event = "/dev/input/" + h
				break
			}
		}
		if d.Event == "" {
			continue
		}
		ids := slices.Clone(byID[d.Event])
		// Prefer the keyboard interface's name: …-event-kbd.
		slices.SortStableFunc(ids, func(a, b string) int {
			return boolRank(!strings.HasSuffix(a, "-event-kbd")) - boolRank(!strings.HasSuffix(b, "-event-kbd"))
		})
		if len(ids) > 0 {
			d.ByID = ids[0]
			d.Links = append(d.Links, ids[1:]...)
		}
		d.Links = append(d.Links, byPath[d.Event]...)
		switch {
		case d.ByID != "":
			d.Config = d.ByID
		case len(byPath[d.Event]) > 0:
			d.Config = byPath[d.Event][0]
		default:
			d.Config = d.Event
		}
		d.Access = t.access(d.Event, inputFamily, user)
	}
	slices.SortStableFunc(devs, func(a, b InputDevice) int {
		// Devices without an evdev node last.
		if c := boolRank(a.Event == "") - boolRank(b.Event == ""); c != 0 {
			return c
		}
		return naturalCompare(a.Event, b.Event)
	})
	return devs
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
