package counter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// errFraming marks a body that is not JSON at all (reject reason "framing");
// other decoding errors are well-formed JSON with unusable content
// ("format").
var errFraming = errors.New("malformed JSON")

// sample is one reading of a counter's registers.
type sample struct {
	at   time.Time  // zero when the push did not say
	regs []register // in the order sent
}

// register is one named cumulative value.
type register struct {
	name  string
	value uint64
}

// lookup returns the value of the register named name, ignoring case and
// surrounding spaces.
func (s *sample) lookup(name string) (uint64, bool) {
	for _, r := range s.regs {
		if strings.EqualFold(strings.TrimSpace(r.name), name) {
			return r.value, true
		}
	}
	return 0, false
}

// names lists the sample's register names, for error messages.
func (s *sample) names() string {
	q := make([]string, 0, len(s.regs))
	for i, r := range s.regs {
		if i == 8 {
			q = append(q, "…")
			break
		}
		q = append(q, strconv.Quote(r.name))
	}
	return strings.Join(q, ", ")
}

// wireSample and wirePush are the body as sent. Fields are raw so that every
// error names the field it is about. encoding/json matches keys ignoring
// case: "Timestamp", "Counts" and "CountLogs" (Irisys) land here too.
type wireSample struct {
	Time      json.RawMessage `json:"time"`
	Timestamp json.RawMessage `json:"timestamp"`
	Registers json.RawMessage `json:"registers"`
	Counts    json.RawMessage `json:"counts"`
}

type wirePush struct {
	wireSample
	Samples   json.RawMessage `json:"samples"`
	CountLogs json.RawMessage `json:"countlogs"`
}

type wireRegister struct {
	Name  *string         `json:"name"`
	Value json.RawMessage `json:"value"`
}

// decode parses a push body (see the package documentation) into its
// samples, in the order sent. It never panics; errors wrap errFraming when
// the body is not JSON.
func decode(body []byte) ([]sample, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty body: expected a JSON object with registers")
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w at byte %d: %s", errFraming, se.Offset, se.Error())
		}
		return nil, fmt.Errorf("%w: %v", errFraming, err)
	}
	if body[0] != '{' {
		return nil, errors.New("body is not a JSON object: expected {\"registers\": …}")
	}
	var p wirePush
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("body: %v", jsonReason(err))
	}
	batch, batchField := present(p.Samples), "samples"
	if !batch && present(p.CountLogs) {
		batch, batchField = true, "CountLogs"
	} else if batch && present(p.CountLogs) {
		return nil, errors.New("both samples and CountLogs: send one of them")
	}
	single := present(p.Time) || present(p.Timestamp) || present(p.Registers) || present(p.Counts)
	switch {
	case batch && single:
		return nil, fmt.Errorf("both %s and time or registers at the top level: send one sample, or a list of them in %s", batchField, batchField)
	case !batch:
		s, err := p.wireSample.parse("")
		if err != nil {
			return nil, err
		}
		return []sample{s}, nil
	}
	raw := p.Samples
	if batchField == "CountLogs" {
		raw = p.CountLogs
	}
	var ws []wireSample
	if err := json.Unmarshal(raw, &ws); err != nil {
		return nil, fmt.Errorf("%s: expected an array of samples: %v", batchField, jsonReason(err))
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("%s is empty: expected at least one sample", batchField)
	}
	out := make([]sample, 0, len(ws))
	for i, w := range ws {
		s, err := w.parse(fmt.Sprintf("%s[%d].", batchField, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// parse checks one sample; path prefixes field names in errors.
func (w *wireSample) parse(path string) (sample, error) {
	var s sample
	timeField, rawTime := "time", w.Time
	if !present(rawTime) {
		timeField, rawTime = "Timestamp", w.Timestamp
	} else if present(w.Timestamp) {
		return s, fmt.Errorf("%sboth time and Timestamp: send one of them", path)
	}
	if present(rawTime) {
		t, err := parseTime(rawTime)
		if err != nil {
			return s, fmt.Errorf("%s%s: %v", path, timeField, err)
		}
		s.at = t
	}
	regField, rawRegs := "registers", w.Registers
	if !present(rawRegs) {
		regField, rawRegs = "Counts", w.Counts
	} else if present(w.Counts) {
		return s, fmt.Errorf("%sboth registers and Counts: send one of them", path)
	}
	if !present(rawRegs) {
		return s, fmt.Errorf("%sregisters missing: expected \"registers\": [{\"name\": \"in\", \"value\": 1234}, …] or {\"in\": 1234, …}", path)
	}
	regs, err := parseRegisters(rawRegs, path+regField)
	if err != nil {
		return s, err
	}
	s.regs = regs
	return s, nil
}

// parseRegisters reads the array or the object form; path names the field.
func parseRegisters(raw json.RawMessage, path string) ([]register, error) {
	var regs []register
	switch raw[0] {
	case '[':
		var ws []wireRegister
		if err := json.Unmarshal(raw, &ws); err != nil {
			return nil, fmt.Errorf("%s: expected an array of {\"name\", \"value\"} objects: %v", path, jsonReason(err))
		}
		for i, w := range ws {
			at := fmt.Sprintf("%s[%d]", path, i)
			if w.Name == nil {
				return nil, fmt.Errorf("%s: name missing", at)
			}
			if strings.TrimSpace(*w.Name) == "" {
				return nil, fmt.Errorf("%s: name is empty", at)
			}
			if !present(w.Value) {
				return nil, fmt.Errorf("%s (%q): value missing", at, *w.Name)
			}
			v, err := parseValue(w.Value)
			if err != nil {
				return nil, fmt.Errorf("%s (%q): value %v", at, *w.Name, err)
			}
			regs = append(regs, register{name: *w.Name, value: v})
		}
	case '{':
		// Decoded token by token to keep the order and see duplicates.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil { // {
			return nil, fmt.Errorf("%s: %v", path, jsonReason(err))
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, jsonReason(err))
			}
			name, _ := tok.(string) // object keys are always strings
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("%s.%s: %v", path, name, jsonReason(err))
			}
			if strings.TrimSpace(name) == "" {
				return nil, fmt.Errorf("%s: a register with an empty name", path)
			}
			if !present(v) {
				return nil, fmt.Errorf("%s.%s: value missing (null)", path, name)
			}
			n, err := parseValue(v)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: value %v", path, name, err)
			}
			regs = append(regs, register{name: name, value: n})
		}
	default:
		return nil, fmt.Errorf("%s: expected an array or an object of registers, got %s", path, clip(raw))
	}
	if len(regs) == 0 {
		return nil, fmt.Errorf("%s is empty: expected at least the in or the out register", path)
	}
	for i := range regs {
		for j := range i {
			if strings.EqualFold(strings.TrimSpace(regs[i].name), strings.TrimSpace(regs[j].name)) {
				return nil, fmt.Errorf("%s: register %q appears twice", path, regs[i].name)
			}
		}
	}
	return regs, nil
}

