package catalog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	_ "time/tzdata" // Europe/Paris on machines without tzdata

	"github.com/redcarpet-retail/redcarpet/edge"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// paris is the store time zone used by the tests: it has DST.
var paris = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}()

// got is what one read produced.
type got[T any] struct {
	res  Result
	err  error
	good []T
	bad  []LineError
	log  []string // good and bad, in call order, for golden files
}

func readAll[T any](read func(io.Reader, Format, *time.Location, func(T) error, func(LineError)) (Result, error),
	f Format, in io.Reader, show func(T) string) got[T] {
	var g got[T]
	g.res, g.err = read(in, f, paris, func(v T) error {
		g.good = append(g.good, v)
		g.log = append(g.log, "good: "+show(v))
		return nil
	}, func(le LineError) {
		g.bad = append(g.bad, le)
		g.log = append(g.log, le.Error())
	})
	return g
}

func members(f Format, in string) got[edge.MemberRecord] {
	return readAll(ReadMembers, f, strings.NewReader(in), showMember)
}

func offers(f Format, in string) got[edge.Offer] {
	return readAll(ReadOffers, f, strings.NewReader(in), showOffer)
}

func showMember(r edge.MemberRecord) string {
	b, err := json.Marshal(r.Member)
	if err != nil {
		return "marshal: " + err.Error()
	}
	cards := make([]string, len(r.Cards))
	for i, c := range r.Cards {
		cards[i] = hex.EncodeToString(c)
	}
	return fmt.Sprintf("%s cards=%v loyalty=%q list=%q", b, cards, r.Loyalty, r.List)
}

func showOffer(o edge.Offer) string {
	b, err := json.Marshal(o)
	if err != nil {
		return "marshal: " + err.Error()
	}
	return string(b)
}

func badLines(bad []LineError) []int {
	var out []int
	for _, le := range bad {
		out = append(out, le.Line)
	}
	return out
}

