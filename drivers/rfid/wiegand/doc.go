// Package wiegand decodes Wiegand 26 and 34 card readers wired to two GPIO
// inputs, D0 and D1.
//
// # Interface
//
// Sources: the SIA Access Control Standard Protocol for the 26-Bit Wiegand
// Reader Interface (SIA AC-01) timing, as quoted in reader manuals (ZKTeco,
// TDSi, Promag WEC200); HID's H10301 26-bit format; the Promag/HID H10306
// style 34-bit format; the kernel's GPIO character device documentation for
// edge events.
//
// Both lines idle high. The reader sends each bit as a low pulse on D0 for
// a 0 or on D1 for a 1, most significant bit first; pulses never overlap.
// SIA timing: pulse width 20 to 100 µs, pulse interval 200 µs to 20 ms;
// readers typically send 50 µs pulses 1 to 2 ms apart. There is no end
// marker: a frame ends when the lines stay idle.
//
// # Formats
//
// Bit 1 is the first bit received.
//
// 26 bits, HID H10301: an even parity bit over bits 2 to 13, an 8-bit
// facility code (bits 2 to 9), a 16-bit card number (bits 10 to 25), an odd
// parity bit over bits 14 to 25. Facility code 123, card number 4567:
//
//	P FFFFFFFF CCCCCCCCCCCCCCCC P
//	1 01111011 0001000111010111 0   = 0x2F623AE
//
// Bits 2 to 13 (01111011 0001) hold seven ones, so the even parity bit is 1;
// bits 14 to 25 (000111010111) hold seven ones, so the odd parity bit is 0.
//
// 34 bits: an even parity bit over bits 2 to 17, 32 data bits (bits 2 to
// 33: a 16-bit facility code and a 16-bit card number in the H10306 layout,
// the tag id for readers of EM4100 and many 13.56 MHz cards), an odd parity
// bit over bits 18 to 33. Data 0x00BC614E (an EM4100 fob printed
// 0012345678):
//
//	P DDDDDDDDDDDDDDDD DDDDDDDDDDDDDDDD P
//	1 0000000010111100 0110000101001110 0   = 0x20178C29C
//
// 0x00BC holds five ones (even parity bit 1), 0x614E seven (odd parity bit
// 0).
//
// The card id sent in edge.CardRead follows package rfid: 3 bytes for 26
// bits (facility code, card number high byte, low byte), the 4 data bytes
// for 34 bits, big-endian. Other lengths (4-, 8-bit keypad codes, 35- and
// 37-bit corporate formats) are rejected, counted as drivers.RejectBits.
//
// # Decoding
//
// Decoder is pure: it takes edges and their times and returns frames; Frame
// checks length and parity. Its rules:
//
//   - Every falling edge is one bit: D0 (line 0) a 0, D1 (line 1) a 1. Rising
//     edges carry no bit; when the source reports them they tell the
//     decoder the line went back to idle.
//   - A frame ends after FrameGap without a bit (default 25 ms, above SIA's
//     20 ms maximum pulse interval and far below the time between two card
//     presentations). The end is detected either by the silence (the Reader
//     asks its source for the next edge with the remaining gap as timeout)
//     or by the time of the next bit, whichever comes first.
//   - A frame cut by a pause longer than FrameGap becomes two frames; a frame
//     of 26 or 34 bits passing its parity checks is accepted whatever
//     its history, everything else is rejected: two partial frames are two
//     rejects. Parity catches any single lost, extra or flipped bit (a lost
//     or extra bit changes the length).
//   - Glitches cannot be told from pulses by width (periph's LineSet drops
//     the kernel's timestamps), so a glitch is a bit and makes its frame fail
//     the checks.
//   - Overlapping pulses (a falling edge while the other line is still low)
//     break the protocol: the frame is rejected (drivers.RejectFraming). The
//     decoder can only see this when the source reports rising edges
//     (gpio.BothEdges through a LineSet); with falling edges only it assumes
//     each pulse ended. A line held low, such as a reader disconnected from
//     lines with pull-downs, sends no further edges and so no further
//     frames.
//   - A frame longer than MaxBits (64) is noise: it is rejected once when it
//     reaches 65 bits and the decoder ignores the lines until they are quiet
//     for FrameGap, so a noisy line cannot make it buffer or report a
//     rejection per edge.
//
// # Reader
//
// Reader runs a Decoder over a gpiopair.Source and sends one
// edge.KindCardRead event per presentation of a card: some readers repeat a
// card's frame while it stays in the field, and an rfid.Debouncer folds the
// repeats (Opts.Debounce, default 1.5 s).
//
// Wiring: the reader is powered from 12 V and drives 5 V open-collector
// data lines; connect D0 and D1 through level shifters or opto-isolators
// that keep the pulses low-going at the GPIO inputs. Open the source with
// falling-edge detection and pull-ups, one request for both lines so the
// kernel orders the bits:
//
//	src, err := gpiopair.OpenLineSet(d0, d1, gpio.PullUp, gpio.FallingEdge)
//
// gpiopair.FromPins works with any periph pin but orders the two lines by
// arrival in user space, which a loaded system can get wrong for pulses
// 1 to 2 ms apart.
package wiegand
