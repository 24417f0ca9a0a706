// Package inventory lists the devices a gateway can reach, and the names to
// put in the configuration for them. It backs `redcarpet devices`, the
// installer's first command on a new gateway.
//
// Four families are listed:
//
//	serial ports   go.bug.st/serial's enumerator (name, USB VID/PID, serial
//	               number, manufacturer, product) joined with the udev links
//	               /dev/serial/by-id and by-path and the Raspberry Pi's
//	               /dev/serial0 and /dev/serial1. The by-id link is the name
//	               to configure: ttyUSB numbers change with the plugging
//	               order, the by-id name follows the adapter.
//	input devices  /proc/bus/input/devices (name, phys, uniq, handlers,
//	               bus/vendor/product, capability bits) joined with
//	               /dev/input/by-id and by-path. Devices that type like a
//	               keyboard (a kbd handler, digit and Enter keys) are
//	               flagged: USB barcode scanners and RFID readers in
//	               keyboard-wedge mode show up as keyboards.
//	GPIO chips     /dev/gpiochip* with the name, label and line count of the
//	               GPIO_GET_CHIPINFO ioctl and each line's name and consumer
//	               (GPIO_V2_GET_LINEINFO), as gpioinfo shows them. The line
//	               names ("GPIO17") are what pin fields take.
//	SPI buses      /dev/spidev<bus>.<cs>, with periph's alias SPI<bus>.<cs>.
//
// For every device node it says whether the current user can open it and,
// when not, what to change (a group such as dialout, input, gpio or spi, or
// a udev rule).
//
// Nothing here opens a device for I/O: serial ports and input devices are
// only stat'ed (the enumerator briefly opens /dev/ttyS* ports to tell real
// UARTs from placeholders), GPIO chips are opened read-only for the two
// information ioctls, which claim no line.
//
// Missing directories are not errors: a machine without GPIO has no
// /dev/gpiochip*, and an empty list is the answer. What could not be read
// for another reason is reported in Inventory.Problems. Opts.Root makes the
// whole tree relocatable, so tests run on fixtures.
package inventory
