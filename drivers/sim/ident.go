package sim

import (
	"fmt"
	"math/rand/v2"
)

// Member identifiers.
//
// Barcodes are EAN-13 restricted circulation numbers: GS1 reserves the
// prefixes 040 to 049 for numbers a company assigns for its own use, so
// these codes can never collide with a product's GTIN. The demo uses
//
//	041 nnnnnnnnn c   loyalty card         (nine-digit card number)
//	049 nnnnnnnnn c   personal shopping list (nine-digit list number)
//
// where c is the GS1 mod-10 check digit. Card and list numbers are random,
// not derived from the member id, as a real card issuer's would be.
//
// Card UIDs are ISO/IEC 14443-3 UIDs as a reader reports them: most are
// 7-byte UIDs of NXP tags (NTAG, MIFARE Ultralight, DESFire), whose first
// byte is NXP's manufacturer code 0x04; the rest are 4-byte single-size UIDs
// of older MIFARE Classic cards, avoiding the cascade tag 0x88 and the
// random-ID prefix 0x08 (cards that change UID on every read).
const (
	loyaltyPrefix = "041"
	listPrefix    = "049"
	// sevenByteShare is the share of cards with 7-byte UIDs.
	sevenByteShare = 0.85
)

// checkDigit returns the GS1 mod-10 check digit of digits (the code without
// its check digit): digits are weighted 3 and 1 alternately starting with 3
// at the rightmost one; the check digit brings the sum to a multiple of 10.
func checkDigit(digits string) byte {
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// validEAN13 reports whether code is 13 digits with a correct check digit.
func validEAN13(code string) bool {
	if len(code) != 13 {
		return false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return checkDigit(code[:12]) == code[12]
}

// ean13 returns the EAN-13 of prefix and a number filling the nine digits
// after it, with its check digit.
func ean13(prefix string, n int) string {
	s := fmt.Sprintf("%s%09d", prefix, n)
	return s + string(checkDigit(s))
}

// randomUID returns a card UID: 7 bytes starting 0x04 with probability
// sevenByteShare, else 4 bytes.
func randomUID(r *rand.Rand) []byte {
	if r.Float64() < sevenByteShare {
		uid := make([]byte, 7)
		uid[0] = 0x04
		fillRandom(r, uid[1:])
		return uid
	}
	uid := make([]byte, 4)
	for {
		fillRandom(r, uid)
		if uid[0] != 0x88 && uid[0] != 0x08 {
			return uid
		}
	}
}

func fillRandom(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
}

// uniqueUID returns a UID not in taken and adds it.
func uniqueUID(r *rand.Rand, taken map[string]bool) []byte {
	for {
		uid := randomUID(r)
		if !taken[string(uid)] {
			taken[string(uid)] = true
			return uid
		}
	}
}

// uniqueNumber returns a nine-digit number not in taken and adds it.
func uniqueNumber(r *rand.Rand, taken map[int]bool) int {
	for {
		n := r.IntN(1_000_000_000)
		if !taken[n] {
			taken[n] = true
			return n
		}
	}
}
