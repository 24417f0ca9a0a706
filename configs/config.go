// Package configs holds the RedCarpet configuration: its schema, its strict
// loader and the sample files shipped next to it (demo.toml,
// store.example.toml, hq.example.toml).
//
// Loading is strict and complete: a key the schema does not know is an error
// naming the key and its line, every field is validated with a message naming
// it, and all problems are reported together in one *Error. Nothing is opened
// here: Load reads one file and returns a validated value; callers open
// devices, sockets and the database only after Load succeeded.
package configs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Error lists every problem found in one configuration file.
type Error struct {
	File     string
	Problems []Problem
}

// Problem is one bad key or field. Line is 0 when the problem is about a
// value's meaning rather than its place in the file.
type Problem struct {
	Line  int
	Field string
	Msg   string
}

func (p Problem) String() string {
	switch {
	case p.Line > 0 && p.Field != "":
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Field, p.Msg)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	default:
		return fmt.Sprintf("%s: %s", p.Field, p.Msg)
	}
}

func (e *Error) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "config %s: %s", e.File, e.Problems[0])
		return b.String()
	}
	fmt.Fprintf(&b, "config %s: %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects validation findings; each section adds to it.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Load reads and validates a store configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a store configuration. name is used in error
// messages only.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	if err := decodeStrict(name, data, &c); err != nil {
		return nil, err
	}
	var ps problems
	c.validate(&ps)
	if len(ps) > 0 {
		return nil, &Error{File: name, Problems: ps}
	}
	return &c, nil
}

// decodeStrict decodes TOML refusing unknown keys. Unknown keys are all
// reported with their lines; a syntax or type error stops decoding and is
// reported with its line.
func decodeStrict(name string, data []byte, v any) error {
	err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(v)
	if err == nil {
		return nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		ps := make([]Problem, 0, len(strict.Errors))
		for _, de := range strict.Errors {
			line, _ := de.Position()
			ps = append(ps, Problem{Line: line, Msg: fmt.Sprintf("unknown key %q", strings.Join(de.Key(), "."))})
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
		return &Error{File: name, Problems: ps}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		return &Error{File: name, Problems: []Problem{{Line: line, Field: strings.Join(de.Key(), "."), Msg: msg}}}
	}
	return &Error{File: name, Problems: []Problem{{Msg: err.Error()}}}
}

// Duration is a time.Duration written as a Go duration string ("15m",
// "1.5s"). A malformed value does not stop decoding: it is kept and reported
// by validation with the field's name, so every problem is reported at once.
type Duration struct {
	time.Duration
	bad string
}

// D returns a Duration of d, for defaults and tests.
func D(d time.Duration) Duration { return Duration{Duration: d} }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		d.bad = string(b)
		return nil
	}
	d.Duration, d.bad = v, ""
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// check reports a malformed or out-of-range duration.
func (d Duration) check(ps *problems, field string, lo, hi time.Duration) {
	switch {
	case d.bad != "":
		ps.add(field, "%q is not a duration (use e.g. \"500ms\", \"15m\", \"2h\")", d.bad)
	case d.Duration < lo:
		ps.add(field, "%s is below the minimum %s", d.Duration, lo)
	case hi > 0 && d.Duration > hi:
		ps.add(field, "%s is above the maximum %s", d.Duration, hi)
	}
}
