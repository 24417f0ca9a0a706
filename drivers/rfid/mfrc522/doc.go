// Package mfrc522 reads the UIDs of ISO/IEC 14443-3 type A cards (MIFARE
// Classic, Ultralight, NTAG, DESFire…) presented to an NXP MFRC522 on SPI,
// and sends one edge.KindCardRead event per presentation. It wraps
// periph.io/x/devices/v3/mfrc522 (v3.7.4), which speaks the chip's register
// protocol, and handles what that driver leaves to its caller.
//
// # Datasheet
//
// NXP MFRC522 "Standard performance MIFARE and NTAG frontend", product data
// sheet Rev. 3.9 (27 April 2016): https://www.nxp.com/docs/en/data-sheet/MFRC522.pdf.
// The card protocol (REQA/ATQA, anticollision, SELECT, cascade levels, BCC,
// CRC_A) is ISO/IEC 14443-3.
//
// # Wiring
//
// SPI mode 0 at up to 10 MHz (SDA to CE0 for /dev/spidev0.0), NRSTPD to a
// GPIO given as the reset pin, IRQ to a GPIO given as the IRQ pin, 3.3 V
// only. The caller opens the port and resolves the pins (spireg.Open and
// gpioreg.ByName after host.Init) and keeps ownership of them.
//
// # The loop
//
// Run is the only goroutine that talks to the chip. Each attempt is one
// periph ReadUID(PollTimeout): the chip is soft-reset and re-initialised,
// switches its field on and sends REQA every 100 ms until a card answers,
// which raises IRQ, or PollTimeout passes. After an answer periph re-inits,
// sends REQA, runs anticollision and SELECT on cascade level 1 (93 20,
// 93 70) and, when the first UID byte is the cascade tag 0x88, anticollision
// on level 2 (95 20), giving a 4- or 7-byte UID. An attempt ends one of five
// ways:
//
//   - a UID: reported if it starts a presentation (below), then Run rests
//     for Rest;
//   - a timeout: no card; the attempt took PollTimeout, and the next starts
//     at once;
//   - a garbled exchange (a wrong BCC, periph's "CRC mismatch"; "wrong
//     number of bits"; a UID periph could not complete): counted in the
//     Meter as a reject, and the next attempt waits 50 ms, doubling with
//     every consecutive failure up to 1 s;
//   - a card that answered REQA and then fell silent (periph's "IRQ error",
//     the chip's timer expiring): a card leaving the field, not a reject,
//     with the same growing pause;
//   - or an SPI transfer error, which ends Run with an error: the daemon
//     reports the device down and reopens it with backoff.
//
// # Debounce
//
// Every attempt power-cycles the card (the soft reset switches the field
// off) and periph never sends HLTA, so a card resting on the reader is read
// again on every attempt, about every Rest. Run passes every read through an
// rfid.Debouncer: a card is reported when first seen and again only after it
// was out of sight for Debounce. Every sighting extends the presentation, so
// a card left on the reader is reported once, however long it stays. Rest
// must be shorter than Debounce, and a run of failed reads longer than
// Debounce counts as the card being gone.
//
// # Pitfalls handled
//
// IRQ is mandatory. periph's ReadUID waits for the IRQ edge in its own
// goroutine and dereferences the pin there: with a nil pin the whole process
// crashes. New refuses a nil IRQ pin.
//
// WaitForEdge(0). periph's ClearInterrupt calls WaitForEdge(0) to drop a
// pending edge without waiting, but on a Raspberry Pi with host v3.8.5 the
// pin is a gpioioctl line, for which 0 means "wait forever"
// (periph/host#78): ReadUID would hang after a read with no second edge
// queued. The pin periph gets turns 0 into 1 ms.
//
// Stale IRQ edges. The chip raises IRQ more than once per read and the
// kernel queues every edge, so an edge can be left over when an attempt
// ends; it would end the next attempt's wait at once, with no card there.
// Run discards pending edges before each attempt: up to 16, then it stops
// at the first 1 ms without one.
//
// No presence check. periph's NewSPI succeeds when MISO reads 0x00 and fails
// with "can not set the bitmask for antenna" when it reads 0xFF
// (google/periph#222). New reads VersionReg (0x37) and fails with an error
// wrapping ErrNoAnswer for 0x00 or 0xFF, whichever way periph went. Known
// versions are 0x91 (v1.0), 0x92 (v2.0), 0x88 (FM17522 clone) and 0x12 (a
// counterfeit, which works); any other answer is accepted too. Reader.Version
// describes it.
//
// Oscillator start-up. periph drives NRSTPD high and writes to the chip at
// once; a chip leaving hard power-down needs its crystal running first
// (datasheet §8.8.2). New drives NRSTPD high and waits 50 ms before.
//
// Halt. periph's Halt closes a channel and panics when called twice; called
// during a ReadUID it leaks the goroutine waiting for IRQ, and with WithSync
// it blocks until ReadUID times out. Run halts the chip once, after its loop
// has left ReadUID; Close is idempotent, stops a running Run and waits for
// it. WithSync is not used: nothing calls periph concurrently.
//
// Errors. periph exports no sentinel errors. Run tells a failing bus from a
// failing card by counting failed transfers on the SPI connection it hands
// periph, and recognises "no card" by two error texts of v3.7.4 ("timeout
// waiting for IRQ edge", "IRQ error"), pinned by the tests.
//
// Bus failures. When a transfer fails while ReadUID waits for a card,
// periph returns without collecting the goroutine that waits for IRQ: it
// waits out PollTimeout on the pin and then blocks for good. Run ends at
// the first failed transfer, so that is one small leak per bus failure; a
// Reader opened again on the same pin may lose one IRQ edge to it, which
// costs one attempt.
//
// 10-byte UIDs. periph stops after cascade level 2, so a triple-size UID
// comes back as 7 bytes whose fourth is the cascade tag 0x88. Run rejects it
// (drivers.RejectFormat) rather than report a truncated id.
//
// Privacy. The driver never logs a UID; events carry a copy in
// edge.CardRead, which is never serialised.
//
// # Tests
//
// The tests run periph's real driver against mfrc522test, a register-level
// emulator of the chip and a card, with the IRQ line on a gpiotest.Pin, and
// check the bus-level init sequence with spitest.Playback.
package mfrc522
