package inventory

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gpioLineFlagUsed is GPIO_V2_LINE_FLAG_USED (linux/gpio.h): the line is
// requested by someone.
const gpioLineFlagUsed = 1 << 0

// describeChip fills c with GPIO_GET_CHIPINFO and, per line,
// GPIO_V2_GET_LINEINFO. Both only read; no line is requested.
func (t tree) describeChip(c *GPIOChip) error {
	f, err := os.OpenFile(t.path(c.Path), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var (
		info  unix.GPIOChipInfo
		ioErr error
	)
	if err := raw.Control(func(fd uintptr) {
		ioErr = ioctl(fd, unix.GPIO_GET_CHIPINFO_IOCTL, unsafe.Pointer(&info))
		if ioErr != nil {
			return
		}
		for off := uint32(0); off < info.Lines && off < maxLines; off++ {
			li := unix.GPIOV2LineInfo{Offset: off}
			if ioctl(fd, unix.GPIO_V2_GET_LINEINFO_IOCTL, unsafe.Pointer(&li)) != nil {
				continue // e.g. a kernel before 5.10 (no v2 ABI): lines stay unnamed
			}
			if name := cString(li.Name[:]); !unnamed(name) {
				c.Named = append(c.Named, GPIOLine{Offset: int(off), Name: name,
					Consumer: cString(li.Consumer[:]), Used: li.Flags&gpioLineFlagUsed != 0})
			}
		}
	}); err != nil {
		return err
	}
	if ioErr != nil {
		return ioErr
	}
	c.Name, c.Label, c.Lines = cString(info.Name[:]), cString(info.Label[:]), int(info.Lines)
	return nil
}

// ioctl calls ioctl(2) with a pointer argument.
func ioctl(fd uintptr, req uint, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}
