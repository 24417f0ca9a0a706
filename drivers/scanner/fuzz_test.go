package scanner

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"4006381333931", "]E04006381333931", "036000291452", "96385074", "0412345678903", "04252614",
		"]E001234565", "]E3400638133393152495", "]E112", "]E496385074", "]I114012345678908",
		"]C10104012345678901", "]d2" + "0104012345678901" + "21ABC\x1d10LOT1",
		"]C18018123456789012345675\x1d8019123", "]e08112" + "0614141123456789012",
		"]C1255401234500001612345\x1d3902250", "\x1d0100412345678903", "]Q38030abc-_==",
		"]C14330001234-\x1d00376104250021234569", "]C0LST-7F3A9C21", "\x020490000000016\x03",
		"]Q1Grüße", "", "]E0", "\x1d\x1d", "]C123", "0104012\x1d345678901",
	} {
		f.Add(s)
	}
	d := NewDecoder(storeClasses, "\x02", "\x03")
	classes := []edge.ScanClass{edge.ScanLoyalty, edge.ScanList, edge.ScanCoupon, edge.ScanProduct, edge.ScanUnknown}
	prefixes := slices.Concat(storeClasses.LoyaltyPrefixes, storeClasses.ListPrefixes, storeClasses.CouponPrefixes)
	f.Fuzz(func(t *testing.T, raw string) {
		scan, err := d.Decode(raw)
		if err != nil {
			if r := Reason(err); r != drivers.RejectChecksum && r != drivers.RejectFormat {
				t.Fatalf("Decode(%q): %v, reason %q", raw, err, r)
			}
			if scan != (edge.Scan{}) {
				t.Fatalf("Decode(%q) failed with a scan %+v", raw, scan)
			}
			return
		}
		// Whatever is accepted has a class, a code and a well-formed
		// symbology identifier.
		if !slices.Contains(classes, scan.Class) {
			t.Fatalf("Decode(%q): class %q", raw, scan.Class)
		}
		if scan.Code == "" || !utf8.ValidString(scan.Code) || strings.IndexFunc(scan.Code, isControl) >= 0 {
			t.Fatalf("Decode(%q): code %q", raw, scan.Code)
		}
		if id, _ := SplitSymbology(scan.Symbology); id != scan.Symbology {
			t.Fatalf("Decode(%q): symbology %q", raw, scan.Symbology)
		}
		s := d.strip(raw)
		b, err := Parse(s)
		if err != nil {
			t.Fatalf("Decode(%q) succeeded, Parse failed: %v", raw, err)
		}
		if b.GTIN != "" && (len(b.GTIN) != 14 || !checkDigitOK(b.GTIN)) {
			t.Fatalf("Parse(%q): GTIN %q", s, b.GTIN)
		}
		switch scan.Class {
		case edge.ScanLoyalty, edge.ScanList, edge.ScanCoupon:
			fromAI := slices.ContainsFunc(b.Elements, func(e Element) bool { return e.Value == scan.Code })
			fromPrefix := slices.ContainsFunc(prefixes, func(p string) bool {
				return strings.HasPrefix(scan.Code, p) || (b.GTIN != "" && strings.HasPrefix(b.GTIN[1:], p))
			})
			if !fromAI && !fromPrefix {
				t.Fatalf("Decode(%q): %s %q by neither AI nor prefix", raw, scan.Class, scan.Code)
			}
		case edge.ScanProduct:
			if b.GTIN == "" {
				t.Fatalf("Decode(%q): a product without GTIN", raw)
			}
		}
		if b.Kind != GS1 {
			return
		}
		// GS1 results re-encode consistently: the same elements, the same
		// scan.
		enc := encodeGS1(b.Elements)
		again, err := ParseGS1(enc)
		if err != nil || !slices.Equal(again, b.Elements) {
			t.Fatalf("Parse(%q) = %v; re-encoded %q parses as %v, %v", s, b.Elements, enc, again, err)
		}
		sym := b.Symbology
		if sym == "" {
			sym = "\x1d"
		}
		if rescan, err := d.Decode(sym + enc); err != nil || rescan.Class != scan.Class || rescan.Code != scan.Code {
			t.Fatalf("Decode(%q) = %+v; re-encoded %+v, %v", raw, scan, rescan, err)
		}
	})
}

func FuzzFramer(f *testing.F) {
	f.Add(uint8(0), []byte("0410000001233\r\n]E04006381333931\r"), uint16(5))
	f.Add(uint8(1), []byte("\x00\x00A\rB\x01C\r\n"), uint16(3))
	f.Add(uint8(4), []byte("A\r\r\nB\r\n\r"), uint16(2))
	f.Add(uint8(5), []byte("A\x1dB\tC\t\x02D\x03\t"), uint16(7))
	f.Add(uint8(6), []byte("]d20104012345678901\x1d10LOT1"), uint16(9))
	terms := []Terminator{Line, CR, LF, CRLF, CRLF, Tab, Idle}
	const maxLen = 64
	f.Fuzz(func(t *testing.T, which uint8, in []byte, cut uint16) {
		term := terms[int(which)%len(terms)]
		run := func(chunks ...[]byte) ([]string, int) {
			var (
				scans   []string
				rejects int
			)
			fr := newFramer(term, 80*time.Millisecond, maxLen, "\x02\x03",
				func(b []byte) { scans = append(scans, string(b)) },
				func(reason string) {
					if reason != drivers.RejectFraming {
						t.Fatalf("reject reason %q", reason)
					}
					rejects++
				})
			for _, c := range chunks {
				fr.feed(c)
			}
			fr.silence(CutShortAfter) // ends an idle scan; cuts any other short
			return scans, rejects
		}
		scans, rejects := run(in)
		for _, s := range scans {
			if s == "" || len(s) > maxLen || !bytes.Contains(in, []byte(s)) {
				t.Fatalf("scan %q from %q", s, in)
			}
			for i := range len(s) {
				c := s[i]
				if (c < 0x20 && c != GS && c != 0x02 && c != 0x03) || c == 0x7f {
					t.Fatalf("scan %q holds control character %#x", s, c)
				}
			}
		}
		if len(scans)+rejects > len(in) {
			t.Fatalf("%d scans and %d rejects from %d bytes", len(scans), rejects, len(in))
		}
		// However the port splits the input, the result is the same.
		if len(in) > 0 {
			k := int(cut) % len(in)
			split, splitRejects := run(in[:k], in[k:])
			if !slices.Equal(split, scans) || splitRejects != rejects {
				t.Fatalf("split at %d: %q, %d rejects; whole: %q, %d rejects", k, split, splitRejects, scans, rejects)
			}
		}
	})
}
