package inventory

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.bug.st/serial/enumerator"
)

// Inventory is what a machine has.
type Inventory struct {
	// User is the user the inventory was taken as; device access is
	// checked for this user.
	User string `json:"user"`
	// Root is true when taken as root, who can open every device: the
	// access checks then say nothing about the service user.
	Root bool `json:"root"`

	Serial []SerialPort  `json:"serial_ports"`
	Input  []InputDevice `json:"input_devices"`
	GPIO   []GPIOChip    `json:"gpio_chips"`
	SPI    []SPIBus      `json:"spi_buses"`

	// Problems are what could not be looked at, other than missing
	// directories, e.g. "serial ports: …: permission denied".
	Problems []string `json:"problems,omitempty"`
}

// Opts says where to look. The zero value looks at this machine.
type Opts struct {
	// Root is the directory /dev, /proc and /sys are read under: "" or "/"
	// on a gateway, a directory of fixtures in tests. Paths in the
	// Inventory are always as seen from the gateway ("/dev/ttyUSB0").
	Root string
	// SerialPorts lists serial ports with their USB details. Default:
	// go.bug.st/serial/enumerator.GetDetailedPortsList when Root is "/",
	// none otherwise (it reads the real /dev and /sys whatever Root is).
	// Ports that only appear as udev links are listed either way.
	SerialPorts func() ([]*enumerator.PortDetails, error)
}

// Take lists what the machine has. It does not fail: what it cannot read
// goes to Inventory.Problems. o may be nil.
func Take(o *Opts) *Inventory {
	var opts Opts
	if o != nil {
		opts = *o
	}
	root := cmp.Or(opts.Root, "/")
	if opts.SerialPorts == nil && filepath.Clean(root) == "/" {
		opts.SerialPorts = detailedPorts
	}
	t := tree{root: root}
	inv := &Inventory{Root: os.Geteuid() == 0}
	if u, err := user.Current(); err == nil {
		inv.User = u.Username
	} else {
		inv.User = "uid " + strconv.Itoa(os.Geteuid())
	}
	inv.Serial = t.serialPorts(opts.SerialPorts, inv.User, &inv.Problems)
	inv.Input = t.inputDevices(inv.User, &inv.Problems)
	inv.GPIO = t.gpioChips(inv.User)
	inv.SPI = t.spiBuses(inv.User)
	// Empty lists, not null, in JSON.
	inv.Serial = nonNil(inv.Serial)
	inv.Input = nonNil(inv.Input)
	inv.GPIO = nonNil(inv.GPIO)
	inv.SPI = nonNil(inv.SPI)
	return inv
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// tree reads the gateway's files under root.
type tree struct{ root string }

// path returns where the gateway path p is on this machine.
func (t tree) path(p string) string { return filepath.Join(t.root, p) }

// links maps each target (a gateway path) to the links pointing at it from
// the gateway directory dir, sorted. A missing directory has no links.
func (t tree) links(dir string, problems *[]string) map[string][]string {
	entries, err := os.ReadDir(t.path(dir))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*problems = append(*problems, fmt.Sprintf("reading %s: %v", dir, err))
		}
		return nil
	}
	out := map[string][]string{}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		link := filepath.Join(dir, e.Name())
		target, err := os.Readlink(t.path(link))
		if err != nil {
			continue
		}
		target = resolve(dir, target)
		out[target] = append(out[target], link)
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out
}

// resolve returns the gateway path a link in gateway directory dir points
// at. udev links point straight at device nodes, so one level is enough.
func resolve(dir, target string) string {
	if filepath.IsAbs(target) {
		return filepath.Clean(target)
	}
	return filepath.Join(dir, target)
}

// glob returns the gateway paths matching pattern (a gateway path), in
// natural order (gpiochip2 before gpiochip10).
func (t tree) glob(pattern string) []string {
	matches, _ := filepath.Glob(t.path(pattern)) // the only error is a bad pattern
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		rel, err := filepath.Rel(t.root, m)
		if err != nil {
			continue
		}
		out = append(out, "/"+filepath.ToSlash(rel))
	}
	slices.SortFunc(out, naturalCompare)
	return out
}

// naturalCompare orders strings with embedded numbers by value: ttyS2
// before ttyS10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// digits returns the length of the run of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
