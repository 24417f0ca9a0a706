package hid

import (
	"strings"
	"unsafe"
)

// RecordSize is the size of a struct input_event for this process: 24 bytes
// on 64-bit systems, 16 on 32-bit ones.
const RecordSize = int(2*unsafe.Sizeof(uintptr(0)) + 8)

// Event types and codes (linux/input-event-codes.h).
const (
	evSyn = 0x00
	evKey = 0x01

	synReport  = 0
	synDropped = 3

	keyRelease = 0
	keyPress   = 1
	// keyRepeat = 2: autorepeat, ignored
)

// Key codes the decoder treats specially.
const (
	keyEnter      = 28
	keyLeftCtrl   = 29
	keyLeftShift  = 42
	keyRightShift = 54
	keyLeftAlt    = 56
	keyCapsLock   = 58
	keyNumLock    = 69
	keyScrollLock = 70
	keyKPEnter    = 96
	keyRightCtrl  = 97
	keyRightAlt   = 100
	keyLeftMeta   = 125
	keyRightMeta  = 126
	keyRightBrace = 27

	btnMisc = 0x100 // codes from here on are buttons, not keys
)

// keyChar describes what a key types in the US layout.
type keyChar struct {
	plain, shifted byte
	letter         bool // Caps Lock inverts Shift
	keypad         int8 // the digit of a keypad digit key, else -1
}

// usLayout maps key codes to the characters they type in the US layout;
// unlisted keys type nothing.
var usLayout = func() (m [btnMisc]keyChar) {
	for i := range m {
		m[i].keypad = -1
	}
	row := func(first int, plain, shifted string) {
		for i := range len(plain) {
			m[first+i].plain, m[first+i].shifted = plain[i], shifted[i]
		}
	}
	letters := func(first int, s string) {
		row(first, s, strings.ToUpper(s))
		for i := range len(s) {
			m[first+i].letter = true
		}
	}
	row(2, "1234567890-=", "!@#$%^&*()_+") // KEY_1 … KEY_EQUAL
	letters(16, "qwertyuiop")              // KEY_Q … KEY_P
	row(26, "[]", "{}")                    // KEY_LEFTBRACE, KEY_RIGHTBRACE
	letters(30, "asdfghjkl")               // KEY_A … KEY_L
	row(39, ";'`", ":\"~")                 // KEY_SEMICOLON, KEY_APOSTROPHE, KEY_GRAVE
	row(43, "\\", "|")                     // KEY_BACKSLASH
	letters(44, "zxcvbnm")                 // KEY_Z … KEY_M
	row(51, ",./", "<>?")                  // KEY_COMMA, KEY_DOT, KEY_SLASH
	row(57, " ", " ")                      // KEY_SPACE
	// The keypad, unaffected by Shift.
	for code, c := range map[int]byte{
		55: '*', 71: '7', 72: '8', 73: '9', 74: '-', 75: '4', 76: '5', 77: '6',
		78: '+', 79: '1', 80: '2', 81: '3', 82: '0', 83: '.', 98: '/',
	} {
		m[code].plain, m[code].shifted = c, c
		if '0' <= c && c <= '9' {
			m[code].keypad = int8(c - '0')
		}
	}
	return m
}()

// gs is the ASCII group separator: FNC1 as a GS1 scanner types it.
const gs = 0x1D

// lineChar reports whether c may appear in a line.
func lineChar(c byte) bool { return c == gs || 0x20 <= c && c <= 0x7E }
