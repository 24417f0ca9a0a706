package scanner

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors of decoding; Reason maps them to drivers reject reasons.
var (
	// ErrChecksum: a check digit is wrong. The scan is a misread.
	ErrChecksum = errors.New("wrong check digit")
	// ErrFormat: the data is not what its symbology carries, holds control
	// characters, is not UTF-8, or is empty.
	ErrFormat = errors.New("malformed barcode")
)

// Kind is what Parse recognised in a scan's data.
type Kind uint8

// Kinds.
const (
	Text  Kind = iota // anything else: passed on as it is, not verified
	EAN13             // 13 digits, check digit verified (EAN-13, or UPC-A as 13 digits)
	EAN8              // 8 digits, check digit verified
	UPCA              // 12 digits, check digit verified
	UPCE              // 8 digits (number system 0 or 1, 6 digits, check digit), verified on the UPC-A expansion
	AddOn             // a 2- or 5-digit EAN/UPC add-on sent on its own (]E1, ]E2)
	GS1               // GS1 element strings, parsed into Barcode.Elements
)

var kindNames = [...]string{Text: "text", EAN13: "EAN-13", EAN8: "EAN-8", UPCA: "UPC-A", UPCE: "UPC-E", AddOn: "add-on", GS1: "GS1"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Barcode is one parsed scan.
type Barcode struct {
	// Symbology is the AIM symbology identifier the scanner sent before the
	// data (such as "]E0"), or "" when it sent none.
	Symbology string
	Kind      Kind
	// Data is everything after the symbology identifier, as transmitted
	// (add-on included, GS separators included).
	Data string
	// GTIN is the scan's Global Trade Item Number as 14 digits, zero-padded
	// on the left (EAN-13 4006381333931 is 04006381333931; a UPC-E is
	// expanded first), for the EAN/UPC kinds, for GS1 element strings
	// holding AI 01, and for Text of 12 to 14 digits whose check digit is
	// right. "" otherwise.
	GTIN string
	// AddOn is the 2- or 5-digit add-on of an ]E3 scan (also in Data).
	AddOn string
	// Elements are the GS1 element strings, in order, for Kind GS1.
	Elements []Element
}

// gs1Symbologies are the AIM identifiers of symbols that carry GS1 element
// strings (FNC1 in first position): GS1-128, GS1 DataBar, GS1 DataMatrix,
// GS1 QR Code and GS1 DotCode (GS1 General Specifications figure 5.1.2-2,
// ISO/IEC 15424).
var gs1Symbologies = map[string]bool{"]C1": true, "]e0": true, "]d2": true, "]Q3": true, "]J1": true}

// SplitSymbology splits an AIM symbology identifier ("]" followed by a code
// character A-Z or a-z and a modifier character 0-9, A-Z or a-z) off the
// start of s. It returns "" and s when s does not start with one.
func SplitSymbology(s string) (id, data string) {
	if len(s) >= 3 && s[0] == ']' && isLetter(s[1]) && (isLetter(s[2]) || isDigit(s[2])) {
		return s[:3], s[3:]
	}
	return "", s
}

// Parse parses the data of one scan, after any configured prefix and suffix
// were removed. It splits off the AIM symbology identifier, recognises the
// kind of data and verifies what can be verified:
//
//	]E0          13 digits (EAN-13, or UPC-A / UPC-E sent as 13), 12 (UPC-A)
//	             or 8 (UPC-E); the check digit must be right
//	]E4          8 digits (EAN-8); the check digit must be right
//	]E3          EAN-13, UPC-A or UPC-E followed by a 2- or 5-digit add-on;
//	             the main number's check digit must be right
//	]E1, ]E2     a 2- or 5-digit add-on on its own
//	]C1 ]e0 ]d2  GS1 element strings (see ParseGS1): check digits of the
//	]Q3 ]J1      keys must be right
//	other ]cm    Text: the symbology has its own check
//	none         a leading GS makes GS1 element strings; 13, 12 or 8 digits
//	             must carry a right GTIN check digit (8 digits: as EAN-8, or
//	             else as UPC-E); anything else is Text
//
// Errors wrap ErrChecksum or ErrFormat and never contain the data. Data
// with control characters other than GS (0x1D), or that is not UTF-8, is
// rejected with ErrFormat.
func Parse(s string) (Barcode, error) {
	id, data := SplitSymbology(s)
	b := Barcode{Symbology: id, Data: data}
	if data == "" {
		return b, fmt.Errorf("empty scan: %w", ErrFormat)
	}
	if !utf8.ValidString(data) {
		return b, fmt.Errorf("not UTF-8: %w", ErrFormat)
	}
	if i := strings.IndexFunc(data, isControl); i >= 0 {
		return b, fmt.Errorf("control character at byte %d: %w", i, ErrFormat)
	}
	digits := allDigits(data)
	switch {
	case id == "]E0":
		if !digits {
			return b, fmt.Errorf("%s: not digits: %w", id, ErrFormat)
		}
		return b, b.setGTIN(data, true)
	case id == "]E4":
		if !digits || len(data) != 8 {
			return b, fmt.Errorf("%s: want 8 digits: %w", id, ErrFormat)
		}
		b.Kind = EAN8
		return b, b.verify(data)
	case id == "]E3":
		if !digits {
			return b, fmt.Errorf("%s: not digits: %w", id, ErrFormat)
		}
		var main int
		switch len(data) {
		case 13 + 2, 13 + 5:
			main = 13
		case 12 + 2, 12 + 5:
			main = 12
		case 8 + 2, 8 + 5:
			main = 8
		default:
			return b, fmt.Errorf("%s: %d digits is no number with add-on: %w", id, len(data), ErrFormat)
		}
		b.AddOn = data[main:]
		return b, b.setGTIN(data[:main], true)
	case id == "]E1" || id == "]E2":
		want := 2
		if id == "]E2" {
			want = 5
		}
		if !digits || len(data) != want {
			return b, fmt.Errorf("%s: want %d digits: %w", id, want, ErrFormat)
		}
		b.Kind = AddOn
		return b, nil
	case gs1Symbologies[id] || (id == "" && data[0] == GS):
		es, err := ParseGS1(data)
		if err != nil {
			return b, err
		}
		b.Kind, b.Elements = GS1, es
		for _, e := range es {
			if e.AI == "01" {
				b.GTIN = e.Value
				break
			}
		}
		return b, nil
	case id == "" && digits && (len(data) == 13 || len(data) == 12 || len(data) == 8):
		return b, b.setGTIN(data, false)
	}
	if digits && len(data) >= 12 && len(data) <= 14 && checkDigitOK(data) {
		b.GTIN = pad14(data)
	}
	return b, nil
}

// setGTIN sets Kind and GTIN for an EAN/UPC number of 13, 12 or 8 digits,
// verifying its check digit. With upcE, 8 digits are a UPC-E (the ]E0
// symbology); without, they are an EAN-8 or, failing its check digit, a
// UPC-E.
func (b *Barcode) setGTIN(n string, upcE bool) error {
	switch len(n) {
	case 13:
		b.Kind = EAN13
	case 12:
		b.Kind = UPCA
	case 8:
		if !upcE && checkDigitOK(n) {
			b.Kind = EAN8
			break
		}
		b.Kind = UPCE
		a, ok := expandUPCE(n)
		if !ok {
			if upcE {
				return fmt.Errorf("UPC-E: number system not 0 or 1: %w", ErrFormat)
			}
			return fmt.Errorf("EAN-8: %w", ErrChecksum)
		}
		return b.verify(a)
	default:
		return fmt.Errorf("%s: %d digits: %w", b.Symbology, len(n), ErrFormat)
	}
	return b.verify(n)
}

// verify checks the check digit of n, the kind's number (for UPC-E its
// UPC-A expansion), and sets GTIN.
func (b *Barcode) verify(n string) error {
	if !checkDigitOK(n) {
		return fmt.Errorf("%s: %w", b.Kind, ErrChecksum)
	}
	b.GTIN = pad14(n)
	return nil
}

// expandUPCE returns the 12-digit UPC-A a UPC-E of 8 digits (number system
// 0 or 1, six digits, check digit) stands for; the check digit is carried
// over. GS1 General Specifications section 5.2.2.4.2 (figure 5.2.2.4.2-1).
func expandUPCE(e string) (string, bool) {
	if len(e) != 8 || (e[0] != '0' && e[0] != '1') {
		return "", false
	}
	d := e[1:7]
	var mid string
	switch d[5] {
	case '0', '1', '2':
		mid = d[0:2] + d[5:6] + "0000" + d[2:5]
	case '3':
		mid = d[0:3] + "00000" + d[3:5]
	case '4':
		mid = d[0:4] + "00000" + d[4:5]
	default:
		mid = d[0:5] + "0000" + d[5:6]
	}
	return e[:1] + mid + e[7:], true
}

// checkDigitOK reports whether the digits s end in their GS1 check digit:
// from the rightmost data digit leftwards the digits are weighted 3, 1, 3, …
// and the check digit brings the sum to a multiple of 10 (GS1 General
// Specifications section 7.9.1). This is the check of GTIN-8, -12, -13 and
// -14, SSCC, GLN and GSRN alike. Any single wrong digit fails it.
func checkDigitOK(s string) bool {
	if len(s) < 2 || !allDigits(s) {
		return false
	}
	sum := 0
	for i := 1; i < len(s); i++ { // i-th data digit from the right
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return int(s[len(s)-1]-'0') == (10-sum%10)%10
}

// pad14 left-pads a GTIN with zeros to 14 digits.
func pad14(n string) string { return strings.Repeat("0", 14-len(n)) + n }

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }

// isControl reports the control characters scan data may not hold: C0
// controls other than GS, DEL, and C1 controls.
func isControl(r rune) bool {
	return r < 0x20 && r != GS || r == 0x7f || 0x80 <= r && r < 0xa0
}
