// Package scanner reads barcode scanners: serial ones (RS-232, or USB in
// CDC-ACM "serial emulation" mode, as /dev/ttyACM*) through Serial, and
// keyboard wedges (USB HID keyboards, read by package drivers/hid) through
// Wedge. Both turn each scan into an edge.KindScan event whose edge.Scan
// carries the code, the AIM symbology identifier when the scanner sent one,
// and the code's class. Decoder, Parse and ParseGS1 are the pure functions
// underneath.
//
// # Symbology identifiers
//
// Scanners can send the AIM symbology identifier (ISO/IEC 15424) "]cm"
// before the data: "]", a code character, a modifier. It is usually off by
// default; turn it on where possible, since it tells EAN/UPC and GS1 data
// apart from look-alike text. SplitSymbology takes "]" followed by a letter
// and a letter or digit as an identifier; data that really starts so (with
// identifiers off) is misread, which is one more reason to turn them on.
// Identifiers with meaning here (GS1 General Specifications figure 5.1.2-2):
//
//	]E0          EAN-13, UPC-A or UPC-E
//	]E1 ]E2      a 2- or 5-digit add-on on its own
//	]E3          EAN-13, UPC-A or UPC-E with its add-on
//	]E4          EAN-8
//	]C1          GS1-128
//	]e0          GS1 DataBar
//	]d2          GS1 DataMatrix
//	]Q3          GS1 QR Code
//	]J1          GS1 DotCode
//
// Every other identifier (]C0 Code 128, ]A0 Code 39, ]I1 ITF, ]Q1 QR Code,
// ]d1 Data Matrix, ]L2 PDF417, ]z0 Aztec …) is reported and its data taken
// as Text: these symbologies carry their own check characters, which the
// scanner verified.
//
// # Check digits
//
// EAN/UPC numbers and the GS1 keys end in a mod-10 check digit (digits
// weighted 3, 1, 3, … from the right of the data digits; GS1 General
// Specifications 7.9.1). A wrong one means a misread, and the scan is
// rejected (ErrChecksum, drivers.RejectChecksum):
//
//   - with ]E0: 13 digits (EAN-13), 12 (UPC-A) or 8 (UPC-E, number system 0
//     or 1, checked on its UPC-A expansion); other lengths are ErrFormat;
//   - with ]E4: 8 digits (EAN-8); with ]E3: the main number before the add-on;
//   - without identifier: data of exactly 13, 12 or 8 digits, which EAN/UPC
//     scans are with identifiers off. Eight digits pass as an EAN-8 or, that
//     failing, as a UPC-E. So a 13-digit Code 128 without check digit is
//     rejected when identifiers are off: turn them on for such cards;
//   - in GS1 element strings: the keys of AIs 00, 01, 02, 253, 255, 402,
//     410-417, 8003, 8006, 8017, 8018 and 8026.
//
// Text is not verified; digit strings of 12 to 14 digits whose last digit
// happens to be right get a GTIN (Barcode.GTIN), which makes them products.
//
// # GS1 element strings
//
// Data with a GS1 identifier, or starting with GS (0x1D) without one, is a
// sequence of element strings: an application identifier (AI) of 2 to 4
// digits and its value. Scanners send FNC1 separators as GS; an FNC1 in
// first position is what the identifier says, or a leading GS. AIs whose
// length is predefined (00-02, 11-20, 31nn-36nn, 41x: GS1 General
// Specifications figure 7.8.5-2) are followed by the next AI directly; every
// other value ends at a GS or at the end of the data, fixed-length or not
// (8017 and 8018 are 18 digits, 8111 and 3940-3943 4, yet each must be
// followed by GS unless last). The parser knows every AI of GS1's Barcode
// Syntax Dictionary (github.com/gs1/gs1-syntax-dictionary, the
// machine-readable form of General Specifications section 3): among them
//
//	00 SSCC N18, 01 GTIN N14, 02 N14        predefined, check digit
//	11-13, 15-17 dates N6, 20 variant N2   predefined
//	31nn-36nn measures N6, 41x GLNs N13    predefined (GLNs: check digit)
//	10 batch X..20, 21 serial X..20, 22, 235, 240-243, 250, 251, 254
//	253 GDTI, 255 GCN (global coupon)      N13 with check digit, then up to 17 / 12 more
//	30, 37 counts, 3900-3939 amounts and prices, 3940-3943 % off, 3950-3955
//	400-403, 420-427, 4300-4333, 7001-7242, 8001-8030
//	8017 / 8018 GSRN provider / recipient  N18 with check digit
//	8019 SRIN N..10, 8020, 8026
//	8110 coupon X..70, 8111 points N4, 8112 positive offer coupon X..70
//	8200 URL, 90 X..30, 91-99 company internal X..90
//
// (the full table, with each AI's components, is aiTable in gs1.go).
// Values are checked for length, character set (N digits, X CSET 82, Y CSET
// 39, Z CSET 64) and check digits; not for dates, country or currency codes,
// the inner structure of coupon codes, or which AIs go together. An unknown
// AI, a value too short or too long, a character outside its set, an empty
// value, or two GS in a row are ErrFormat (drivers.RejectFormat).
//
// # Classification
//
// Decoder.Decode classifies with the store's Classes (configs.Barcodes),
// first rule that applies:
//
//  1. GS1 element strings with a loyalty AI (default 8018, the GSRN of a
//     service recipient) are loyalty scans, else with a coupon AI (default
//     255, 8110, 8112) coupon scans. Code is that element's value, e.g. the
//     18-digit GSRN.
//  2. The longest configured prefix the code starts with (and is longer
//     than) decides between loyalty, list and coupon: list prefix "049" wins
//     over loyalty prefix "04". Default coupon prefixes: 99 and 981-984 (GS1
//     coupon numbers) and 05 (UPC coupons). GS1 prefixes are defined on
//     13 digits, so EAN/UPC numbers and GS1 strings with AI 01 are matched in
//     their GTIN-13 form: UPC-A 512345678900 is 0512345678900 and a UPC
//     coupon; an EAN-8 is 00000 and its 8 digits; a GTIN-14 with indicator
//     digit 1-9 matches nothing. Text is matched as sent.
//  3. Anything with a GTIN is a product.
//  4. Everything else is unknown (edge.ScanUnknown); an add-on alone always.
//
// Code is the data as sent after the identifier, except for GS1 strings
// (the deciding element's value; for products and prefix matches the GTIN
// of AI 01). Codes are not normalised: the member directory sees UPC-A as
// 12 digits if the scanner sends 12, so register loyalty codes the way the
// lanes' scanners send them.
//
// # Serial framing
//
// Serial cuts the byte stream into scans by Opts.Terminator:
//
//	line   CR, LF or CR LF end a scan (the default); a CR LF pair is one
//	       terminator, LF CR is two
//	cr     CR;  lf  LF;  crlf  CR LF (a lone CR or LF is noise);  tab  HT
//	idle   no suffix: Opts.IdleGap (default 80 ms) of silence ends a scan,
//	       measured in read timeouts of the port
//
// A terminator without data before it is no scan. Control characters
// (0x00-0x1F and DEL) other than GS, the terminator, and those in
// Opts.StripPrefix or StripSuffix (say STX and ETX configured as a
// preamble and postamble) are line noise. Noise between scans is dropped
// and counted once per run (drivers.RejectFraming); the scan after it is
// not affected. Noise inside a scan garbles it: the whole scan is
// discarded at its terminator and counted once. Bytes 0x80-0xFF are data
// (scanners may send UTF-8); a scan that is not UTF-8 is rejected by the
// decoder (drivers.RejectFormat). A scan longer than Opts.MaxLen (1024)
// bytes is discarded up to its terminator and counted once; one whose
// bytes stopped for CutShortAfter (1 s) without a terminator is discarded
// as cut short, so it cannot glue itself to the next scan.
//
// Each scan is then stripped of StripPrefix and StripSuffix where present
// (the prefix before or right after the symbology identifier: scanners
// differ), decoded and classified. Events are stamped with the time the scan's last
// byte arrived.
//
// # Reject reasons
//
//	drivers.RejectFraming   noise, overlong or cut-short input (Serial)
//	drivers.RejectChecksum  a wrong check digit (ErrChecksum)
//	drivers.RejectFormat    anything else Decode refuses (ErrFormat): empty
//	                        after stripping, not UTF-8, control characters,
//	                        a malformed EAN/UPC or GS1 string
//
// Reason maps an error of Decode to its reason. Errors name the symbology,
// the AI and byte offsets, never the data: codes may identify members.
//
// # Wiring
//
// cmd/redcarpet opens a serial scanner with
// serial.Open(port, &serial.Mode{BaudRate: 9600}) from go.bug.st/serial
// (8N1 is its default; baud rarely matters for CDC-ACM) and passes it to
// New; a keyboard wedge is a drivers/hid keyboard passed to NewWedge. Both
// take the store's configs.Barcodes as Classes.
package scanner
