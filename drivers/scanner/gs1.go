package scanner

import (
	"fmt"
	"strconv"
	"strings"
)

// GS is the ASCII group separator (0x1D). Scanners transmit a GS1 FNC1 used
// as a separator as GS; an FNC1 in first position is conveyed by the
// symbology identifier instead, or as a leading GS when identifiers are off.
const GS = 0x1D

// Element is one GS1 element string: an application identifier and its
// value, as encoded (dates, decimals and amounts are not interpreted).
type Element struct {
	AI    string // "01", "8018", …
	Value string
}

// String returns the element in its human-readable form, "(01)04012345678901".
func (e Element) String() string { return "(" + e.AI + ")" + e.Value }

// aiTable lists the application identifiers the parser knows, in the format
// of GS1's Barcode Syntax Dictionary (github.com/gs1/gs1-syntax-dictionary,
// gs1-syntax-dictionary.txt, Apache-2.0; the same definitions as the GS1
// General Specifications section 3.2 and the predefined-length table of
// figure 7.8.5-2):
//
//	AI[-AI]  [*]  component…  # title
//
// "*" marks an AI of predefined length: no FNC1 (GS) follows it. Every other
// element string ends with GS unless it is the last. A component is a
// character set (N digits, X CSET 82, Y CSET 39, Z CSET 64) with a fixed
// ("N13") or variable ("X..20", at least 1) length; "[…]" makes the last
// component optional; ",csum" means it ends in a GS1 mod-10 check digit.
// The dictionary's other linters (dates, country and currency codes, coupon
// structures, alphanumeric check characters of 8013) are not applied, and
// neither are its pairing rules (req=, ex=): the parser checks structure,
// character sets and check digits, not business meaning.
const aiTable = `
00        * N18,csum          # SSCC
01        * N14,csum          # GTIN
02        * N14,csum          # CONTENT
10          X..20             # BATCH/LOT
11        * N6                # PROD DATE
12        * N6                # DUE DATE
13        * N6                # PACK DATE
15        * N6                # BEST BEFORE or BEST BY
16        * N6                # SELL BY
17        * N6                # USE BY or EXPIRY
20        * N2                # VARIANT
21          X..20             # SERIAL
22          X..20             # CPV
235         X..28             # TPX
240         X..30             # ADDITIONAL ID
241         X..30             # CUST. PART No.
242         N..6              # MTO VARIANT
243         X..20             # PCN
250         X..30             # SECONDARY SERIAL
251         X..30             # REF. TO SOURCE
253         N13,csum [X..17]  # GDTI
254         X..20             # GLN EXTENSION COMPONENT
255         N13,csum [N..12]  # GCN
30          N..8              # VAR. COUNT
3100-3105 * N6                # NET WEIGHT (kg)
3110-3115 * N6                # LENGTH (m)
3120-3125 * N6                # WIDTH (m)
3130-3135 * N6                # HEIGHT (m)
3140-3145 * N6                # AREA (m²)
3150-3155 * N6                # NET VOLUME (l)
3160-3165 * N6                # NET VOLUME (m³)
3200-3205 * N6                # NET WEIGHT (lb)
3210-3215 * N6                # LENGTH (in)
3220-3225 * N6                # LENGTH (ft)
3230-3235 * N6                # LENGTH (yd)
3240-3245 * N6                # WIDTH (in)
3250-3255 * N6                # WIDTH (ft)
3260-3265 * N6                # WIDTH (yd)
3270-3275 * N6                # HEIGHT (in)
3280-3285 * N6                # HEIGHT (ft)
3290-3295 * N6                # HEIGHT (yd)
3300-3305 * N6                # GROSS WEIGHT (kg)
3310-3315 * N6                # LENGTH (m), log
3320-3325 * N6                # WIDTH (m), log
3330-3335 * N6                # HEIGHT (m), log
3340-3345 * N6                # AREA (m²), log
3350-3355 * N6                # VOLUME (l), log
3360-3365 * N6                # VOLUME (m³), log
3370-3375 * N6                # KG PER m²
3400-3405 * N6                # GROSS WEIGHT (lb)
3410-3415 * N6                # LENGTH (in), log
3420-3425 * N6                # LENGTH (ft), log
3430-3435 * N6                # LENGTH (yd), log
3440-3445 * N6                # WIDTH (in), log
3450-3455 * N6                # WIDTH (ft), log
3460-3465 * N6                # WIDTH (yd), log
3470-3475 * N6                # HEIGHT (in), log
3480-3485 * N6                # HEIGHT (ft), log
3490-3495 * N6                # HEIGHT (yd), log
3500-3505 * N6                # AREA (in²)
3510-3515 * N6                # AREA (ft²)
3520-3525 * N6                # AREA (yd²)
3530-3535 * N6                # AREA (in²), log
3540-3545 * N6                # AREA (ft²), log
3550-3555 * N6                # AREA (yd²), log
3560-3565 * N6                # NET WEIGHT (t oz)
3570-3575 * N6                # NET VOLUME (oz)
3600-3605 * N6                # NET VOLUME (qt)
3610-3615 * N6                # NET VOLUME (gal.)
3620-3625 * N6                # VOLUME (qt), log
3630-3635 * N6                # VOLUME (gal.), log
3640-3645 * N6                # VOLUME (in³)
3650-3655 * N6                # VOLUME (ft³)
3660-3665 * N6                # VOLUME (yd³)
3670-3675 * N6                # VOLUME (in³), log
3680-3685 * N6                # VOLUME (ft³), log
3690-3695 * N6                # VOLUME (yd³), log
37          N..8              # COUNT
3900-3909   N..15             # AMOUNT
3910-3919   N3 N..15          # AMOUNT
3920-3929   N..15             # PRICE
3930-3939   N3 N..15          # PRICE
3940-3943   N4                # PRCNT OFF
3950-3955   N6                # PRICE/UoM
400         X..30             # ORDER NUMBER
401         X..30             # GINC
402         N17,csum          # GSIN
403         X..30             # ROUTE
410       * N13,csum          # SHIP TO LOC
411       * N13,csum          # BILL TO
412       * N13,csum          # PURCHASE FROM
413       * N13,csum          # SHIP FOR LOC
414       * N13,csum          # LOC No.
415       * N13,csum          # PAY TO
416       * N13,csum          # PROD/SERV LOC
417       * N13,csum          # PARTY
420         X..20             # SHIP TO POST
421         N3 X..9           # SHIP TO POST
422         N3                # ORIGIN
423         N..15             # COUNTRY - INITIAL PROCESS
424         N3                # COUNTRY - PROCESS
425         N..15             # COUNTRY - DISASSEMBLY
426         N3                # COUNTRY - FULL PROCESS
427         X..3              # ORIGIN SUBDIVISION
4300        X..35             # SHIP TO COMP
4301        X..35             # SHIP TO NAME
4302        X..70             # SHIP TO ADD1
4303        X..70             # SHIP TO ADD2
4304        X..70             # SHIP TO SUB
4305        X..70             # SHIP TO LOC
4306        X..70             # SHIP TO REG
4307        X2                # SHIP TO COUNTRY
4308        X..30             # SHIP TO PHONE
4309        N10 N10           # SHIP TO GEO
4310        X..35             # RTN TO COMP
4311        X..35             # RTN TO NAME
4312        X..70             # RTN TO ADD1
4313        X..70             # RTN TO ADD2
4314        X..70             # RTN TO SUB
4315        X..70             # RTN TO LOC
4316        X..70             # RTN TO REG
4317        X2                # RTN TO COUNTRY
4318        X..20             # RTN TO POST
4319        X..30             # RTN TO PHONE
4320        X..35             # SRV DESCRIPTION
4321        N1                # DANGEROUS GOODS
4322        N1                # AUTH TO LEAVE
4323        N1                # SIG REQUIRED
4324        N6 N4             # NOT BEF DEL DT
4325        N6 N4             # NOT AFT DEL DT
4326        N6                # REL DATE
4330        N6 [X1]           # MAX TEMP F.
4331        N6 [X1]           # MAX TEMP C.
4332        N6 [X1]           # MIN TEMP F.
4333        N6 [X1]           # MIN TEMP C.
7001        N13               # NSN
7002        X..30             # MEAT CUT
7003        N6 N4             # EXPIRY TIME
7004        N..4              # ACTIVE POTENCY
7005        X..12             # CATCH AREA
7006        N6                # FIRST FREEZE DATE
7007        N6 [N6]           # HARVEST DATE
7008        X..3              # AQUATIC SPECIES
7009        X..10             # FISHING GEAR TYPE
7010        X..2              # PROD METHOD
7011        N6 [N4]           # TEST BY DATE
7020        X..20             # REFURB LOT
7021        X..20             # FUNC STAT
7022        X..20             # REV STAT
7023        X..30             # GIAI - ASSEMBLY
7030-7039   N3 X..27          # PROCESSOR # s
7040        N1 X1 X1 X1       # UIC+EXT
710-715     X..20             # NHRN (PZN, CIP, CN, DRN, AIM, NDC)
7230-7239   X2 X..28          # CERT # s
7240        X..20             # PROTOCOL
7241        N2                # AIDC MEDIA TYPE
7242        X..25             # VCN
8001        N4 N5 N3 N1 N1    # DIMENSIONS
8002        X..20             # CMT No.
8003        N1 N13,csum [X..16] # GRAI
8004        X..30             # GIAI
8005        N6                # PRICE PER UNIT
8006        N14,csum N4       # ITIP
8007        X..34             # IBAN
8008        N8 [N..4]         # PROD TIME
8009        X..50             # OPTSEN
8010        Y..30             # CPID
8011        N..12             # CPID SERIAL
8012        X..20             # VERSION
8013        X..25             # GMN
8017        N18,csum          # GSRN - PROVIDER
8018        N18,csum          # GSRN - RECIPIENT
8019        N..10             # SRIN
8020        X..25             # REF No.
8026        N14,csum N4       # ITIP CONTENT
8030        Z..90             # DIGSIG
8110        X..70             # COUPON (North American coupon code)
8111        N4                # POINTS
8112        X..70             # COUPON (positive offer file)
8200        X..70             # PRODUCT URL
90          X..30             # INTERNAL
91-99       X..90             # INTERNAL
`

