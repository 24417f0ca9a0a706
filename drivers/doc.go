// Package drivers holds one package per device family. A driver turns bytes
// and edges into edge.Event values and nothing more: it never decides
// business things.
//
// Every driver has the same shape (see STYLE.md):
//
//	type Opts struct{ … }            // documented defaults
//	func New(…already opened interfaces…, o *Opts) (*Reader, error)
//	func (r *Reader) Run(ctx context.Context, out chan<- edge.Event) error
//
// Run returns nil when ctx ends; any other return is a device failure that
// the daemon reports (a device.status event, metrics, /readyz) before
// restarting the driver with backoff. Drivers never open devices by name:
// cmd/redcarpet does, after the whole configuration validated.
//
// Families:
//
//	rfid              card ids and the debouncer every reader shares
//	rfid/mfrc522      ISO 14443 readers (MFRC522) over SPI, IRQ-driven
//	rfid/em4100       125 kHz serial readers (RDM6300, ID-12/ID-20)
//	rfid/wiegand      Wiegand 26 and 34 readers on two GPIO lines
//	hid               USB keyboard-wedge devices through evdev (card readers)
//	scanner           barcode decoding and classification; serial and wedge scanners
//	gpiopair          time-ordered edges from two GPIO lines
//	door/beams        dual infrared beams on two GPIO lines
//	door/counter      HTTP push endpoint of commercial people counters
//	inventory         what the machine has, for `redcarpet devices`
//	sim               a seeded simulation of a trading day (the demo)
//
// Every driver counts the input it rejects on its Meter, by reason; the
// daemon counts what it accepts, and each device's reconnects.
package drivers
