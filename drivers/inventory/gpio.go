package inventory

import "fmt"

// GPIOChip is a GPIO controller (/dev/gpiochipN). On a Raspberry Pi the
// 40-pin header's lines belong to the pinctrl-… chip and are named GPIO0 to
// GPIO27 after their BCM numbers: the names pin fields take
// (beam_a_pin = "GPIO17").
type GPIOChip struct {
	Path  string `json:"path"`            // /dev/gpiochip0
	Name  string `json:"name,omitempty"`  // the kernel's name: "gpiochip0"
	Label string `json:"label,omitempty"` // the controller: "pinctrl-bcm2711", "pinctrl-rp1"
	Lines int    `json:"lines"`           // number of lines
	// Named are the lines that have a name, in offset order. Unnamed lines
	// cannot be configured by name.
	Named []GPIOLine `json:"named_lines,omitempty"`
	// Err is why the chip could not be described; the other fields but
	// Path and Access are then empty.
	Err    string `json:"error,omitempty"`
	Access Access `json:"access"`
}

// GPIOLine is one line of a chip.
type GPIOLine struct {
	Offset   int    `json:"offset"`
	Name     string `json:"name"`               // "GPIO17"
	Consumer string `json:"consumer,omitempty"` // who holds it, when used
	Used     bool   `json:"used"`               // requested by a driver or a program
}

// maxLines bounds the lines described per chip (a Pi has 54 to 58).
const maxLines = 1024

// gpioChips lists /dev/gpiochip*.
func (t tree) gpioChips(user string) []GPIOChip {
	var out []GPIOChip
	for _, p := range t.glob("/dev/gpiochip[0-9]*") {
		c := GPIOChip{Path: p, Access: t.access(p, gpioFamily, user)}
		if err := t.describeChip(&c); err != nil {
			c.Err = fmt.Sprintf("reading chip info: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// cString returns the NUL-terminated string in b.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// unnamed reports the placeholder names device trees give lines without a
// function; periph does not register them either.
func unnamed(name string) bool { return name == "" || name == "-" || name == "_" }
