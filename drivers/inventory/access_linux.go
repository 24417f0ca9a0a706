package inventory

import (
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// access checks the gateway node p for the current user (called name in
// hints) as a driver of family f opens it: with the effective ids, groups
// and ACLs (faccessat with AT_EACCESS), as open(2) would.
func (t tree) access(p string, f family, name string) Access {
	real := t.path(p)
	fi, err := os.Stat(real)
	if err != nil {
		return Access{Hint: "cannot check access: " + err.Error()}
	}
	a := Access{
		Mode:     fi.Mode().String(),
		Readable: unix.Faccessat(unix.AT_FDCWD, real, unix.R_OK, unix.AT_EACCESS) == nil,
		Writable: unix.Faccessat(unix.AT_FDCWD, real, unix.W_OK, unix.AT_EACCESS) == nil,
	}
	var group string
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner := strconv.FormatUint(uint64(st.Uid), 10)
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username
		}
		group = strconv.FormatUint(uint64(st.Gid), 10)
		if g, err := user.LookupGroupId(group); err == nil {
			group = g.Name
		}
		a.Owner = owner + ":" + group
	}
	a.Hint = hint(a, f, name, group, fi.Mode().Perm())
	return a
}
