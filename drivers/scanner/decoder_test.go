package scanner

import (
	"errors"
	"fmt"
	"testing"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// storeClasses is a chain's configuration: loyalty cards are RCN-13 04…
// and 2900…, shopping lists 049… and 29…, coupons and AIs the defaults.
var storeClasses = Classes{
	LoyaltyPrefixes: []string{"04", "2900"},
	ListPrefixes:    []string{"049", "29"},
	CouponPrefixes:  DefaultClasses.CouponPrefixes,
	LoyaltyAIs:      DefaultClasses.LoyaltyAIs,
	CouponAIs:       DefaultClasses.CouponAIs,
}

func TestDecode(t *testing.T) {
	const (
		gsrn = "123456789012345675"
		gcn  = "4012345000016"
	)
	d := NewDecoder(storeClasses, "", "")
	for _, c := range []struct {
		name, in string
		code     string
		sym      string
		class    edge.ScanClass
	}{
		// Prefixes: the longest wins.
		{"loyalty RCN", "0410000001233", "0410000001233", "", edge.ScanLoyalty},
		{"loyalty RCN with id", "]E00400000000015", "0400000000015", "]E0", edge.ScanLoyalty},
		{"list beats loyalty", "]E00490000000016", "0490000000016", "]E0", edge.ScanList},
		{"loyalty 2900 beats list 29", "2900000000018", "2900000000018", "", edge.ScanLoyalty},
		{"list 29", "2912345678906", "2912345678906", "", edge.ScanList},
		{"euro coupon", "9811234567891", "9811234567891", "", edge.ScanCoupon},
		{"national coupon", "9912345678909", "9912345678909", "", edge.ScanCoupon},
		// UPC-A and UPC-E are matched as GTIN-13; Code stays as sent.
		{"UPC coupon", "512345678900", "512345678900", "", edge.ScanCoupon},
		{"UPC coupon as EAN-13", "0512345678900", "0512345678900", "", edge.ScanCoupon},
		{"UPC-A in-store loyalty", "]E0412345678903", "412345678903", "]E0", edge.ScanLoyalty},
		{"UPC coupon with add-on", "]E351234567890012", "51234567890012", "]E3", edge.ScanCoupon},
		{"UPC-E", "]E001234565", "01234565", "]E0", edge.ScanProduct},
		{"EAN-8 is 00000… as GTIN-13", "96385074", "96385074", "", edge.ScanProduct},
		// Products.
		{"EAN-13", "4006381333931", "4006381333931", "", edge.ScanProduct},
		{"EAN-13 with id", "]E04006381333931", "4006381333931", "]E0", edge.ScanProduct},
		{"UPC-A", "036000291452", "036000291452", "", edge.ScanProduct},
		{"EAN-13 with add-on", "]E3400638133393112", "400638133393112", "]E3", edge.ScanProduct},
		{"GTIN-14 without id", "40123456789010", "40123456789010", "", edge.ScanProduct},
		{"14 digits are text: matched as sent", "04012345678901", "04012345678901", "", edge.ScanLoyalty},
		{"ITF-14", "]I114012345678908", "14012345678908", "]I1", edge.ScanProduct},
		// Text is matched as it is.
		{"Code 128 loyalty", "]C004123", "04123", "]C0", edge.ScanLoyalty},
		{"only the prefix", "]C004", "04", "]C0", edge.ScanUnknown},
		{"text", "]C0LST-7F3A9C21", "LST-7F3A9C21", "]C0", edge.ScanUnknown},
		{"QR", "]Q1https://example.com/x", "https://example.com/x", "]Q1", edge.ScanUnknown},
		{"add-on alone", "]E252495", "52495", "]E2", edge.ScanUnknown},
		{"add-on alone, coupon digits", "]E205123", "05123", "]E2", edge.ScanUnknown},
		// GS1 element strings: by AI first.
		{"GSRN", "]C18018" + gsrn, gsrn, "]C1", edge.ScanLoyalty},
		{"GSRN and SRIN", "]d28018" + gsrn + "\x1d8019123", gsrn, "]d2", edge.ScanLoyalty},
		{"GSRN without id", "\x1d8018" + gsrn, gsrn, "", edge.ScanLoyalty},
		{"positive offer coupon", "]e08112" + "0614141123456789012", "0614141123456789012", "]e0", edge.ScanCoupon},
		{"GCN with amount", "]C1255" + gcn + "12345\x1d3902250", gcn + "12345", "]C1", edge.ScanCoupon},
		{"loyalty AI before coupon AI", "]C1255" + gcn + "\x1d8018" + gsrn, gsrn, "]C1", edge.ScanLoyalty},
		{"product DataMatrix", "]d20104012345678901" + "21ABC\x1d10LOT1", "04012345678901", "]d2", edge.ScanProduct},
		{"DataBar with an RCN", "]e00100412345678903", "00412345678903", "]e0", edge.ScanLoyalty},
		{"GTIN-14 indicator 1", "]C10114012345678908", "14012345678908", "]C1", edge.ScanProduct},
		{"SSCC", "]C100376104250021234569", "00376104250021234569", "]C1", edge.ScanUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := d.Decode(c.in)
			if err != nil {
				t.Fatalf("Decode(%q): %v", c.in, err)
			}
			if want := (edge.Scan{Code: c.code, Symbology: c.sym, Class: c.class}); s != want {
				t.Errorf("Decode(%q) = %+v, want %+v", c.in, s, want)
			}
		})
	}
}

