package scanner

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Classes says which codes are members' loyalty cards, personal shopping
// lists and coupons; configs.Barcodes holds the store's lists. Prefixes are
// digit strings matched against the start of a code (see Decoder.Decode);
// AIs are GS1 application identifiers.
type Classes struct {
	LoyaltyPrefixes []string
	ListPrefixes    []string
	CouponPrefixes  []string
	LoyaltyAIs      []string
	CouponAIs       []string
}

// DefaultClasses are the configuration's defaults: the GS1 coupon number
// ranges 99 and 981-984 and UPC coupons (05), the GSRN of a service
// recipient (AI 8018) for loyalty, and the global coupon number (255) and
// the North American coupon AIs (8110, 8112) for coupons. Loyalty and list
// prefixes have no default: every chain has its own.
var DefaultClasses = Classes{
	CouponPrefixes: slices.Clone(configs.DefaultCouponPrefixes),
	LoyaltyAIs:     slices.Clone(configs.DefaultLoyaltyAIs),
	CouponAIs:      slices.Clone(configs.DefaultCouponAIs),
}

// orDefaults returns c with every nil list replaced by DefaultClasses' list,
// as the configuration does: an empty, non-nil list stays empty.
func (c Classes) orDefaults() Classes {
	def := func(v, d []string) []string {
		if v == nil {
			return d
		}
		return v
	}
	return Classes{
		LoyaltyPrefixes: def(c.LoyaltyPrefixes, DefaultClasses.LoyaltyPrefixes),
		ListPrefixes:    def(c.ListPrefixes, DefaultClasses.ListPrefixes),
		CouponPrefixes:  def(c.CouponPrefixes, DefaultClasses.CouponPrefixes),
		LoyaltyAIs:      def(c.LoyaltyAIs, DefaultClasses.LoyaltyAIs),
		CouponAIs:       def(c.CouponAIs, DefaultClasses.CouponAIs),
	}
}

// prefixClass is one configured prefix.
type prefixClass struct {
	prefix string
	class  edge.ScanClass
}

// Decoder turns the text of one scan into an edge.Scan: it removes the
// configured prefix and suffix, parses the rest (Parse) and classifies it.
// It is immutable and safe for concurrent use.
type Decoder struct {
	stripPrefix, stripSuffix string
	prefixes                 []prefixClass // longest first
	loyaltyAIs, couponAIs    []string
}

