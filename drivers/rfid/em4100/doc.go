// Package em4100 drives 125 kHz RFID readers that report EM4100 tags over a
// serial line: the RDM6300 / RDM630 modules and ID Innovations ID-12 / ID-20
// style readers.
//
// # Protocol
//
// Sources: the Seeed RDM630 datasheet summary (Seeed-Studio wiki-documents,
// docs/125Khz_RFID_module-UART.md: 9600 bps, 8N1, TX only) and the EM4100
// tag format (a 40-bit id: an 8-bit version or customer code and a 32-bit
// tag id). While a tag stays in the field the reader sends this frame again
// and again, about every 250 ms:
//
//	0x02 | 10 ASCII hex digits: the 5 data bytes | 2 ASCII hex digits: checksum | 0x03
//	STX    version, tag id (big-endian)             XOR of the 5 data bytes        ETX
//
// ID-12 / ID-20 style readers put CR LF (0x0D 0x0A) before the ETX. Hex
// digits may be upper or lower case. For example (Seeed's worked examples)
//
//	02 36 32 45 33 30 38 36 43 45 44 30 38 03       "62E3086CED" "08"
//	02 30 31 30 30 30 37 33 34 45 30 44 32 03       "01000734E0" "D2"
//
// the second is version 0x01 and tag id 0x000734E0 = 472288, the number
// printed on the fob ("0000472288").
//
// # Parsing
//
// Parser is a pure, incremental frame parser: it takes bytes however the
// serial port splits them, resynchronises on every STX, and drops (and
// reports) frames that are cut short, contain anything but hex digits, lack
// the ETX (or CR LF ETX) in its place or carry a wrong checksum. It holds at
// most one frame's worth of state, so noise never makes it buffer.
//
// # Reader
//
// Reader runs a Parser over an opened drivers.Port and sends one
// edge.KindCardRead event per presentation of a tag: repeated frames are
// folded by an rfid.Debouncer. The event's UID is the 32-bit tag id as 4
// bytes big-endian; the version byte is not part of it (see package rfid).
//
// Wiring: the module's TX pin goes to the gateway's RX through a 5 V to
// 3.3 V level shifter (the module drives 5 V TTL); the serial console must
// be disabled on that UART. Open the port with
// serial.Open(name, &serial.Mode{BaudRate: 9600}) from go.bug.st/serial; 8N1
// is its default.
package em4100
