package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Format is the layout of an import file.
type Format string

// Formats.
const (
	FormatCSV   Format = "csv"   // comma-separated, header row first
	FormatJSONL Format = "jsonl" // JSON Lines: one object per line
)

// ErrFormat is returned when a file's format cannot be told or is not
// supported.
var ErrFormat = errors.New("unknown format")

// ParseFormat parses a format name: "csv", or "jsonl" (also "ndjson").
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("%w %q: use csv or jsonl", ErrFormat, s)
}

// DetectFormat tells a file's format from its name and, when the name does
// not tell, from head, the first bytes of the file (512 are plenty).
//
// By extension (case-insensitive): .csv is CSV; .jsonl, .ndjson and .json
// are JSON Lines. Otherwise the first byte that is not white space (after a
// UTF-8 byte-order mark) decides: '{' is JSON Lines, a letter or '"' (the
// start of a CSV header) is CSV. A .json file or a file starting with '['
// holding one JSON array is refused: write one object per line.
func DetectFormat(name string, head []byte) (Format, error) {
	first, found := firstByte(head)
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		if first == '[' {
			return "", fmt.Errorf("%w: %s holds a JSON array; write one JSON object per line (JSON Lines)", ErrFormat, name)
		}
		return FormatJSONL, nil
	}
	switch {
	case first == '{':
		return FormatJSONL, nil
	case first == '[':
		return "", fmt.Errorf("%w: %s holds a JSON array; write one JSON object per line (JSON Lines)", ErrFormat, name)
	case first == '"' || first >= 'a' && first <= 'z' || first >= 'A' && first <= 'Z' || first == '_':
		return FormatCSV, nil
	case !found:
		return "", fmt.Errorf("%w: %s is empty; cannot tell CSV from JSON Lines (give the format)", ErrFormat, name)
	}
	return "", fmt.Errorf("%w: %s is neither CSV with a header row nor JSON Lines (give the format)", ErrFormat, name)
}

// firstByte returns the first byte of head that is not white space, after a
// byte-order mark; ok is false when there is none.
func firstByte(head []byte) (b byte, ok bool) {
	head = bytes.TrimPrefix(head, bom)
	for _, b := range head {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, true
	}
	return 0, false
}

var bom = []byte{0xEF, 0xBB, 0xBF}