func TestDecodeWithoutClasses(t *testing.T) {
	d := NewDecoder(Classes{}, "", "")
	for in, want := range map[string]edge.ScanClass{
		"0410000001233":             edge.ScanProduct,
		"9811234567891":             edge.ScanProduct,
		"]C18018123456789012345675": edge.ScanUnknown,
		"]C0LST-7F3A9C21":           edge.ScanUnknown,
	} {
		if s, err := d.Decode(in); err != nil || s.Class != want {
			t.Errorf("Decode(%q) = %+v, %v; want class %q", in, s, err, want)
		}
	}
}

func TestDecodeStrip(t *testing.T) {
	d := NewDecoder(storeClasses, "\x02", "\x03")
	for _, c := range []struct {
		in   string
		want edge.Scan
		err  error
	}{
		{"\x02]E04006381333931\x03", edge.Scan{Code: "4006381333931", Symbology: "]E0", Class: edge.ScanProduct}, nil},
		{"]E04006381333931\x03", edge.Scan{Code: "4006381333931", Symbology: "]E0", Class: edge.ScanProduct}, nil},
		{"\x020410000001233", edge.Scan{Code: "0410000001233", Class: edge.ScanLoyalty}, nil},
		{"0410000001233", edge.Scan{Code: "0410000001233", Class: edge.ScanLoyalty}, nil},
		{"\x02\x03", edge.Scan{}, ErrFormat},
		{"", edge.Scan{}, ErrFormat},
		{"\x02\x02]E04006381333931\x03", edge.Scan{}, ErrFormat}, // stripped once
		{"\x024006381333932\x03", edge.Scan{}, ErrChecksum},
	} {
		s, err := d.Decode(c.in)
		if !errors.Is(err, c.err) || s != c.want {
			t.Errorf("Decode(%q) = %+v, %v; want %+v, %v", c.in, s, err, c.want, c.err)
		}
	}
	// A prefix such as "S:" that a scanner adds before or after the AIM
	// identifier.
	d = NewDecoder(storeClasses, "S:", "")
	for _, in := range []string{"S:]E04006381333931", "]E0S:4006381333931", "]E04006381333931"} {
		if s, err := d.Decode(in); err != nil || s.Symbology != "]E0" || s.Code != "4006381333931" {
			t.Errorf("Decode(%q) with prefix S: = %+v, %v", in, s, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	d := NewDecoder(storeClasses, "", "")
	for in, want := range map[string]string{
		"4006381333932":             drivers.RejectChecksum,
		"0410000001234":             drivers.RejectChecksum,
		"]E496385075":               drivers.RejectChecksum,
		"]C18018123456789012345674": drivers.RejectChecksum,
		"]d20104012345678902":       drivers.RejectChecksum,
		"":                          drivers.RejectFormat,
		"]E0":                       drivers.RejectFormat,
		"]E0ABC":                    drivers.RejectFormat,
		"]C1ABC":                    drivers.RejectFormat,
		"]C123123":                  drivers.RejectFormat,
		"\x1d":                      drivers.RejectFormat,
		"]C0A\x00B":                 drivers.RejectFormat,
	} {
		_, err := d.Decode(in)
		if got := Reason(err); got != want {
			t.Errorf("Decode(%q): %v, reason %q; want %q", in, err, got, want)
		}
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		nil:                              "",
		ErrChecksum:                      drivers.RejectChecksum,
		fmt.Errorf("x: %w", ErrChecksum): drivers.RejectChecksum,
		ErrFormat:                        drivers.RejectFormat,
		fmt.Errorf("x: %w", ErrFormat):   drivers.RejectFormat,
		errors.New("something else"):     drivers.RejectFormat,
	} {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestClassesOrDefaults(t *testing.T) {
	c := Classes{LoyaltyPrefixes: []string{"041"}, CouponPrefixes: []string{}}.orDefaults()
	if len(c.LoyaltyPrefixes) != 1 || len(c.CouponPrefixes) != 0 || len(c.LoyaltyAIs) != 1 || len(c.CouponAIs) != 3 {
		t.Errorf("orDefaults = %+v", c)
	}
}
