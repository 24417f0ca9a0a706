package mfrc522

// cascadeTag starts a cascade level that is not the last one
// (ISO/IEC 14443-3 §6.5.4).
const cascadeTag = 0x88

// completeUID reports whether uid, as periph's ReadUID returns it, is a
// whole ISO/IEC 14443-3 UID: single size (4 bytes) or double size (7
// bytes). periph stops after the second cascade level, so a triple-size
// (10-byte) UID comes back as 7 bytes whose fourth is the cascade tag of the
// third level, a value ISO/IEC 14443-3 rules out for a real UID byte there.
// Such a truncated UID must not reach the member store: another card with
// the same first six bytes would read the same.
func completeUID(uid []byte) bool {
	switch len(uid) {
	case 4:
		return uid[0] != cascadeTag
	case 7:
		return uid[3] != cascadeTag
	}
	return false
}
