package catalog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Limits on input, so a malformed file cannot exhaust memory.
const (
	// MaxLineBytes is the longest accepted JSON line or CSV record. A longer
	// JSON line is a bad line; a longer CSV record (usually a quoted field
	// that is never closed) stops the import, because the records after it
	// cannot be found reliably.
	MaxLineBytes = 1 << 20
	bufSize      = 64 << 10
)

// ErrHeader is wrapped by the errors about a CSV header row: unknown,
// duplicate, unnamed or missing required columns.
var ErrHeader = errors.New("csv header")

// ErrLineTooLong is wrapped by the error returned for a CSV record longer
// than MaxLineBytes.
var ErrLineTooLong = errors.New("record too long")

// LineError is one bad line: the line is skipped and the import goes on.
// Line is the 1-based physical line number (for a CSV record spanning
// several lines, the line it starts on). Field names the column or JSON
// field at fault, or is empty when the line as a whole is malformed. Err
// never holds a card UID, a barcode or a first name.
type LineError struct {
	Line  int
	Field string
	Err   error
}

func (e LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Field, e.Err)
}

// Reason is the error without its line number: "tier: ...".
func (e LineError) Reason() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e LineError) Unwrap() error { return e.Err }

// Result counts what a read saw. Lines counts records (blank lines and the
// CSV header are not records); Good counts records passed to yield, Bad the
// records reported as bad. Lines == Good + Bad.
type Result struct {
	Lines, Good, Bad int
}

// fieldError is a problem with one field of a record.
type fieldError struct {
	field string
	err   error
}

func errorf(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, err: fmt.Errorf(format, args...)}
}

// kind describes one record type: its CSV columns and how a record is built
// and checked against the rest of the file.
type kind[T any] struct {
	columns  []string // CSV column names, indexed by column number
	required []int    // columns that must be in the header
	fromCSV  func(row) (T, *fieldError)
	fromJSON func(line []byte) (T, *fieldError)
	// accept checks a valid record against the records accepted before it
	// (duplicates) and, when it passes, remembers it.
	accept func(line int, v *T) *fieldError
}

// row is one CSV record seen through the header.
type row struct {
	pos []int // column number → field index, -1 when the column is absent
	rec []string
}

// get returns a column's value, trimmed; "" when the column is absent.
func (r row) get(col int) string {
	i := r.pos[col]
	if i < 0 || i >= len(r.rec) {
		return ""
	}
	return strings.TrimSpace(r.rec[i])
}

// read streams records from r, reporting bad ones and yielding good ones.
func read[T any](r io.Reader, f Format, k *kind[T], yield func(T) error, bad func(LineError)) (Result, error) {
	var res Result
	if bad == nil {
		bad = func(LineError) {}
	}
	emit := func(line int, v T, fe *fieldError) error {
		res.Lines++
		if fe == nil {
			fe = k.accept(line, &v)
		}
		if fe != nil {
			res.Bad++
			bad(LineError{Line: line, Field: fe.field, Err: fe.err})
			return nil
		}
		res.Good++
		return yield(v)
	}
	var err error
	switch f {
	case FormatCSV:
		err = readCSV(r, k, &res, emit, bad)
	case FormatJSONL:
		err = readJSONL(r, k, &res, emit, bad)
	default:
		err = fmt.Errorf("%w %q", ErrFormat, f)
	}
	return res, err
}

func readCSV[T any](r io.Reader, k *kind[T], res *Result, emit func(int, T, *fieldError) error, bad func(LineError)) error {
	g := &guard{r: r, limit: MaxLineBytes + bufSize}
	br := bufio.NewReaderSize(g, bufSize)
	skipBOM(br)
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	header, err := cr.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the file is empty; the first line must name the columns (%s)", ErrHeader, strings.Join(k.columns, ","))
	case errors.Is(err, ErrLineTooLong):
		return fmt.Errorf("%w: header longer than %d bytes", ErrLineTooLong, MaxLineBytes)
	case errors.As(err, &pe):
		return fmt.Errorf("%w: line %d: %v", ErrHeader, pe.StartLine, pe.Err)
	case err != nil:
		return fmt.Errorf("read header: %w", err)
	}
	last, _ := cr.FieldPos(0)
	pos, err := mapHeader(header, k)
	if err != nil {
		return err
	}
	cr.FieldsPerRecord = len(header)
	for {
		g.n = 0
		rec, err := cr.Read()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, ErrLineTooLong):
			return fmt.Errorf("line %d: %w: the record after it is longer than %d bytes (is a quoted field never closed?)",
				last, ErrLineTooLong, MaxLineBytes)
		case errors.As(err, &pe):
			last = pe.StartLine
			res.Lines++
			res.Bad++
			bad(LineError{Line: pe.StartLine, Err: csvReason(pe, len(rec), len(header))})
			continue
		case err != nil:
			return fmt.Errorf("read after line %d: %w", last, err)
		}
		last, _ = cr.FieldPos(0)
		v, fe := k.fromCSV(row{pos: pos, rec: rec})
		if err := emit(last, v, fe); err != nil {
			return err
		}
	}
}