// parseValue reads a non-negative integer from a JSON number or a decimal
// string.
func parseValue(raw json.RawMessage) (uint64, error) {
	lit := string(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("%s is not a string: %v", clip(raw), err)
		}
		lit = strings.TrimSpace(s)
	} else if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, fmt.Errorf("%s is not a number", clip(raw))
	}
	v, err := strconv.ParseUint(lit, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s is too large", clip(raw))
		}
		return 0, fmt.Errorf("%s is not a non-negative integer", clip(raw))
	}
	return v, nil
}

// minUnixMillis separates Unix seconds from Unix milliseconds: 10^11
// seconds is in the year 5138, 10^11 milliseconds in 1973.
const minUnixMillis = 100_000_000_000

// parseTime reads an RFC 3339 string with a zone, or Unix seconds or
// milliseconds.
func parseTime(raw json.RawMessage) (time.Time, error) {
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, fmt.Errorf("%s is not a string: %v", clip(raw), err)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			if _, lerr := time.Parse("2006-01-02T15:04:05.999999999", s); lerr == nil {
				return time.Time{}, fmt.Errorf("%q has no zone: send UTC with a trailing Z, or an offset such as +01:00", s)
			}
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-11-22T10:15:00Z", s)
		}
		return t, nil
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, fmt.Errorf("%s is neither an RFC 3339 string nor Unix seconds", clip(raw))
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 || f > math.MaxInt64/2 || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("%s is not a Unix time", clip(raw))
	}
	if f >= minUnixMillis {
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// present reports whether a raw field was sent with a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// clip shortens a raw value for an error message.
func clip(raw json.RawMessage) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}

// jsonReason turns an encoding/json error into words about the field.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			where = "value"
		}
		return fmt.Sprintf("%s is a JSON %s, expected %s", where, te.Value, kindName(te.Type))
	}
	return err.Error()
}

// kindName names a Go type as the JSON it decodes from.
func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}
