package counter

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 15, 0, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want []sample
		err  string // substring; "" for success
	}{
		{"array form", `{"time":"2026-11-22T10:15:00Z","registers":[{"name":"in","value":1234},{"name":"out","value":1200}]}`,
			[]sample{{ts, []register{{"in", 1234}, {"out", 1200}}}}, ""},
		{"object form keeps order", `{"registers":{"out":1200,"in":1234}}`,
			[]sample{{time.Time{}, []register{{"out", 1200}, {"in", 1234}}}}, ""},
		{"offset time, string value", `{"time":"2026-11-22T11:15:00+01:00","registers":{"in":"  42 "}}`,
			[]sample{{ts, []register{{"in", 42}}}}, ""},
		{"null and empty time", `{"time":null,"timestamp":"","registers":{"in":1}}`,
			[]sample{{time.Time{}, []register{{"in", 1}}}}, ""},
		{"largest value", `{"registers":{"in":18446744073709551615}}`,
			[]sample{{time.Time{}, []register{{"in", 1<<64 - 1}}}}, ""},
		{"samples", `{"samples":[{"registers":{"in":1}},{"time":1795342500,"registers":{"in":2}}]}`,
			[]sample{{time.Time{}, []register{{"in", 1}}}, {ts, []register{{"in", 2}}}}, ""},
		{"both forms", `{"samples":[{"registers":{"in":1}}],"registers":{"in":1}}`, nil, "both samples and time or registers"},
		{"both batches", `{"samples":[],"CountLogs":[]}`, nil, "both samples and CountLogs"},
		{"empty samples", `{"samples":[]}`, nil, "samples is empty"},
		{"samples not an array", `{"samples":{"in":1}}`, nil, "samples: expected an array of samples: value is a JSON object, expected an array"},
		{"sample without registers", `{"samples":[{"registers":{"in":1}},{"time":"2026-11-22T10:15:00Z"}]}`, nil, "samples[1].registers missing"},
		{"registers a string", `{"registers":"in=1"}`, nil, `registers: expected an array or an object of registers, got "in=1"`},
		{"register entry not an object", `{"registers":[1]}`, nil, "registers: expected an array of {\"name\", \"value\"} objects: value is a JSON number, expected an object"},
		{"name missing", `{"registers":[{"value":1}]}`, nil, "registers[0]: name missing"},
		{"name empty", `{"registers":[{"name":" ","value":1}]}`, nil, "registers[0]: name is empty"},
		{"name not a string", `{"registers":[{"name":3,"value":1}]}`, nil, "name is a JSON number, expected a string"},
		{"value missing", `{"registers":[{"name":"in"}]}`, nil, `registers[0] ("in"): value missing`},
		{"value null", `{"registers":{"in":null}}`, nil, "registers.in: value missing (null)"},
		{"value bool", `{"registers":{"in":true}}`, nil, "registers.in: value true is not a number"},
		{"value too large", `{"registers":{"in":18446744073709551616}}`, nil, "is too large"},
		{"value exponent", `{"registers":{"in":1e3}}`, nil, "1e3 is not a non-negative integer"},
		{"empty name in object", `{"registers":{"":1}}`, nil, "a register with an empty name"},
		{"duplicate in object", `{"registers":{"in":1,"in":2}}`, nil, `register "in" appears twice`},
		{"bad time", `{"time":"yesterday","registers":{"in":1}}`, nil, `time: "yesterday" is not an RFC 3339 time`},
		{"time without zone", `{"Timestamp":"2026-11-22T10:15:00","Counts":{"in":1}}`, nil, "Timestamp: \"2026-11-22T10:15:00\" has no zone"},
		{"negative unix time", `{"time":-1,"registers":{"in":1}}`, nil, "is not a Unix time"},
		{"time an object", `{"time":{},"registers":{"in":1}}`, nil, "neither an RFC 3339 string nor Unix seconds"},
		{"time and timestamp", `{"time":1795342500,"timestamp":1795342500,"registers":{"in":1}}`, nil, "both time and Timestamp"},
		{"trailing garbage", `{"registers":{"in":1}} x`, nil, "malformed JSON"},
		{"not JSON", "in=1&out=2", nil, "malformed JSON at byte 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d samples, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !got[i].at.Equal(tt.want[i].at) || len(got[i].regs) != len(tt.want[i].regs) {
					t.Fatalf("sample %d = %+v, want %+v", i, got[i], tt.want[i])
				}
				for j := range got[i].regs {
					if got[i].regs[j] != tt.want[i].regs[j] {
						t.Errorf("sample %d register %d = %+v, want %+v", i, j, got[i].regs[j], tt.want[i].regs[j])
					}
				}
			}
		})
	}
}

func TestDecodeFramingErrors(t *testing.T) {
	for _, body := range []string{"{", `{"registers":{"in":1,}}`, "\x00"} {
		if _, err := decode([]byte(body)); !errors.Is(err, errFraming) {
			t.Errorf("decode(%q) = %v, want a framing error", body, err)
		}
	}
	if _, err := decode([]byte(`{"registers":"x"}`)); err == nil || errors.Is(err, errFraming) {
		t.Errorf("well-formed but unusable JSON: %v, want a format error", err)
	}
}

// A body as an Irisys Vector sends it (HTTP POST programming guide: the
// logs not yet delivered, each with all registers) decodes as it is.
func TestDecodeIrisysVector(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "irisys_vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].at.Format(time.RFC3339) != "2026-11-22T10:15:00Z" || len(got[1].regs) != 5 {
		t.Fatalf("got %+v", got)
	}
	if v, ok := got[1].lookup("line 1"); !ok || v != 4829 {
		t.Errorf(`"line 1" = %d %v, want 4829`, v, ok)
	}
	if v, ok := got[0].lookup("Line 2"); !ok || v != 4790 {
		t.Errorf(`"Line 2" = %d %v, want 4790`, v, ok)
	}
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"time":"2026-11-22T10:15:00Z","registers":[{"name":"in","value":1234},{"name":"out","value":1200}]}`,
		`{"registers":{"in":1234,"out":"1200"}}`,
		`{"samples":[{"time":1795342500,"registers":{"in":1}},{"time":1795342500000,"registers":{"in":2}}]}`,
		`{"CountLogs":[{"Counts":[{"Name":"Line 1","RegisterId":0,"Value":121}],"Timestamp":"2018-12-03T14:21:00Z"}]}`,
		`{"registers":{"in":1e400}}`, `{"time":1e400,"registers":{"in":1}}`, `{"time":"","registers":[]}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	if body, err := os.ReadFile(filepath.Join("testdata", "irisys_vector.json")); err == nil {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		samples, err := decode(body)
		if err != nil {
			if samples != nil {
				t.Errorf("samples %v with error %v", samples, err)
			}
			return
		}
		if len(samples) == 0 {
			t.Fatal("no samples and no error")
		}
		for _, s := range samples {
			if len(s.regs) == 0 {
				t.Fatal("a sample without registers and no error")
			}
			for _, r := range s.regs {
				if strings.TrimSpace(r.name) == "" {
					t.Fatal("a register without a name and no error")
				}
			}
			if !s.at.IsZero() && s.at.Year() < 1970 {
				t.Errorf("time %v before the epoch", s.at)
			}
		}
	})
}