// TestFixtures reads the realistic files in testdata/, checks the exact bad
// lines and ids, and compares everything with a golden file
// (go test -run TestFixtures -update to rewrite them).
func TestFixtures(t *testing.T) {
	tests := []struct {
		file      string
		wantBad   []int
		wantGood  []string // ids
		wantField []string // field of each bad line
	}{
		{"members.csv", []int{4, 6, 7, 8}, []string{"M-0001", "M-0002", "M-0004", "M-0007"},
			[]string{"affinity", "loyalty_barcode", "id", "cards"}},
		{"members.jsonl", []int{3, 4, 5, 7, 8}, []string{"M-1001", "M-1002", "M-1008"},
			[]string{"loyalty", "cycles", "greet_by_name", "cycles", "cards"}},
		{"offers.csv", []int{5, 6, 8, 9}, []string{"OF-DAIRY-11", "OF-WINE-11", "OF-BREAD"},
			[]string{"channels", "valid_to", "id", "discount_pct"}},
		{"offers.jsonl", []int{3, 4, 5, 7}, []string{"OF-COFFEE", "OF-XMAS", "OF-FRUIT"},
			[]string{"channels", "discount", "cap_per_member", "valid_from"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			format, err := DetectFormat(tt.file, data)
			if err != nil {
				t.Fatal(err)
			}
			var (
				res  Result
				ids  []string
				bad  []LineError
				log  []string
				rerr error
			)
			if strings.HasPrefix(tt.file, "members") {
				g := readAll(ReadMembers, format, bytes.NewReader(data), showMember)
				res, bad, log, rerr = g.res, g.bad, g.log, g.err
				for _, m := range g.good {
					ids = append(ids, m.Member.ID)
				}
			} else {
				g := readAll(ReadOffers, format, bytes.NewReader(data), showOffer)
				res, bad, log, rerr = g.res, g.bad, g.log, g.err
				for _, o := range g.good {
					ids = append(ids, o.ID)
				}
			}
			if rerr != nil {
				t.Fatalf("read: %v", rerr)
			}
			if got := badLines(bad); fmt.Sprint(got) != fmt.Sprint(tt.wantBad) {
				t.Errorf("bad lines = %v, want %v\n%s", got, tt.wantBad, strings.Join(log, "\n"))
			}
			for i, le := range bad {
				if i < len(tt.wantField) && le.Field != tt.wantField[i] {
					t.Errorf("line %d: field %q, want %q (%v)", le.Line, le.Field, tt.wantField[i], le)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantGood) {
				t.Errorf("good ids = %v, want %v", ids, tt.wantGood)
			}
			want := Result{Lines: len(tt.wantBad) + len(tt.wantGood), Good: len(tt.wantGood), Bad: len(tt.wantBad)}
			if res != want {
				t.Errorf("result = %+v, want %+v", res, want)
			}
			golden(t, filepath.Join("testdata", tt.file+".golden"), strings.Join(log, "\n")+"\n")
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestBadLineThree: a malformed line 3 is reported as line 3 and every other
// line is read, in both formats.
func TestBadLineThree(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
	}{
		{"csv field count", FormatCSV, "id,tier\nM1,gold\nM2,gold,extra\nM3,silver\nM4,\n"},
		{"csv bare quote", FormatCSV, "id,tier\nM1,gold\nM2,go\"ld\nM3,silver\nM4,\n"},
		{"csv bad field", FormatCSV, "id,stage\nM1,new\nM2,vip\nM3,active\nM4,\n"},
		{"csv crlf", FormatCSV, "id,stage\r\nM1,new\r\nM2,vip\r\nM3,active\r\nM4,\r\n"},
		{"jsonl syntax", FormatJSONL, `{"id":"M1"}` + "\n" + `{"id":"M2"}` + "\n" + `{"id":"M3",` + "\n" + `{"id":"M3"}` + "\n" + `{"id":"M4"}` + "\n"},
		{"jsonl crlf no final newline", FormatJSONL, "{\"id\":\"M1\"}\r\n{\"id\":\"M2\"}\r\n{\"id\":\"M3\",\"x\":1}\r\n{\"id\":\"M4\"}\r\n{\"id\":\"M5\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := members(tt.format, tt.in)
			if g.err != nil {
				t.Fatal(g.err)
			}
			if got := badLines(g.bad); fmt.Sprint(got) != "[3]" {
				t.Fatalf("bad lines = %v, want [3]; %v", got, g.bad)
			}
			if !strings.HasPrefix(g.bad[0].Error(), "line 3: ") {
				t.Errorf("error %q does not start with line 3", g.bad[0])
			}
			if g.res.Bad != 1 || g.res.Good != g.res.Lines-1 || g.res.Lines < 4 {
				t.Errorf("result %+v", g.res)
			}
			if last := g.good[len(g.good)-1].Member.ID; last != "M4" && last != "M5" {
				t.Errorf("last good member %q: lines after 3 not read", last)
			}
		})
	}
}

// TestLineNumbers: blank lines and quoted fields spanning lines keep the
// physical line numbers right.
func TestLineNumbers(t *testing.T) {
	t.Run("csv", func(t *testing.T) {
		in := "id,title,channels,valid_from,valid_to\n" + // 1
			"\n" + // 2
			"O1,\"two\nlines\",signage,2026-11-01,2026-11-30\n" + // 3-4: title has a new line
			"O2,ok,signage,2026-11-01,2026-11-30\n" + // 5
			"O3,ok,sms,2026-11-01,2026-11-30\n" + // 6
			"O4,\"open quote,signage,2026-11-01,2026-11-30\n" + // 7: never closed, runs to the end
			"O5,ok,signage,2026-11-01,2026-11-30\n" // 8
		g := offers(FormatCSV, in)
		if g.err != nil {
			t.Fatal(g.err)
		}
		if got := fmt.Sprint(badLines(g.bad)); got != "[3 6 7]" {
			t.Fatalf("bad lines %s, want [3 6 7]: %v", got, g.bad)
		}
		if g.bad[0].Field != "title" || g.bad[1].Field != "channels" {
			t.Errorf("fields: %v", g.bad)
		}
		if !strings.Contains(g.bad[2].Error(), "runs from this line to line") {
			t.Errorf("unclosed quote: %v", g.bad[2])
		}
		if len(g.good) != 1 || g.good[0].ID != "O2" {
			t.Errorf("good: %v", g.good)
		}
	})
	t.Run("jsonl", func(t *testing.T) {
		in := "\n  \n{\"id\":\"M1\"}\n\n{\"id\":\"M1\"}\n"
		g := members(FormatJSONL, in)
		if got := fmt.Sprint(badLines(g.bad)); got != "[5]" || g.res != (Result{2, 1, 1}) {
			t.Fatalf("bad %s, result %+v: %v", got, g.res, g.bad)
		}
		if want := "line 5: id: is already on line 3"; g.bad[0].Error() != want {
			t.Errorf("got %q, want %q", g.bad[0], want)
		}
	})
}

func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+10)
	t.Run("jsonl line is bad", func(t *testing.T) {
		in := "{\"id\":\"M1\"}\n{\"id\":\"" + long + "\"}\n{\"id\":\"M3\"}\n"
		g := members(FormatJSONL, in)
		if g.err != nil || fmt.Sprint(badLines(g.bad)) != "[2]" || len(g.good) != 2 {
			t.Fatalf("err %v, bad %v, good %d", g.err, g.bad, len(g.good))
		}
		if !strings.Contains(g.bad[0].Error(), "longer than") {
			t.Errorf("reason: %v", g.bad[0])
		}
	})
	t.Run("jsonl line of exactly the limit", func(t *testing.T) {
		id := `{"id":"M1","tier":"` + strings.Repeat("y", MaxLineBytes-len(`{"id":"M1","tier":""}`)) + `"}`
		g := members(FormatJSONL, id+"\r\n")
		if len(g.bad) != 1 || g.bad[0].Field != "tier" {
			t.Fatalf("a line of MaxLineBytes must be parsed (and fail on tier): %v", g.bad)
		}
	})
	t.Run("csv record stops the read", func(t *testing.T) {
		in := "id,tier\nM1,gold\nM2,\"" + long + long + "\nM3,gold\n"
		g := members(FormatCSV, in)
		if !errors.Is(g.err, ErrLineTooLong) || !strings.Contains(g.err.Error(), "line 2") {
			t.Fatalf("err = %v, want ErrLineTooLong after line 2", g.err)
		}
		if len(g.good) != 1 {
			t.Errorf("good = %d, want the line before", len(g.good))
		}
	})
	t.Run("csv long field under the limit", func(t *testing.T) {
		in := "id,tier\nM1,\"" + strings.Repeat("z", MaxLineBytes-100) + "\"\nM3,gold\n"
		g := members(FormatCSV, in)
		if g.err != nil || fmt.Sprint(badLines(g.bad)) != "[2]" {
			t.Fatalf("err %v, bad %v", g.err, g.bad)
		}
	})
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name, in string
		offers   bool
		want     string // in the error; "" for no error
	}{
		{"empty file", "", false, "the file is empty"},
		{"only blank lines", "\n\n", false, "the file is empty"},
		{"header only", "id,tier\n", false, ""},
		{"case and spaces", " ID , First_Name \nM1,Anna\n", false, ""},
		{"byte-order mark", "\uFEFFid,tier\nM1,gold\n", false, ""},
		{"unknown column", "id,tier,email\nM1,gold,a@b.c\n", false, `unknown column "email"`},
		{"missing id", "first_name,tier\nAnna,gold\n", false, `required column "id" is missing`},
		{"twice", "id,tier,TIER\n", false, `column "tier" appears twice`},
		{"unnamed", "id,,tier\n", false, "column 2 has no name"},
		{"semicolons", "id;tier\nM1;gold\n", false, "semicolon-separated"},
		{"data first", "M1,gold\n", false, `unknown column "m1"`},
		{"bad quote", "id,\"tier\n", false, "line 1"},
		{"offer valid_to missing", "id,title,channels,valid_from\n", true, `required column "valid_to" is missing`},
		{"offer all columns", strings.Join(OfferColumns(), ",") + "\n", true, ""},
		{"member all columns", strings.Join(MemberColumns(), ",") + "\n", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				err error
				res Result
			)
			if tt.offers {
				g := offers(FormatCSV, tt.in)
				err, res = g.err, g.res
			} else {
				g := members(FormatCSV, tt.in)
				err, res = g.err, g.res
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrHeader with %q", err, tt.want)
			}
			if res != (Result{}) {
				t.Errorf("result %+v after a header error", res)
			}
		})
	}
}