// aiDef is the definition of one application identifier.
type aiDef struct {
	predefined bool // no GS after it: its length is predefined
	parts      []aiPart
	title      string
	min, max   int // value length
}

// aiPart is one component of an AI's value.
type aiPart struct {
	set      byte // 'N', 'X', 'Y' or 'Z'
	min, max int
	optional bool
	csum     bool
}

// ais holds every known AI, ranges expanded. It is built once from aiTable
// and never modified.
var ais = mustParseAITable(aiTable)

// mustParseAITable parses aiTable. It panics on a malformed table: the table
// is a constant of this package, and the tests parse it.
func mustParseAITable(table string) map[string]*aiDef {
	m, err := parseAITable(table)
	if err != nil {
		panic("scanner: " + err.Error())
	}
	return m
}

func parseAITable(table string) (map[string]*aiDef, error) {
	m := map[string]*aiDef{}
	for n, line := range strings.Split(table, "\n") {
		spec, title, _ := strings.Cut(line, "#")
		f := strings.Fields(spec)
		if len(f) == 0 {
			continue
		}
		d := &aiDef{title: strings.TrimSpace(title)}
		codes, f := f[0], f[1:]
		if len(f) > 0 && f[0] == "*" {
			d.predefined, f = true, f[1:]
		}
		if len(f) == 0 {
			return nil, fmt.Errorf("AI table line %d: no components", n)
		}
		for i, c := range f {
			p, err := parseAIPart(c)
			if err != nil {
				return nil, fmt.Errorf("AI table line %d: %w", n, err)
			}
			last := i == len(f)-1
			if !last && (p.optional || p.min != p.max) {
				return nil, fmt.Errorf("AI table line %d: only the last component may be optional or variable", n)
			}
			if d.predefined && (p.optional || p.min != p.max) {
				return nil, fmt.Errorf("AI table line %d: a predefined length needs fixed components", n)
			}
			if !p.optional {
				d.min += p.min
			}
			d.max += p.max
			d.parts = append(d.parts, p)
		}
		lo, hi, _ := strings.Cut(codes, "-")
		if hi == "" {
			hi = lo
		}
		a, errA := strconv.Atoi(lo)
		b, errB := strconv.Atoi(hi)
		if errA != nil || errB != nil || len(lo) != len(hi) || len(lo) < 2 || len(lo) > 4 || a > b {
			return nil, fmt.Errorf("AI table line %d: bad AI %q", n, codes)
		}
		for v := a; v <= b; v++ {
			ai := fmt.Sprintf("%0*d", len(lo), v)
			if m[ai] != nil {
				return nil, fmt.Errorf("AI table line %d: AI %s defined twice", n, ai)
			}
			m[ai] = d
		}
	}
	return m, nil
}

