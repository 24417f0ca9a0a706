package inventory

import (
	"fmt"
	"io/fs"
)

// Access is what the current user may do with a device node.
type Access struct {
	Readable bool   `json:"readable"`
	Writable bool   `json:"writable"`
	Owner    string `json:"owner,omitempty"` // user:group of the node
	Mode     string `json:"mode,omitempty"`  // as ls shows it: "crw-rw----"
	// Hint says what to change when the current user cannot open the node
	// the way its driver does; empty when it can.
	Hint string `json:"hint,omitempty"`
}

// family is how a driver opens a kind of node, and the group that usually
// grants it on Raspberry Pi OS.
type family struct {
	write     bool   // the driver opens the node read-write
	group     string // the usual group: dialout, input, gpio, spi
	subsystem string // the udev subsystem, for a rule
}

var (
	serialFamily = family{write: true, group: "dialout", subsystem: "tty"}
	inputFamily  = family{write: false, group: "input", subsystem: "input"}
	gpioFamily   = family{write: false, group: "gpio", subsystem: "gpio"}
	spiFamily    = family{write: true, group: "spi", subsystem: "spidev"}
)

// hint explains how to give user access to a node owned by group with
// permissions perm, when a lacks what f needs.
func hint(a Access, f family, user, group string, perm fs.FileMode) string {
	var what string
	switch {
	case !a.Readable && f.write && !a.Writable:
		what = "not readable or writable"
	case !a.Readable:
		what = "not readable"
	case f.write && !a.Writable:
		what = "not writable"
	default:
		return ""
	}
	need := fs.FileMode(0o040)
	if f.write {
		need |= 0o020
	}
	if group != "" && group != "root" && perm&need == need {
		return fmt.Sprintf("%s by %s: add the user to the %s group (sudo usermod -aG %s %s, then log in again; for the service: SupplementaryGroups=%s)",
			what, user, group, group, user, group)
	}
	return fmt.Sprintf("%s by %s: only its owner can open it (%s %s); add a udev rule such as SUBSYSTEM==\"%s\", GROUP=\"%s\", MODE=\"0660\", then add the user to the %s group",
		what, user, perm, cmpOr(group, "?"), f.subsystem, f.group, f.group)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
