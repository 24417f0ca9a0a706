package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/redcarpet-retail/redcarpet/drivers/inventory"
)

const devicesUsage = `usage: redcarpet devices [-json]

Lists this machine's serial ports, input devices, GPIO chips and SPI buses,
with the line to put in the configuration for each and whether the current
user can open it (and what to change when not). Run it as the user the
daemon runs as to check that user's access, e.g.
  sudo -u redcarpet redcarpet devices

Nothing is opened for reading or writing: no device is disturbed.
Exit status is 0 whatever is found.

flags:
`

// cmdDevices implements `redcarpet devices`.
func cmdDevices(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("redcarpet devices", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the inventory as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, devicesUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return usageError(fmt.Sprintf("devices: %v (see 'redcarpet devices -h')", err))
	}
	if fs.NArg() > 0 {
		return usageError("usage: redcarpet devices [-json]")
	}
	inv := inventory.Take(nil)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	}
	if err := printInventory(stdout, inv); err != nil {
		return err
	}
	for _, p := range inv.Problems {
		fmt.Fprintln(stderr, "redcarpet devices:", p)
	}
	return nil
}

// devicesText writes lines and keeps the first error.
type devicesText struct {
	w   io.Writer
	err error
}

func (o *devicesText) line(indent int, format string, args ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, "%s%s\n", strings.Repeat(" ", indent), fmt.Sprintf(format, args...))
	}
}

// printInventory writes the inventory for an installer: per device, what it
// is, the configuration line, other names, and an access problem if any.
func printInventory(w io.Writer, inv *inventory.Inventory) error {
	o := &devicesText{w: w}

	o.line(0, "Serial ports")
	if len(inv.Serial) == 0 {
		o.line(2, "none found (a USB serial adapter shows up as /dev/ttyUSB* or /dev/ttyACM*: is one plugged in?)")
	}
	for _, p := range inv.Serial {
		o.line(2, "%s%s", p.Path, serialWhat(p))
		o.line(6, "port = %q", p.Config)
		if strings.HasPrefix(p.Config, "/dev/serial") && !strings.HasPrefix(p.Config, "/dev/serial/") {
			o.line(6, "(a Raspberry Pi UART: turn its serial console off first, raspi-config > Interface Options > Serial Port)")
		}
		devicesAlso(o, p.Links, p.Config)
		devicesAccess(o, p.Access)
	}

	o.line(0, "")
	o.line(0, "Input devices")
	if len(inv.Input) == 0 {
		o.line(2, "none found (a USB barcode scanner or RFID reader in keyboard mode shows up here when plugged in)")
	}
	for _, d := range inv.Input {
		node := cmp.Or(d.Event, "(no event node)")
		what := fmt.Sprintf("%q", d.Name)
		if d.Bus != "" && d.Vendor != "0000" {
			what += fmt.Sprintf(" (%s %s:%s)", d.Bus, d.Vendor, d.Product)
		}
		o.line(2, "%s  %s", node, what)
		if d.Keyboard {
			o.line(6, "types like a keyboard: a barcode scanner or RFID reader in keyboard-wedge mode, or a keyboard")
		}
		if d.Config != "" {
			o.line(6, "input = %q", d.Config)
		}
		devicesAlso(o, d.Links, d.Config)
		if d.Event != "" {
			devicesAccess(o, d.Access)
		}
	}

	o.line(0, "")
	o.line(0, "GPIO chips")
	if len(inv.GPIO) == 0 {
		o.line(2, "no GPIO chips found (is this a Raspberry Pi? is gpio access allowed for this user?)")
	}
	for _, c := range inv.GPIO {
		if c.Err != "" {
			o.line(2, "%s  %s", c.Path, c.Err)
			o.line(6, "gpioinfo (Debian package gpiod) lists its lines and their names")
			devicesAccess(o, c.Access)
			continue
		}
		o.line(2, "%s  %s, %d lines", c.Path, cmp.Or(c.Label, c.Name), c.Lines)
		if len(c.Named) == 0 {
			o.line(6, "no named lines: pins cannot be configured by name on this chip")
		} else {
			names := make([]string, 0, len(c.Named))
			var used []string
			example := c.Named[0].Name
			for _, l := range c.Named {
				names = append(names, l.Name)
				if l.Used {
					used = append(used, strings.TrimSpace(l.Name+" ("+cmp.Or(l.Consumer, "unnamed consumer")+")"))
				}
				if l.Name == "GPIO17" {
					example = l.Name
				}
			}
			devicesWrap(o, 6, "lines: ", names)
			if len(used) > 0 {
				devicesWrap(o, 6, "in use: ", used)
			}
			o.line(6, "pin fields take these names, e.g. beam_a_pin = %q", example)
		}
		devicesAccess(o, c.Access)
	}

	o.line(0, "")
	o.line(0, "SPI buses")
	if len(inv.SPI) == 0 {
		o.line(2, "no SPI buses found (on a Raspberry Pi turn SPI on: raspi-config > Interface Options > SPI, or dtparam=spi=on in /boot/firmware/config.txt, then reboot)")
	}
	for _, b := range inv.SPI {
		o.line(2, "%s  %s (bus %d, chip select %d)", b.Path, b.Alias, b.Bus, b.ChipSelect)
		o.line(6, "spi = %q", b.Path)
		devicesAccess(o, b.Access)
	}

	if inv.Root {
		o.line(0, "")
		o.line(0, "Running as root, who can open every device: run as the daemon's user to check its access.")
	}
	return o.err
}

// serialWhat describes a port after its path.
func serialWhat(p inventory.SerialPort) string {
	if !p.USB {
		return ""
	}
	parts := []string{"USB " + p.VID + ":" + p.PID}
	if s := strings.TrimSpace(p.Manufacturer + " " + p.Product); s != "" {
		parts = append(parts, s)
	}
	if p.SerialNumber != "" {
		parts = append(parts, "serial "+p.SerialNumber)
	}
	return "  " + strings.Join(parts, ", ")
}

// devicesAlso lists a device's other names.
func devicesAlso(o *devicesText, links []string, config string) {
	rest := slices.DeleteFunc(slices.Clone(links), func(l string) bool { return l == config })
	for _, l := range rest {
		o.line(6, "also %s", l)
	}
}

// devicesAccess prints what keeps the current user from opening a node.
func devicesAccess(o *devicesText, a inventory.Access) {
	if a.Hint != "" {
		o.line(6, "! %s", a.Hint)
	}
}

// devicesWrap prints words after a label, in lines of about 100 columns.
func devicesWrap(o *devicesText, indent int, label string, words []string) {
	const width = 100
	cur := label
	pad := strings.Repeat(" ", len(label))
	for i, w := range words {
		if i > 0 && indent+len(cur)+1+len(w) > width {
			o.line(indent, "%s", cur)
			cur = pad + w
			continue
		}
		if i > 0 {
			cur += " "
		}
		cur += w
	}
	o.line(indent, "%s", cur)
}
