package hid

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evdev ioctls (linux/input.h; x/sys/unix defines none). The numbers use the
// asm-generic encoding of arm, arm64, x86, riscv64 and loong64.
const (
	eviocgrab    = 0x40044590 // _IOW('E', 0x90, int): grab (1) or release (0)
	eviocgname   = 0x81004506 // _IOC(_IOC_READ, 'E', 0x06, 256): the device name
	eviocNameLen = 256
)

// Device is an opened evdev input device, grabbed so that what it types
// reaches no console or other program. Read returns whole input_event
// records (the buffer must hold at least one); Close releases the grab and
// ends a pending Read. Safe for one reader and concurrent Close.
type Device struct {
	f    *os.File
	name string
}

// Open opens the evdev device at path (/dev/input/eventN; prefer the stable
// /dev/input/by-id/…-event-kbd link) for reading and grabs it. The daemon's
// user needs read access: on Raspberry Pi OS, membership of group input.
func Open(path string) (*Device, error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, openError(path, err)
	}
	d := &Device{f: f}
	if err := d.ioctl(func(fd int) error { return unix.IoctlSetInt(fd, eviocgrab, 1) }); err != nil {
		f.Close()
		return nil, grabError(path, err)
	}
	var name [eviocNameLen]byte
	_ = d.ioctl(func(fd int) error { // the name only makes messages better
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), eviocgname, uintptr(unsafe.Pointer(&name[0])))
		if errno != 0 {
			return errno
		}
		return nil
	})
	n, _, _ := bytes.Cut(name[:], []byte{0})
	d.name = string(n)
	return d, nil
}

// ioctl runs op on the device's descriptor.
func (d *Device) ioctl(op func(fd int) error) error {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = op(int(fd)) }); err != nil {
		return err
	}
	return opErr
}

// openError explains why an input device did not open.
func openError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("open input device %s: %w (unplugged, or a wrong path: configure its /dev/input/by-id/…-event-kbd link)", path, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("open input device %s: %w (add the daemon's user to the input group, e.g. SupplementaryGroups=input in its systemd unit)", path, err)
	}
	return fmt.Errorf("open input device %s: %w", path, err)
}

// grabError explains why an input device could not be grabbed.
func grabError(path string, err error) error {
	switch {
	case errors.Is(err, unix.ENOTTY), errors.Is(err, unix.EINVAL):
		return fmt.Errorf("grab input device %s: %w (not an evdev device: configure /dev/input/eventN or its by-id link)", path, err)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("grab input device %s: %w (another program has grabbed it)", path, err)
	}
	return fmt.Errorf("grab input device %s: %w", path, err)
}

// Name returns the name the device reports, such as "Honeywell Imaging &
// Mobility 1900"; "" if it reports none.
func (d *Device) Name() string { return d.name }

// Read reads whole input_event records into p, which must hold at least one
// (RecordSize bytes). It blocks until the device has events. When the device
// is unplugged it fails with ENODEV; after Close, with os.ErrClosed; past a
// read deadline, with os.ErrDeadlineExceeded.
func (d *Device) Read(p []byte) (int, error) { return d.f.Read(p) }

// SetReadDeadline sets the deadline of pending and future Reads; a zero t
// means none.
func (d *Device) SetReadDeadline(t time.Time) error { return d.f.SetReadDeadline(t) }

// Close releases the grab and closes the device, ending a pending Read.
func (d *Device) Close() error {
	// Closing would release the grab too; an unplugged device refuses.
	_ = d.ioctl(func(fd int) error { return unix.IoctlSetInt(fd, eviocgrab, 0) })
	return d.f.Close()
}