// NewDecoder returns a decoder classifying by c, used as given (see
// DefaultClasses), that removes stripPrefix and stripSuffix from every scan
// where present (see Decode).
func NewDecoder(c Classes, stripPrefix, stripSuffix string) *Decoder {
	d := &Decoder{
		stripPrefix: stripPrefix,
		stripSuffix: stripSuffix,
		loyaltyAIs:  slices.Clone(c.LoyaltyAIs),
		couponAIs:   slices.Clone(c.CouponAIs),
	}
	for _, l := range []struct {
		prefixes []string
		class    edge.ScanClass
	}{{c.LoyaltyPrefixes, edge.ScanLoyalty}, {c.ListPrefixes, edge.ScanList}, {c.CouponPrefixes, edge.ScanCoupon}} {
		for _, p := range l.prefixes {
			if p != "" {
				d.prefixes = append(d.prefixes, prefixClass{p, l.class})
			}
		}
	}
	// Longest first; among equal prefixes (the configuration forbids them)
	// loyalty before list before coupon.
	slices.SortStableFunc(d.prefixes, func(a, b prefixClass) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
	return d
}

// Decode decodes the text of one scan as the scanner sent it, without its
// terminator. It removes the strip prefix (before or right after the
// symbology identifier) and suffix where present, then parses the rest (see
// Parse) and classifies it:
//
//  1. GS1 element strings holding a loyalty AI are edge.ScanLoyalty, else
//     holding a coupon AI edge.ScanCoupon; Code is that element's value
//     (the GSRN of AI 8018, the coupon data of 8112). The first element
//     with a loyalty AI wins, then the first with a coupon AI.
//  2. The longest configured prefix that the code starts with, and is
//     longer than, decides between loyalty, list and coupon: list prefix
//     "049" beats loyalty prefix "04". EAN/UPC numbers and GS1 strings with
//     AI 01 are matched in their GTIN-13 form: UPC-A 512345678900 matches
//     "05" as EAN-13 0512345678900 does; a UPC-E is its UPC-A expansion;
//     an EAN-8 is 00000 followed by its 8 digits (GS1 prefix 00000 is
//     reserved for GTIN-8s); a GTIN-14 whose indicator digit is not 0
//     matches nothing. Text is matched as it is.
//  3. Anything with a GTIN (Barcode.GTIN) is edge.ScanProduct.
//  4. Everything else is edge.ScanUnknown.
//
// Code is the data as transmitted after the symbology identifier (add-on
// included), except for GS1 element strings: there it is the value of the
// deciding element (for rules 2 and 3 the GTIN of AI 01) or, when none
// decides, the element strings in a canonical form: GS only where
// required, none leading or trailing.
//
// Errors wrap ErrChecksum or ErrFormat (an empty scan is ErrFormat); Reason
// maps them to the drivers reject reasons.
func (d *Decoder) Decode(raw string) (edge.Scan, error) {
	b, err := Parse(d.strip(raw))
	if err != nil {
		return edge.Scan{}, err
	}
	code, class := d.classify(&b)
	return edge.Scan{Code: code, Symbology: b.Symbology, Class: class}, nil
}

// strip removes the strip prefix and suffix from s where present. Scanners
// put a configured prefix before the symbology identifier ("[prefix] [code
// id] [AIM id] [data] [suffix]" on Honeywell's, for one), some after it: a
// prefix right after the identifier is removed too.
func (d *Decoder) strip(s string) string {
	if d.stripPrefix != "" {
		if rest, ok := strings.CutPrefix(s, d.stripPrefix); ok {
			s = rest
		} else if id, data := SplitSymbology(s); id != "" && strings.HasPrefix(data, d.stripPrefix) {
			s = id + data[len(d.stripPrefix):]
		}
	}
	if d.stripSuffix != "" {
		s = strings.TrimSuffix(s, d.stripSuffix)
	}
	return s
}

// classify returns a parsed scan's code and class (see Decode).
func (d *Decoder) classify(b *Barcode) (string, edge.ScanClass) {
	code, subject := b.Data, b.Data
	switch b.Kind {
	case AddOn:
		return code, edge.ScanUnknown
	case GS1:
		for _, c := range []struct {
			ais   []string
			class edge.ScanClass
		}{{d.loyaltyAIs, edge.ScanLoyalty}, {d.couponAIs, edge.ScanCoupon}} {
			for _, e := range b.Elements {
				if slices.Contains(c.ais, e.AI) {
					return e.Value, c.class
				}
			}
		}
		if b.GTIN == "" {
			return encodeGS1(b.Elements), edge.ScanUnknown
		}
		code = b.GTIN
		fallthrough
	case EAN13, EAN8, UPCA, UPCE:
		subject = "" // a GTIN-14 of another indicator digit than 0
		if b.GTIN[0] == '0' {
			subject = b.GTIN[1:]
		}
	}
	for _, p := range d.prefixes {
		if len(subject) > len(p.prefix) && strings.HasPrefix(subject, p.prefix) {
			return code, p.class
		}
	}
	if b.GTIN != "" {
		return code, edge.ScanProduct
	}
	return code, edge.ScanUnknown
}

// Reason returns the drivers reject reason for an error of Decode or
// Parse: drivers.RejectChecksum for ErrChecksum, drivers.RejectFormat for
// anything else, "" for nil.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrChecksum):
		return drivers.RejectChecksum
	default:
		return drivers.RejectFormat
	}
}
