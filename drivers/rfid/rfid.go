// Package rfid holds what every RFID reader driver shares: the card-id
// conventions and the debouncer. The chip and protocol drivers live in the
// subpackages mfrc522 (ISO 14443 over SPI), em4100 (125 kHz serial readers
// such as the RDM6300) and wiegand (Wiegand 26/34 on two GPIO lines).
//
// # Card ids
//
// A driver emits edge.CardRead{UID} with the bytes the member store indexes,
// so one physical card resolves to one member whatever reader reads it:
//
//	mfrc522      the ISO 14443 UID as read: 4 or 7 bytes (periph's driver
//	             stops at cascade level 2, so 10-byte UIDs are rejected)
//	em4100       the 32-bit tag id, 4 bytes big-endian (the number printed
//	             on fobs in decimal); the version byte is not part of it
//	wiegand 26   facility code and card number: 3 bytes (FC, CN high, CN low)
//	wiegand 34   the 32 data bits: 4 bytes (the tag id for EM4100 readers)
//	wedge        a decimal number as 4 bytes big-endian when it fits in 32
//	             bits, else 7 bytes; hex as typed (3 to 10 bytes)
package rfid

import (
	"sync"
	"time"
)

// Debouncer turns a stream of sightings into one read per presentation. A
// reader that keeps seeing a resting card reports it over and over (the
// MFRC522 re-reads it every poll, an RDM6300 repeats its frame about every
// 250 ms); the card is reported again only after it was out of sight for
// Window. Every sighting, reported or not, extends the presence.
type Debouncer struct {
	Window time.Duration

	mu   sync.Mutex
	last map[string]time.Time // card → last sighting
}

// NewDebouncer returns a debouncer with the given window. A zero window
// reports every sighting.
func NewDebouncer(window time.Duration) *Debouncer {
	return &Debouncer{Window: window, last: map[string]time.Time{}}
}

// Seen records a sighting of uid at now and reports whether it starts a new
// presentation.
func (d *Debouncer) Seen(uid []byte, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := string(uid)
	prev, ok := d.last[k]
	d.last[k] = now
	if len(d.last) > 64 {
		for c, t := range d.last { // forget cards long gone
			if now.Sub(t) >= d.Window {
				delete(d.last, c)
			}
		}
	}
	return !ok || now.Sub(prev) >= d.Window || now.Before(prev)
}
