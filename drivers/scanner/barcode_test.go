package scanner

import (
	"errors"
	"strings"
	"testing"
)

// Valid GTINs and other GS1 keys; their check digits were computed by hand
// (devices.md 3(c)) and by GS1's online check digit calculator.
var validKeys = []string{
	"4006381333931",      // EAN-13
	"036000291452",       // UPC-A
	"96385074",           // EAN-8
	"0412345678903",      // EAN-13, restricted circulation 04 (UPC-A 412345678903)
	"0410000001233",      // EAN-13, RCN
	"04012345678901",     // GTIN-14
	"376104250021234569", // SSCC
	"012345000065",       // UPC-A expansion of UPC-E 01234565
}

func TestCheckDigit(t *testing.T) {
	for _, k := range validKeys {
		if !checkDigitOK(k) {
			t.Errorf("%s: check digit rejected", k)
		}
		// Every single wrong digit is caught.
		for i := range len(k) {
			for d := byte('0'); d <= '9'; d++ {
				if d == k[i] {
					continue
				}
				bad := []byte(k)
				bad[i] = d
				if checkDigitOK(string(bad)) {
					t.Errorf("%s with digit %d changed to %c: check digit accepted", k, i, d)
				}
			}
		}
	}
	for _, s := range []string{"", "0", "40063813339a", "4006381333931 "} {
		if checkDigitOK(s) {
			t.Errorf("%q: accepted", s)
		}
	}
}

func TestExpandUPCE(t *testing.T) {
	for _, c := range []struct{ e, a string }{
		{"01234565", "012345000065"}, // last digit 5-9: manufacturer ends in it
		{"04252614", "042100005264"}, // last digit 0-2
		{"01234531", "012300000451"}, // last digit 3
		{"01234541", "012340000051"}, // last digit 4
		{"11234565", "112345000065"}, // number system 1
	} {
		if a, ok := expandUPCE(c.e); !ok || a != c.a {
			t.Errorf("expandUPCE(%s) = %s, %v; want %s", c.e, a, ok, c.a)
		}
	}
	for _, e := range []string{"21234565", "0123456", "012345650"} {
		if a, ok := expandUPCE(e); ok {
			t.Errorf("expandUPCE(%s) = %s, want not a UPC-E", e, a)
		}
	}
}

