package scanner

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
)

// frame runs a framer over steps: a string arrives as one read, a duration
// is silence. It returns the scans and the number of framing rejects.
func frame(t *testing.T, term Terminator, keep string, steps ...any) ([]string, int) {
	t.Helper()
	var (
		scans   []string
		rejects int
	)
	f := newFramer(term, 80*time.Millisecond, 1024, keep,
		func(b []byte) { scans = append(scans, string(b)) },
		func(reason string) {
			if reason != drivers.RejectFraming {
				t.Errorf("reject reason %q", reason)
			}
			rejects++
		})
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			f.feed([]byte(s))
		case time.Duration:
			f.silence(s)
		default:
			t.Fatalf("step %v", s)
		}
	}
	return scans, rejects
}

func TestFramer(t *testing.T) {
	ms := time.Millisecond
	long := strings.Repeat("x", 1024)
	for _, c := range []struct {
		name    string
		term    Terminator
		keep    string
		steps   []any
		scans   []string
		rejects int
	}{
		{"line CR", Line, "", []any{"A\r"}, []string{"A"}, 0},
		{"line LF", Line, "", []any{"A\n"}, []string{"A"}, 0},
		{"line CR LF is one terminator", Line, "", []any{"A\r\nB\r\n"}, []string{"A", "B"}, 0},
		{"line LF CR is two", Line, "", []any{"A\n\rB\r"}, []string{"A", "B"}, 0},
		{"line CR LF split", Line, "", []any{"A\r", "\nB", "\r"}, []string{"A", "B"}, 0},
		{"line terminators only", Line, "", []any{"\r\n\r\n\n\r"}, nil, 0},
		{"line unfinished", Line, "", []any{"AB"}, nil, 0},
		{"leading noise counted once", Line, "", []any{"\x00\x00\x01\x00\x7fA\r"}, []string{"A"}, 1},
		{"leading noise across reads", Line, "", []any{"\x00", "\x00", "A\r"}, []string{"A"}, 1},
		{"two runs of noise", Line, "", []any{"\x00\r\x00A\r"}, []string{"A"}, 2},
		{"noise inside a scan", Line, "", []any{"A\x00B\rC\r"}, []string{"C"}, 1},
		{"noise twice inside a scan", Line, "", []any{"A\x00B\x01\x02\rC\r"}, []string{"C"}, 1},
		{"DEL inside a scan", Line, "", []any{"A\x7f\r"}, nil, 1},
		{"GS is data", Line, "", []any{"A\x1dB\r"}, []string{"A\x1dB"}, 0},
		{"tab is noise", Line, "", []any{"\tA\r"}, []string{"A"}, 1},
		{"8-bit bytes are data", Line, "", []any{"Grüße\r"}, []string{"Grüße"}, 0},
		{"0xFF is data (the decoder rejects what is not UTF-8)", Line, "", []any{"\xffA\r"}, []string{"\xffA"}, 0},
		{"STX and ETX to strip are data", Line, "\x02\x03", []any{"\x02A\x03\r"}, []string{"\x02A\x03"}, 0},
		{"longest scan", Line, "", []any{long + "\r"}, []string{long}, 0},
		{"overlong", Line, "", []any{long + "y\rB\r"}, []string{"B"}, 1},
		{"much too long", Line, "", []any{long, long, long, "\rB\r"}, []string{"B"}, 1},
		{"cut short", Line, "", []any{"AB", 600 * ms, 400 * ms, "C\r"}, []string{"C"}, 1},
		{"slow, not cut short", Line, "", []any{"AB", 600 * ms, "C", 600 * ms, "\r"}, []string{"ABC"}, 0},
		{"noise, silence, noise", Line, "", []any{"\x00", time.Second, "\x00"}, nil, 2},
		{"cr", CR, "", []any{"A\rB\r"}, []string{"A", "B"}, 0},
		{"cr with LF noise", CR, "", []any{"A\r\nB\r"}, []string{"A", "B"}, 1},
		{"lf", LF, "", []any{"A\nB\n"}, []string{"A", "B"}, 0},
		{"lf with CR in a scan", LF, "", []any{"A\r\n"}, nil, 1},
		{"crlf", CRLF, "", []any{"A\r\nB\r\n"}, []string{"A", "B"}, 0},
		{"crlf split", CRLF, "", []any{"A\r", "\n"}, []string{"A"}, 0},
		{"crlf lone CR in a scan", CRLF, "", []any{"A\rB\r\n"}, nil, 1},
		{"crlf lone LF in a scan", CRLF, "", []any{"A\nB\r\nC\r\n"}, []string{"C"}, 1},
		{"crlf lone CR between scans", CRLF, "", []any{"\r\r\nA\r\n"}, []string{"A"}, 1},
		{"crlf lone CR at the end", CRLF, "", []any{"A\r", time.Second}, nil, 1},
		{"tab", Tab, "", []any{"A\tB\t"}, []string{"A", "B"}, 0},
		{"tab with CR LF", Tab, "", []any{"A\r\n\t"}, nil, 1},
		{"idle", Idle, "", []any{"AB", 80 * ms}, []string{"AB"}, 0},
		{"idle gap in pieces", Idle, "", []any{"AB", 40 * ms, 40 * ms}, []string{"AB"}, 0},
		{"idle gap interrupted", Idle, "", []any{"AB", 40 * ms, "C", 40 * ms, 40 * ms}, []string{"ABC"}, 0},
		{"idle two scans", Idle, "", []any{"AB", 80 * ms, "CD", 80 * ms}, []string{"AB", "CD"}, 0},
		{"idle unfinished", Idle, "", []any{"AB"}, nil, 0},
		{"idle CR is noise", Idle, "", []any{"A\rB", 80 * ms}, nil, 1},
		{"idle GS is data", Idle, "", []any{"A\x1dB", 80 * ms}, []string{"A\x1dB"}, 0},
		{"idle leading noise", Idle, "", []any{"\x00", 80 * ms, "A", 80 * ms}, []string{"A"}, 1},
		{"idle overlong", Idle, "", []any{long, long, 80 * ms, "B", 80 * ms}, []string{"B"}, 1},
		{"idle never cut short", Idle, "", []any{"A", 79 * ms, "B", 79 * ms, "C", 80 * ms}, []string{"ABC"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			scans, rejects := frame(t, c.term, c.keep, c.steps...)
			if !slices.Equal(scans, c.scans) || rejects != c.rejects {
				t.Errorf("scans %q, %d rejects; want %q, %d", scans, rejects, c.scans, c.rejects)
			}
		})
	}
}

func TestTerminatorValid(t *testing.T) {
	for _, term := range []Terminator{Line, CR, LF, CRLF, Tab, Idle} {
		if err := term.valid(); err != nil {
			t.Error(err)
		}
	}
	for _, term := range []Terminator{"", "LINE", "etx"} {
		if term.valid() == nil {
			t.Errorf("%q valid", term)
		}
	}
}
