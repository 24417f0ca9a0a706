package catalog

import (
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Field limits.
const (
	maxIDBytes      = 64   // member and offer ids
	maxLabelBytes   = 64   // tiers, segments, categories, first names
	maxTitleBytes   = 200  // offer titles
	maxBodyBytes    = 2000 // offer bodies
	maxBarcodeBytes = 128  // loyalty and list barcodes
	maxCards        = 32   // cards per member
	maxMeanDays     = 3650 // a purchase cycle of ten years
	maxCount        = 1_000_000
	minYear         = 1970
	maxYear         = 2999
)

// checkID returns why s is not a valid member or offer id, or "".
func checkID(s string) string {
	switch {
	case s == "":
		return "is required"
	case len(s) > maxIDBytes:
		return fmt.Sprintf("is longer than %d bytes", maxIDBytes)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return "contains white space or a control character"
		}
	}
	return ""
}

// checkText returns why s is not acceptable free text, or "". Control
// characters are refused, except new lines and tabs when multiline.
func checkText(s string, max int, multiline bool) string {
	if len(s) > max {
		return fmt.Sprintf("is longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return "contains a control character"
		}
	}
	return ""
}

// text checks an optional single-line text field.
func text(field, s string, max int) (string, *fieldError) {
	if why := checkText(s, max, false); why != "" {
		return "", errorf(field, "%s", why)
	}
	return s, nil
}

// label checks one name in a list (a category, a segment): non-empty,
// single-line, at most maxLabelBytes.
func label(s string) string {
	if strings.TrimSpace(s) == "" {
		return "is empty"
	}
	return checkText(s, maxLabelBytes, false)
}

// parseFloat parses a finite decimal number.
func parseFloat(s string) (float64, string) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		if strings.Contains(s, ",") {
			return 0, fmt.Sprintf("%q is not a number (use a dot as the decimal separator)", s)
		}
		return 0, fmt.Sprintf("%q is not a number", s)
	}
	return v, ""
}

// parseInt parses a decimal integer.
func parseInt(s string) (int, string) {
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Sprintf("%q is not a whole number", s)
	}
	return v, ""
}

// parseBool parses true/false/yes/no/1/0, any case; "" is false.
func parseBool(s string) (bool, string) {
	switch strings.ToLower(s) {
	case "", "false", "no", "0":
		return false, ""
	case "true", "yes", "1":
		return true, ""
	}
	return false, fmt.Sprintf("%q is not true, false, yes, no, 1 or 0", s)
}

// parseStage parses a lifecycle stage, any case; "" is no stage.
func parseStage(s string) (edge.Stage, string) {
	st := edge.Stage(strings.ToLower(strings.TrimSpace(s)))
	if st == "" || slices.Contains(edge.Stages, st) {
		return st, ""
	}
	names := make([]string, len(edge.Stages))
	for i, s := range edge.Stages {
		names[i] = string(s)
	}
	return "", fmt.Sprintf("%q is not one of %s", s, strings.Join(names, ", "))
}

// parseChannel parses an offer channel, any case.
func parseChannel(s string) (edge.Channel, string) {
	switch ch := edge.Channel(strings.ToLower(strings.TrimSpace(s))); ch {
	case edge.ChannelSignage, edge.ChannelCheckout:
		return ch, ""
	}
	return "", fmt.Sprintf("%q is not one of %s, %s", s, edge.ChannelSignage, edge.ChannelCheckout)
}

// parseTime parses an RFC 3339 time or a date YYYY-MM-DD, which means
// local midnight in loc at the start of that day, or at its end (the next
// local midnight) when end is set.
func parseTime(s string, loc *time.Location, end bool) (time.Time, string) {
	var (
		t   time.Time
		err error
	)
	if len(s) == len(time.DateOnly) {
		t, err = time.ParseInLocation(time.DateOnly, s, loc)
		if err == nil && end {
			t = t.AddDate(0, 0, 1)
		}
	} else {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		if s == "" {
			return t, "is required"
		}
		return t, fmt.Sprintf("%q is not a date (YYYY-MM-DD) or an RFC 3339 time (2026-11-10T08:00:00+01:00)", s)
	}
	if y := t.Year(); y < minYear || y > maxYear {
		return t, fmt.Sprintf("year %d is outside %d..%d", y, minYear, maxYear)
	}
	return t, ""
}

// parseCard decodes one card id: hex digits, optionally separated by ':',
// '-' or ' ', of 3 to 10 bytes (the forms readers produce: see package
// drivers/rfid). The reason never quotes the value.
func parseCard(s string) ([]byte, string) {
	var digits [2 * 10]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '-' || c == ' ':
			continue
		case !isHex(c):
			return nil, "is not hex"
		case n == len(digits):
			return nil, "is longer than 10 bytes; a card id has 3 to 10 bytes"
		}
		digits[n] = c
		n++
	}
	if n == 0 {
		return nil, "is empty"
	}
	if n%2 != 0 {
		return nil, "has an odd number of hex digits"
	}
	uid := make([]byte, n/2)
	if _, err := hex.Decode(uid, digits[:n]); err != nil {
		return nil, "is not hex"
	}
	if len(uid) < 3 {
		return nil, fmt.Sprintf("is %d bytes; a card id has 3 to 10 bytes", len(uid))
	}
	return uid, ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkBarcode returns why s is not a member barcode, or "". A barcode is
// printable ASCII without spaces; 13 digits must be a valid EAN-13. The
// reason never quotes the value.
func checkBarcode(s string) string {
	if len(s) > maxBarcodeBytes {
		return fmt.Sprintf("is longer than %d characters", maxBarcodeBytes)
	}
	digits := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' {
			return "may hold only printable ASCII characters without spaces"
		}
		digits = digits && c >= '0' && c <= '9'
	}
	if digits && len(s) == 13 && !ean13OK(s) {
		return "has 13 digits but a wrong EAN-13 check digit"
	}
	return ""
}

// ean13OK verifies the check digit of 13 ASCII digits.
func ean13OK(s string) bool {
	sum := 0
	for i := 0; i < 12; i++ {
		d := int(s[i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(s[12]-'0')
}

// splitList splits a ';'-separated CSV list, trimming items and dropping
// empty ones.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for item := range strings.SplitSeq(s, ";") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// labels checks a list of names and drops repeated ones, keeping order.
func labels(field string, items []string) ([]string, *fieldError) {
	var out []string
	for i, it := range items {
		it = strings.TrimSpace(it)
		if why := label(it); why != "" {
			return nil, errorf(field, "item %d %s", i+1, why)
		}
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out, nil
}