// csvReason explains a CSV syntax error without quoting the record.
func csvReason(pe *csv.ParseError, got, want int) error {
	switch {
	case errors.Is(pe.Err, csv.ErrFieldCount):
		return fmt.Errorf("has %d fields, the header has %d", got, want)
	case pe.Line != pe.StartLine:
		return fmt.Errorf("bad quoting: a quoted field runs from this line to line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	default:
		return fmt.Errorf("bad quoting at column %d: %v", pe.Column, pe.Err)
	}
}

// mapHeader maps the header's columns to the kind's column numbers.
func mapHeader[T any](header []string, k *kind[T]) ([]int, error) {
	pos := make([]int, len(k.columns))
	for i := range pos {
		pos[i] = -1
	}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "" {
			return nil, fmt.Errorf("%w: column %d has no name", ErrHeader, i+1)
		}
		col := -1
		for c, known := range k.columns {
			if name == known {
				col = c
				break
			}
		}
		if col < 0 {
			hint := ""
			if strings.Contains(name, ";") && len(header) == 1 {
				hint = "; the file looks semicolon-separated, columns must be separated by commas"
			}
			return nil, fmt.Errorf("%w: unknown column %q (known columns: %s)%s", ErrHeader, name, strings.Join(k.columns, ", "), hint)
		}
		if pos[col] >= 0 {
			return nil, fmt.Errorf("%w: column %q appears twice", ErrHeader, name)
		}
		pos[col] = i
	}
	for _, c := range k.required {
		if pos[c] < 0 {
			return nil, fmt.Errorf("%w: required column %q is missing", ErrHeader, k.columns[c])
		}
	}
	return pos, nil
}

func readJSONL[T any](r io.Reader, k *kind[T], res *Result, emit func(int, T, *fieldError) error, bad func(LineError)) error {
	br := bufio.NewReaderSize(r, bufSize)
	skipBOM(br)
	var buf []byte
	for n := 1; ; n++ {
		line, tooLong, err := nextLine(br, &buf)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read line %d: %w", n, err)
		}
		if err == io.EOF && len(line) == 0 && !tooLong {
			return nil
		}
		switch {
		case tooLong:
			res.Lines++
			res.Bad++
			bad(LineError{Line: n, Err: fmt.Errorf("longer than %d bytes", MaxLineBytes)})
		case len(bytes.TrimSpace(line)) == 0:
			// blank line: not a record
		default:
			v, fe := k.fromJSON(line)
			if err := emit(n, v, fe); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// nextLine reads one line into *buf, without its line ending. A line longer
// than MaxLineBytes is read to its end but not kept: tooLong reports it.
func nextLine(br *bufio.Reader, buf *[]byte) (line []byte, tooLong bool, err error) {
	b := (*buf)[:0]
	for {
		var chunk []byte
		chunk, err = br.ReadSlice('\n')
		if !tooLong {
			if len(b)+len(chunk) > MaxLineBytes+2 { // room for "\r\n"
				tooLong, b = true, b[:0]
			} else {
				b = append(b, chunk...)
			}
		}
		if err != bufio.ErrBufferFull {
			break
		}
	}
	*buf = b
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) > MaxLineBytes {
		tooLong, b = true, nil
	}
	return b, tooLong, err
}

// decodeJSON decodes one JSON object into v, refusing unknown fields and
// anything after the object.
func decodeJSON(line []byte, v any) *fieldError {
	if !utf8.Valid(line) {
		// encoding/json would silently replace the bad bytes.
		return errorf("", "not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	if err == nil {
		if _, terr := d.Token(); terr != io.EOF {
			return errorf("", "invalid JSON: more after the object")
		}
		return nil
	}
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return errorf("", "invalid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return errorf("", "invalid JSON: the line ends inside the object")
	case errors.As(err, &te):
		if te.Field == "" {
			got, _, _ := strings.Cut(te.Value, " ")
			return errorf("", "want a JSON object, got %s", got)
		}
		// Only the JSON kind of the value ("number"), never the value.
		got, _, _ := strings.Cut(te.Value, " ")
		want := describe(te.Type)
		if want == "an integer" && got == "number" {
			return errorf(te.Field, "want a whole number")
		}
		return errorf(te.Field, "want %s, got %s", want, got)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errorf(strings.Trim(name, `"`), "unknown field")
	}
	return errorf("", "invalid JSON: %v", err)
}

// describe names a JSON type the way a person writing the file would.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return describe(t.Elem())
	}
	return t.String()
}

func skipBOM(br *bufio.Reader) {
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		br.Discard(len(bom))
	}
}

// guard fails reads once more than limit bytes were read since n was last
// reset, which bounds the memory of one CSV record: encoding/csv reads
// ahead at most one buffer (bufSize) beyond the record it returns.
type guard struct {
	r     io.Reader
	n     int
	limit int
}

func (g *guard) Read(p []byte) (int, error) {
	if g.n > g.limit {
		return 0, ErrLineTooLong
	}
	n, err := g.r.Read(p)
	g.n += n
	return n, err
}

// seen remembers identifiers accepted earlier in a file, as 64-bit keyed
// hashes with the line they appeared on: about 20 bytes each whatever
// their length. The seed is random per read, so a collision (odds about
// n²/2⁶⁵: 3·10⁻⁸ for a million identifiers) cannot be provoked and does
// not repeat.
type seen struct {
	seed  maphash.Seed
	lines map[uint64]int32
}

func newSeen() *seen { return &seen{seed: maphash.MakeSeed(), lines: map[uint64]int32{}} }

// Identifier domains, so a card and a barcode with the same bytes differ.
const (
	domainMember  = 'm'
	domainOffer   = 'o'
	domainCard    = 'c'
	domainBarcode = 'b'
)

func (s *seen) key(domain byte, v string) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteByte(domain)
	h.WriteString(v)
	return h.Sum64()
}

// line returns the line a key was seen on, or 0.
func (s *seen) line(k uint64) int { return int(s.lines[k]) }

func (s *seen) add(k uint64, line int) {
	if line > 1<<31-1 {
		line = 1<<31 - 1
	}
	s.lines[k] = int32(line)
}