func parseAIPart(c string) (aiPart, error) {
	var p aiPart
	c, linters, _ := strings.Cut(c, ",")
	switch linters {
	case "":
	case "csum":
		p.csum = true
	default:
		return p, fmt.Errorf("unknown linter %q", linters)
	}
	if strings.HasPrefix(c, "[") && strings.HasSuffix(c, "]") {
		p.optional, c = true, c[1:len(c)-1]
	}
	if len(c) < 2 || !strings.ContainsRune("NXYZ", rune(c[0])) {
		return p, fmt.Errorf("bad component %q", c)
	}
	p.set = c[0]
	n, variable := strings.CutPrefix(c[1:], "..")
	size, err := strconv.Atoi(n)
	if err != nil || size < 1 {
		return p, fmt.Errorf("bad component length %q", c)
	}
	p.min, p.max = size, size
	if variable {
		p.min = 1
	}
	if p.csum && (p.set != 'N' || variable) {
		return p, fmt.Errorf("check digit on %q", c)
	}
	return p, nil
}

// lookupAI returns the definition of the AI s starts with and the AI's
// length. GS1 application identifiers are prefix-free, so at most one
// matches.
func lookupAI(s string) (*aiDef, int) {
	for n := 2; n <= 4 && n <= len(s); n++ {
		if d := ais[s[:n]]; d != nil {
			return d, n
		}
	}
	return nil, 0
}

