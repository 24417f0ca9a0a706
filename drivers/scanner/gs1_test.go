package scanner

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestAITable(t *testing.T) {
	if len(ais) < 300 {
		t.Errorf("%d AIs known, want the whole syntax dictionary", len(ais))
	}
	for ai, d := range ais {
		// Application identifiers are prefix-free: a parser can read them
		// without separators.
		for n := 2; n < len(ai); n++ {
			if ais[ai[:n]] != nil {
				t.Errorf("AI %s starts with AI %s", ai, ai[:n])
			}
		}
		// The predefined-length AIs are exactly those of GS1 General
		// Specifications figure 7.8.5-2, by their first two digits.
		switch ai[:2] {
		case "00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20",
			"31", "32", "33", "34", "35", "36", "41":
			if !d.predefined {
				t.Errorf("AI %s: not of predefined length", ai)
			}
		default:
			if d.predefined {
				t.Errorf("AI %s: of predefined length", ai)
			}
		}
		if d.min < 1 || d.min > d.max || (d.predefined && d.min != d.max) {
			t.Errorf("AI %s: length %d to %d", ai, d.min, d.max)
		}
	}
	for _, c := range []struct {
		ais        []string
		predefined bool
		min, max   int
		csum       bool
	}{
		{[]string{"00"}, true, 18, 18, true},
		{[]string{"01", "02"}, true, 14, 14, true},
		{[]string{"11", "12", "13", "15", "16", "17"}, true, 6, 6, false},
		{[]string{"20"}, true, 2, 2, false},
		{[]string{"3100", "3103", "3695"}, true, 6, 6, false},
		{[]string{"410", "414", "417"}, true, 13, 13, true},
		{[]string{"10", "21", "22"}, false, 1, 20, false},
		{[]string{"240", "241", "250", "251"}, false, 1, 30, false},
		{[]string{"253"}, false, 13, 30, true},
		{[]string{"255"}, false, 13, 25, true},
		{[]string{"3900", "3909"}, false, 1, 15, false},
		{[]string{"3940", "3943"}, false, 4, 4, false},
		{[]string{"8017", "8018"}, false, 18, 18, true},
		{[]string{"8019"}, false, 1, 10, false},
		{[]string{"8110", "8112"}, false, 1, 70, false},
		{[]string{"8111"}, false, 4, 4, false}, // fixed length, yet followed by GS
		{[]string{"90"}, false, 1, 30, false},
		{[]string{"91", "99"}, false, 1, 90, false},
	} {
		for _, ai := range c.ais {
			d := ais[ai]
			if d == nil {
				t.Errorf("AI %s unknown", ai)
				continue
			}
			csum := slices.ContainsFunc(d.parts, func(p aiPart) bool { return p.csum })
			if d.predefined != c.predefined || d.min != c.min || d.max != c.max || csum != c.csum {
				t.Errorf("AI %s: predefined %v, %d to %d, check digit %v; want %v, %d to %d, %v",
					ai, d.predefined, d.min, d.max, csum, c.predefined, c.min, c.max, c.csum)
			}
		}
	}
	for _, ai := range []string{"14", "18", "19", "23", "3106", "3380", "3944", "418", "8", "800", "8000", "9"} {
		if ais[ai] != nil {
			t.Errorf("AI %s known, the dictionary has no such AI", ai)
		}
	}
}

func TestParseAITableErrors(t *testing.T) {
	for _, table := range []string{
		"01 *",
		"01 * N..14",
		"01 * N14 [N2]",
		"10 X..20 N2",
		"10 [X2] N2",
		"10 Q..20",
		"10 X0",
		"10 X..20,csum",
		"10 X20,iso4217",
		"1 N2",
		"12345 N2",
		"19-11 N2",
		"10-1000 N2",
		"1x N2",
		"10 N2\n10 N3",
	} {
		if _, err := parseAITable(table); err == nil {
			t.Errorf("parseAITable(%q) succeeded", table)
		}
	}
}

func el(ai, v string) Element { return Element{AI: ai, Value: v} }

