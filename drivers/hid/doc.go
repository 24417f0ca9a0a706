// Package hid drives USB HID keyboard-wedge devices, barcode scanners and
// RFID readers that type what they read, through Linux evdev.
//
// # Source
//
// linux/input.h and linux/input-event-codes.h (uapi); the layout below was
// checked with gcc against the installed headers. A device node
// /dev/input/eventN yields struct input_event records:
//
//	struct input_event {
//		struct timeval time;  // two C longs: seconds, microseconds
//		__u16 type;           // EV_SYN 0, EV_KEY 1, EV_MSC 4, …
//		__u16 code;           // KEY_A 30, KEY_ENTER 28, SYN_DROPPED 3, …
//		__s32 value;          // 0 release, 1 press, 2 autorepeat
//	};
//
// 24 bytes on 64-bit systems, 16 on 32-bit ARM (the kernel hands a 32-bit
// process the 32-bit layout on a 64-bit kernel too): RecordSize =
// 2*unsafe.Sizeof(uintptr(0)) + 8, in the machine's byte order. A HID
// keyboard sends EV_MSC/MSC_SCAN, then EV_KEY, then EV_SYN/SYN_REPORT for
// every key change.
//
// # Layers
//
//	Device       an opened, grabbed /dev/input/eventN (Open): an io.Reader
//	             of records whose Close unblocks a pending Read
//	Decoder      records → lines of text, US keyboard layout (pure)
//	Keyboard     Decoder over an io.Reader: Run(ctx, line) — the LineSource
//	             of wedge scanners and wedge RFID readers
//	CardReader   lines → edge.CardRead events (wedge_rfid devices)
//
// Only cmd/redcarpet calls Open; everything else takes interfaces.
//
// # Decoding
//
// The Decoder maps key presses (value 1) with the US layout, which is what
// scanners send by default; the scanner's keyboard layout setting must be
// US. It ignores releases and autorepeats except to track the modifiers:
// Shift (left and right), Ctrl, Alt and Caps Lock (toggled by its presses,
// starting off: the device is grabbed, so only its own keys count). Digits,
// letters, punctuation, space and the keypad's digits and operators type
// characters (keypad keys type digits whatever Num Lock says); Enter or
// keypad Enter ends a line. Two ways scanners type control characters are
// understood: Ctrl+] types GS (0x1D, the GS1 separator FNC1 becomes in
// keyboard mode), and holding Alt while typing a character code in decimal
// on the keypad ("Alt mode") types that character when Alt is released.
// Lines hold printable ASCII (0x20 to 0x7E) and GS only.
//
// A line is discarded, and the discard counted by reason, when
//
//	drivers.RejectDropped  the kernel dropped events (SYN_DROPPED): the rest
//	                       of the line is discarded too, up to its Enter
//	drivers.RejectFraming  it grows beyond the maximum length (512)
//	drivers.RejectFormat   it holds a key that types nothing the decoder
//	                       knows (Tab, Backspace, arrows, F-keys, another
//	                       Ctrl combination, an Alt code it does not allow)
//
// Empty lines are skipped.
//
// # Cancellation
//
// Keyboard.Run returns nil when its context ends, even while a Read is
// blocked, when its reader has a SetReadDeadline method (Device and
// *os.File do): Run then sets a deadline in the past to wake the Read. With
// another reader the caller must close it to end a blocked Read; Run then
// returns nil because its context has ended.
package hid
