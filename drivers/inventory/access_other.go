//go:build !linux

package inventory

import "os"

// access reports what the mode bits allow anyone; gateways run Linux, where
// the real check is made.
func (t tree) access(p string, f family, name string) Access {
	fi, err := os.Stat(t.path(p))
	if err != nil {
		return Access{Hint: "cannot check access: " + err.Error()}
	}
	perm := fi.Mode().Perm()
	return Access{Mode: fi.Mode().String(), Readable: perm&0o004 != 0, Writable: perm&0o002 != 0}
}
