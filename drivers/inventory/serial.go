package inventory

import (
	"fmt"
	"os"
	"slices"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// SerialPort is a UART, a USB serial adapter or a USB CDC ACM device:
// where serial RFID readers and serial barcode scanners are plugged.
type SerialPort struct {
	Path string `json:"path"` // the device node: /dev/ttyUSB0
	// Config is the value for a device's port field: the by-id link when
	// there is one (it follows the adapter whatever the plugging order),
	// else /dev/serial0 or /dev/serial1 for a Raspberry Pi UART, else Path.
	Config string `json:"config"`
	// ByID is the /dev/serial/by-id link, when udev made one (USB only).
	ByID string `json:"by_id,omitempty"`
	// Links are the other links to the node: /dev/serial/by-path/…
	// (follows the USB socket), /dev/serial0.
	Links []string `json:"links,omitempty"`

	USB          bool   `json:"usb"`
	VID          string `json:"vid,omitempty"` // hex, upper case: "0403"
	PID          string `json:"pid,omitempty"`
	SerialNumber string `json:"serial_number,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`

	Access Access `json:"access"`
}

// piUARTs are the links Raspberry Pi OS makes to the primary and secondary
// UART, whichever of ttyAMA0 and ttyS0 they are on this model.
var piUARTs = []string{"/dev/serial0", "/dev/serial1"}

// detailedPorts is the default Opts.SerialPorts. The enumerator leaves the
// name empty for a port whose sysfs entry it cannot read; those names are
// taken from the plain list.
func detailedPorts() ([]*enumerator.PortDetails, error) {
	dets, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(dets, func(d *enumerator.PortDetails) bool { return d.Name == "" }) {
		return dets, nil
	}
	names, err := serial.GetPortsList()
	if err != nil {
		return dets, nil
	}
	for _, n := range names {
		if !slices.ContainsFunc(dets, func(d *enumerator.PortDetails) bool { return d.Name == n }) {
			dets = append(dets, &enumerator.PortDetails{Name: n})
		}
	}
	return dets, nil
}

// serialPorts lists the ports list returns (nil: none) and those udev links
// point at, with their links.
func (t tree) serialPorts(list func() ([]*enumerator.PortDetails, error), user string, problems *[]string) []SerialPort {
	byID := t.links("/dev/serial/by-id", problems)
	byPath := t.links("/dev/serial/by-path", problems)
	alias := map[string][]string{}
	for _, l := range piUARTs {
		if target, err := os.Readlink(t.path(l)); err == nil {
			target = resolve("/dev", target)
			alias[target] = append(alias[target], l)
		}
	}

	ports := map[string]*SerialPort{}
	if list != nil {
		dets, err := list()
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("serial ports: %v", err))
		}
		for _, d := range dets {
			if d == nil || d.Name == "" {
				continue
			}
			ports[d.Name] = &SerialPort{Path: d.Name, USB: d.IsUSB, VID: d.VID, PID: d.PID,
				SerialNumber: d.SerialNumber, Manufacturer: d.Manufacturer, Product: d.Product}
		}
	}
	for _, m := range []map[string][]string{byID, byPath, alias} {
		for target := range m {
			if _, err := os.Stat(t.path(target)); ports[target] == nil && err == nil {
				ports[target] = &SerialPort{Path: target}
			}
		}
	}

	out := make([]SerialPort, 0, len(ports))
	for path, p := range ports {
		ids := byID[path]
		if len(ids) > 0 {
			p.ByID = ids[0]
			p.Links = append(p.Links, ids[1:]...)
		}
		p.Links = append(p.Links, byPath[path]...)
		p.Links = append(p.Links, alias[path]...)
		switch {
		case p.ByID != "":
			p.Config = p.ByID
		case len(alias[path]) > 0:
			p.Config = alias[path][0]
		default:
			p.Config = path
		}
		p.Access = t.access(path, serialFamily, user)
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b SerialPort) int { return naturalCompare(a.Path, b.Path) })
	return out
}