func TestSplitSymbology(t *testing.T) {
	for _, c := range []struct{ in, id, data string }{
		{"]E04006381333931", "]E0", "4006381333931"},
		{"]d2010", "]d2", "010"},
		{"]Q1hello", "]Q1", "hello"},
		{"]E0", "]E0", ""},
		{"]0A123", "", "]0A123"}, // the code character is a letter
		{"]E", "", "]E"},
		{"]E-12", "", "]E-12"},
		{"4006381333931", "", "4006381333931"},
	} {
		if id, data := SplitSymbology(c.in); id != c.id || data != c.data {
			t.Errorf("SplitSymbology(%q) = %q, %q; want %q, %q", c.in, id, data, c.id, c.data)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, in string
		kind     Kind
		gtin     string
		addOn    string
		err      error
	}{
		{"EAN-13 with id", "]E04006381333931", EAN13, "04006381333931", "", nil},
		{"EAN-13 without id", "4006381333931", EAN13, "04006381333931", "", nil},
		{"EAN-13 bad check digit", "4006381333932", 0, "", "", ErrChecksum},
		{"EAN-13 bad check digit with id", "]E04006381333932", 0, "", "", ErrChecksum},
		{"UPC-A as 13 digits", "]E00036000291452", EAN13, "00036000291452", "", nil},
		{"UPC-A with id", "]E0036000291452", UPCA, "00036000291452", "", nil},
		{"UPC-A without id", "036000291452", UPCA, "00036000291452", "", nil},
		{"UPC-A bad check digit", "036000291453", 0, "", "", ErrChecksum},
		{"UPC-E with id", "]E001234565", UPCE, "00012345000065", "", nil},
		{"UPC-E bad check digit", "]E001234566", 0, "", "", ErrChecksum},
		{"UPC-E number system 2", "]E021234565", 0, "", "", ErrFormat},
		{"EAN-8 with id", "]E496385074", EAN8, "00000096385074", "", nil},
		{"EAN-8 without id", "96385074", EAN8, "00000096385074", "", nil},
		{"EAN-8 bad check digit", "]E496385075", 0, "", "", ErrChecksum},
		{"EAN-8 of 9 digits", "]E4963850745", 0, "", "", ErrFormat},
		// 04252614 fails as EAN-8 but is a valid UPC-E.
		{"UPC-E without id", "04252614", UPCE, "00042100005264", "", nil},
		{"8 digits neither EAN-8 nor UPC-E", "04252615", 0, "", "", ErrChecksum},
		{"8 digits neither, number system 2", "24252615", 0, "", "", ErrChecksum},
		{"]E0 of 10 digits", "]E01234567890", 0, "", "", ErrFormat},
		{"]E0 with a letter", "]E0400638133393X", 0, "", "", ErrFormat},
		{"EAN-13 with 2-digit add-on", "]E3400638133393112", EAN13, "04006381333931", "12", nil},
		{"EAN-13 with 5-digit add-on", "]E3400638133393152495", EAN13, "04006381333931", "52495", nil},
		{"UPC-A with add-on", "]E303600029145212", UPCA, "00036000291452", "12", nil},
		{"add-on with bad main number", "]E3400638133393212", 0, "", "", ErrChecksum},
		{"]E3 of 16 digits", "]E34006381333931123", 0, "", "", ErrFormat},
		{"2-digit add-on alone", "]E112", AddOn, "", "", nil},
		{"5-digit add-on alone", "]E252495", AddOn, "", "", nil},
		{"]E2 of 2 digits", "]E212", 0, "", "", ErrFormat},
		{"GS1-128", "]C10104012345678901", GS1, "04012345678901", "", nil},
		{"GS1 without id, leading GS", "\x1d0104012345678901", GS1, "04012345678901", "", nil},
		{"GS1 without GTIN", "]C100376104250021234569", GS1, "", "", nil},
		{"GS1 bad", "]C10104012345678902", 0, "", "", ErrChecksum},
		{"Code 128", "]C0ABC-123", Text, "", "", nil},
		{"Code 128 with a GTIN", "]C04006381333931", Text, "04006381333931", "", nil},
		{"Code 128, 13 digits, no check digit", "]C04006381333932", Text, "", "", nil},
		{"ITF-14", "]I104012345678901", Text, "04012345678901", "", nil},
		{"14 digits without id", "04012345678901", Text, "04012345678901", "", nil},
		{"14 digits without id, not a GTIN", "04012345678902", Text, "", "", nil},
		{"text without id", "LST-7F3A9C21", Text, "", "", nil},
		{"11 digits without id", "12345678901", Text, "", "", nil},
		{"QR with UTF-8", "]Q1Grüße", Text, "", "", nil},
		{"empty", "", 0, "", "", ErrFormat},
		{"id only", "]E0", 0, "", "", ErrFormat},
		{"NUL", "4006381333931\x00", 0, "", "", ErrFormat},
		{"CR", "]C0AB\rC", 0, "", "", ErrFormat},
		{"DEL", "]C0AB\x7f", 0, "", "", ErrFormat},
		{"not UTF-8", "]Q1\xff\xfe", 0, "", "", ErrFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := Parse(c.in)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Parse(%q) error %v, want %v", c.in, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.in, err)
			}
			if b.Kind != c.kind || b.GTIN != c.gtin || b.AddOn != c.addOn {
				t.Errorf("Parse(%q) = %v GTIN %q add-on %q; want %v %q %q", c.in, b.Kind, b.GTIN, b.AddOn, c.kind, c.gtin, c.addOn)
			}
			if id, data := SplitSymbology(c.in); b.Symbology != id || b.Data != data {
				t.Errorf("Parse(%q): symbology %q data %q", c.in, b.Symbology, b.Data)
			}
			if b.GTIN != "" && (len(b.GTIN) != 14 || !checkDigitOK(b.GTIN)) {
				t.Errorf("Parse(%q): GTIN %q", c.in, b.GTIN)
			}
		})
	}
}

// Errors end up in logs: they must not show codes, which may identify
// members.
func TestParseErrorsHideData(t *testing.T) {
	for _, c := range []struct{ in, secret string }{
		{"0410000001234", "0410000001234"},
		{"]C18018123456789012345674", "123456789012345674"},
		{"]C0SECRET\x00", "SECRET"},
		{"]d2" + "99SECRET\x1d\x1d", "SECRET"},
		{"]d2" + "99SECRET\x1dZZ", "SECRET"},
	} {
		_, err := Parse(c.in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", c.in)
		}
		if strings.Contains(err.Error(), c.secret) {
			t.Errorf("error %q shows the data", err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Text: "text", EAN13: "EAN-13", UPCE: "UPC-E", GS1: "GS1", Kind(42): "Kind(42)"} {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", k, k.String(), want)
		}
	}
}