// ParseGS1 parses GS1 element strings as a scanner transmits them: the data
// after a GS1 symbology identifier (]C1, ]e0, ]d2, ]Q3, ]J1), with FNC1
// separators as GS. A leading GS (FNC1 in first position, as sent without
// symbology identifiers) and a GS after an element of predefined length or
// at the very end are accepted. Elements are returned in order.
//
// Errors wrap ErrFormat (an unknown AI, a value of the wrong length or
// character set, an empty string) or ErrChecksum (a wrong check digit in an
// SSCC, GTIN, GLN, GSRN, GDTI, GCN, GSIN, GRAI or ITIP). They name the AI
// and the byte offset, never the data.
func ParseGS1(s string) ([]Element, error) {
	s = strings.TrimPrefix(s, "\x1d")
	if s == "" {
		return nil, fmt.Errorf("GS1: no element strings: %w", ErrFormat)
	}
	var es []Element
	for i := 0; i < len(s); {
		d, n := lookupAI(s[i:])
		if d == nil {
			return nil, fmt.Errorf("GS1 at byte %d: unknown application identifier: %w", i, ErrFormat)
		}
		ai := s[i : i+n]
		j := i + n
		var v string
		if d.predefined {
			if len(s)-j < d.max {
				return nil, fmt.Errorf("GS1 AI %s: %d characters, want %d: %w", ai, len(s)-j, d.max, ErrFormat)
			}
			v = s[j : j+d.max]
		} else {
			k := strings.IndexByte(s[j:], GS)
			if k < 0 {
				k = len(s) - j
			}
			v = s[j : j+k]
		}
		if err := d.check(v); err != nil {
			return nil, fmt.Errorf("GS1 AI %s: %w", ai, err)
		}
		es = append(es, Element{AI: ai, Value: v})
		j += len(v)
		if j < len(s) && s[j] == GS {
			j++
		}
		i = j
	}
	return es, nil
}

// check validates an AI's value against its components.
func (d *aiDef) check(v string) error {
	if len(v) < d.min || len(v) > d.max {
		if d.min == d.max {
			return fmt.Errorf("%d characters, want %d: %w", len(v), d.max, ErrFormat)
		}
		return fmt.Errorf("%d characters, want %d to %d: %w", len(v), d.min, d.max, ErrFormat)
	}
	i := 0
	for _, p := range d.parts {
		rest := len(v) - i
		if rest == 0 && p.optional {
			break
		}
		n := p.max
		if p.min != p.max {
			n = rest // the variable component is the last one
		}
		if n > rest || n < p.min {
			return fmt.Errorf("%d characters do not fit: %w", len(v), ErrFormat)
		}
		seg := v[i : i+n]
		body := seg
		if p.set == 'Z' { // base64: up to two "=" of padding
			body = strings.TrimSuffix(strings.TrimSuffix(seg, "="), "=")
		}
		for k := range len(body) {
			if !inSet(p.set, body[k]) {
				return fmt.Errorf("character %d not in its character set: %w", i+k+1, ErrFormat)
			}
		}
		if p.csum && !checkDigitOK(seg) {
			return ErrChecksum
		}
		i += n
	}
	if i != len(v) {
		return fmt.Errorf("%d characters, want at most %d: %w", len(v), i, ErrFormat)
	}
	return nil
}

// inSet reports whether c belongs to a GS1 character set: N digits, X the 82
// characters of CSET 82 (figure 7.11-1 of the General Specifications), Y the
// 39 of CSET 39, Z the 64 of CSET 64 (URL-safe base64; check strips its
// padding).
func inSet(set, c byte) bool {
	digit := '0' <= c && c <= '9'
	upper := 'A' <= c && c <= 'Z'
	lower := 'a' <= c && c <= 'z'
	switch set {
	case 'N':
		return digit
	case 'X':
		return digit || upper || lower || strings.IndexByte(`!"%&'()*+,-./:;<=>?_`, c) >= 0
	case 'Y':
		return digit || upper || c == '#' || c == '-' || c == '/'
	case 'Z':
		return digit || upper || lower || c == '-' || c == '_'
	}
	return false
}

// encodeGS1 returns the element strings as a scanner transmits them without
// symbology identifier: GS after every element that is not of predefined
// length, except the last. ParseGS1 returns the same elements for it.
func encodeGS1(es []Element) string {
	var b strings.Builder
	for k, e := range es {
		b.WriteString(e.AI)
		b.WriteString(e.Value)
		if d := ais[e.AI]; k < len(es)-1 && (d == nil || !d.predefined) {
			b.WriteByte(GS)
		}
	}
	return b.String()
}