// TestYieldError: an error from yield stops the read and comes back.
func TestYieldError(t *testing.T) {
	stop := errors.New("stop")
	in := "id\nM1\nM2\nM3\n"
	n := 0
	res, err := ReadMembers(strings.NewReader(in), FormatCSV, nil, func(edge.MemberRecord) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) || n != 2 || res != (Result{Lines: 2, Good: 2}) {
		t.Fatalf("err %v, yields %d, result %+v", err, n, res)
	}
}

// TestReadError: a failing reader is fatal and named.
func TestReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		in := io.MultiReader(strings.NewReader("id\n{\"id\":\"M1\"}\n"), iotest.ErrReader(boom))
		if f == FormatCSV {
			in = io.MultiReader(strings.NewReader("id\nM1\n"), iotest.ErrReader(boom))
		}
		g := readAll(ReadMembers, f, in, showMember)
		if !errors.Is(g.err, boom) {
			t.Errorf("%s: err = %v, want the read error", f, g.err)
		}
	}
	if _, err := ReadMembers(strings.NewReader(""), "xml", nil, nil, nil); !errors.Is(err, ErrFormat) {
		t.Errorf("unknown format: %v", err)
	}
}

// TestStreaming: records are yielded while the input is still being
// written, so a file is never read whole before parsing.
func TestStreaming(t *testing.T) {
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		t.Run(string(f), func(t *testing.T) {
			pr, pw := io.Pipe()
			first := make(chan struct{})
			go func() {
				line := func(id string) string {
					if f == FormatCSV {
						return id + "\n"
					}
					return `{"id":"` + id + `"}` + "\n"
				}
				head := ""
				if f == FormatCSV {
					head = "id\n"
				}
				io.WriteString(pw, head+line("M1"))
				select {
				case <-first:
				case <-time.After(10 * time.Second): // fail, don't hang
					pw.CloseWithError(errors.New("first record was not yielded before the end of the input"))
					return
				}
				io.WriteString(pw, line("M2"))
				pw.Close()
			}()
			n := 0
			_, err := ReadMembers(pr, f, nil, func(edge.MemberRecord) error {
				if n++; n == 1 {
					close(first)
				}
				return nil
			}, nil)
			if err != nil || n != 2 {
				t.Fatalf("err %v, %d members", err, n)
			}
		})
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name, head string
		want       Format
		err        string
	}{
		{"members.csv", "", FormatCSV, ""},
		{"MEMBERS.CSV", "{", FormatCSV, ""},
		{"m.jsonl", "", FormatJSONL, ""},
		{"m.ndjson", "", FormatJSONL, ""},
		{"m.json", "{\"id\":1}", FormatJSONL, ""},
		{"m.json", " [{\"id\":1}]", "", "JSON array"},
		{"export", "\uFEFF  \n{\"id\":1}", FormatJSONL, ""},
		{"export", "id,tier\n", FormatCSV, ""},
		{"export", "\"id\",\"tier\"\n", FormatCSV, ""},
		{"-", "[1]", "", "JSON array"},
		{"-", "", "", "empty"},
		{"-", "\x00\x01", "", "neither"},
	}
	for _, tt := range tests {
		got, err := DetectFormat(tt.name, []byte(tt.head))
		if tt.err != "" {
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("DetectFormat(%q, %q) err = %v, want %q", tt.name, tt.head, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %q, %v; want %q", tt.name, tt.head, got, err, tt.want)
		}
	}
	for in, want := range map[string]Format{"csv": FormatCSV, "JSONL": FormatJSONL, "ndjson": FormatJSONL} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xlsx"); !errors.Is(err, ErrFormat) {
		t.Errorf("ParseFormat(xlsx) err = %v", err)
	}
}