func TestParseGS1(t *testing.T) {
	const (
		gtin = "04012345678901"
		gsrn = "123456789012345675"
		gcn  = "4012345000016"
	)
	for _, c := range []struct {
		name, in string
		want     []Element
		err      error
	}{
		{"DataMatrix on a pack", "01" + gtin + "21ABC\x1d10LOT1", []Element{el("01", gtin), el("21", "ABC"), el("10", "LOT1")}, nil},
		{"predefined then variable", "01" + gtin + "17261231" + "10LOT1", []Element{el("01", gtin), el("17", "261231"), el("10", "LOT1")}, nil},
		{"GS after predefined", "01" + gtin + "\x1d17261231", []Element{el("01", gtin), el("17", "261231")}, nil},
		{"leading GS", "\x1d01" + gtin, []Element{el("01", gtin)}, nil},
		{"trailing GS", "10LOT1\x1d", []Element{el("10", "LOT1")}, nil},
		{"variable weight", "01" + "94012345678904" + "3103001250", []Element{el("01", "94012345678904"), el("3103", "001250")}, nil},
		{"SSCC", "00376104250021234569", []Element{el("00", "376104250021234569")}, nil},
		{"GSRN", "8018" + gsrn, []Element{el("8018", gsrn)}, nil},
		{"GSRN and SRIN", "8018" + gsrn + "\x1d8019123", []Element{el("8018", gsrn), el("8019", "123")}, nil},
		{"GCN", "255" + gcn, []Element{el("255", gcn)}, nil},
		{"GCN with serial and amount", "255" + gcn + "12345\x1d3902250", []Element{el("255", gcn+"12345"), el("3902", "250")}, nil},
		{"GCN with points", "255" + gcn + "\x1d81110100", []Element{el("255", gcn), el("8111", "0100")}, nil},
		{"positive offer coupon", "8112" + "0614141123456789012", []Element{el("8112", "0614141123456789012")}, nil},
		{"North American coupon", "8110" + "106141411234562891101201212085010048000214025610048000310123191000", []Element{el("8110", "106141411234562891101201212085010048000214025610048000310123191000")}, nil},
		{"internal", "91Aa-_.!%&()*+,/:;<=>?'\"", []Element{el("91", "Aa-_.!%&()*+,/:;<=>?'\"")}, nil},
		{"temperature", "4330001234-\x1d00376104250021234569", []Element{el("4330", "001234-"), el("00", "376104250021234569")}, nil},
		{"CSET 39", "8010ABC#-/12", []Element{el("8010", "ABC#-/12")}, nil},
		{"CSET 64 padded", "8030abc-_==", []Element{el("8030", "abc-_==")}, nil},

		{"empty", "", nil, ErrFormat},
		{"GS only", "\x1d", nil, ErrFormat},
		{"unknown AI", "2312345", nil, ErrFormat},
		{"one digit", "0", nil, ErrFormat},
		{"letters", "ABCDEF", nil, ErrFormat},
		{"GTIN cut short", "0104012345", nil, ErrFormat},
		{"GS inside a predefined value", "0104012\x1d345678901", nil, ErrFormat},
		{"GTIN check digit", "0104012345678902", nil, ErrChecksum},
		{"SSCC check digit", "00376104250021234568", nil, ErrChecksum},
		{"GLN check digit", "4144012345000017", nil, ErrChecksum},
		{"GSRN check digit", "8018123456789012345674", nil, ErrChecksum},
		{"GSRN provider check digit", "8017123456789012345674", nil, ErrChecksum},
		{"GCN check digit", "2554012345000017", nil, ErrChecksum},
		{"GSRN of 17 digits", "801812345678901234567", nil, ErrFormat},
		{"GSRN without GS before the next AI", "8018" + gsrn + "8019123", nil, ErrFormat},
		{"POINTS without GS before the next AI", "81110100255" + gcn, nil, ErrFormat},
		{"lot too long", "10" + strings.Repeat("A", 21), nil, ErrFormat},
		{"space in a lot", "10AB CD", nil, ErrFormat},
		{"umlaut in a lot", "10ÄB", nil, ErrFormat},
		{"letter in a number", "3900A", nil, ErrFormat},
		{"empty value", "10\x1d21A", nil, ErrFormat},
		{"empty value at the end", "01" + gtin + "21", nil, ErrFormat},
		{"two GS", "01" + gtin + "\x1d\x1d10A", nil, ErrFormat},
		{"lowercase in CSET 39", "8010abc", nil, ErrFormat},
		{"padding inside CSET 64", "8030ab=c", nil, ErrFormat},
		{"optional part too long", "4330001234-X", nil, ErrFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			es, err := ParseGS1(c.in)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("ParseGS1(%q) = %v, %v; want error %v", c.in, es, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseGS1(%q): %v", c.in, err)
			}
			if !slices.Equal(es, c.want) {
				t.Fatalf("ParseGS1(%q) = %v, want %v", c.in, es, c.want)
			}
			enc := encodeGS1(es)
			again, err := ParseGS1(enc)
			if err != nil || !slices.Equal(again, es) {
				t.Errorf("re-encoded %q parses as %v, %v", enc, again, err)
			}
		})
	}
}

func TestEncodeGS1(t *testing.T) {
	es := []Element{el("01", "04012345678901"), el("21", "ABC"), el("10", "LOT1"), el("17", "261231")}
	if got, want := encodeGS1(es), "0104012345678901"+"21ABC\x1d"+"10LOT1\x1d"+"17261231"; got != want {
		t.Errorf("encodeGS1 = %q, want %q", got, want)
	}
	if got := el("8018", "123456789012345675").String(); got != "(8018)123456789012345675" {
		t.Errorf("String() = %q", got)
	}
}
