package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/catalog"
	"github.com/redcarpet-retail/redcarpet/edge/store"
)

// fixtures are the catalog package's realistic files, with known bad lines.
var fixtures = filepath.Join("..", "..", "edge", "catalog", "testdata")

var dataDirRE = regexp.MustCompile(`(?m)^dir\s*=.*$`)

// testConfig writes the demo configuration with data.dir in a temporary
// directory and returns its path and parsed value.
func testConfig(t *testing.T) (string, *configs.Config) {
	t.Helper()
	demo, err := configs.Samples.ReadFile(configs.DemoFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := dataDirRE.ReplaceAllLiteralString(string(demo), fmt.Sprintf("dir = %q", filepath.Join(dir, "data")))
	if text == string(demo) {
		t.Fatal("demo.toml has no data.dir to override")
	}
	cfg, err := configs.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "redcarpet.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// runImportT runs an import and returns its outputs.
func runImportT(t *testing.T, ctx context.Context, what string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runImport(ctx, what, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// withStore opens the database after an import, as the daemon would.
func withStore(t *testing.T, cfg *configs.Config, f func(*store.Store)) {
	t.Helper()
	db, err := openDatabase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f(db.store)
}

var summaryRE = regexp.MustCompile(`^imported (\d+) (members?|offers?), skipped (\d+) bad lines? \(of (\d+)\) in \S+\n$`)

func TestImportMembers(t *testing.T) {
	tests := []struct {
		file    string
		summary string   // "imported G, skipped B (of L)"
		bad     []string // expected stderr lines, in order
		secrets []string // values that must never be printed
	}{
		{"members.csv", "4 members 4 8", []string{
			"members.csv:4: affinity: ",
			"members.csv:6: loyalty_barcode: has 13 digits but a wrong EAN-13 check digit",
			"members.csv:7: id: is already on line 3",
			"members.csv:8: cards: card 1 is not hex",
		}, []string{"2900000123490", "04:A2:2B:1G", "Chloé"}},
		{"members.jsonl", "3 members 5 8", []string{
			"members.jsonl:3: loyalty: unknown field",
			"members.jsonl:4: cycles: ",
			"members.jsonl:5: greet_by_name: ",
			"members.jsonl:7: cycles: ",
			"members.jsonl:8: cards: card 1 is already on line 1",
		}, []string{"04B1223C"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfgPath, _ := testConfig(t)
			file := filepath.Join(fixtures, tt.file)
			stdout, stderr, err := runImportT(t, t.Context(), "members", "-config", cfgPath, file)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, stderr)
			}
			checkSummary(t, stdout, tt.summary)
			checkBadLines(t, stderr, file, tt.bad, tt.secrets)
		})
	}

	// The good members of the CSV file, found as the daemon finds them.
	cfgPath, cfg := testConfig(t)
	if _, stderr, err := runImportT(t, t.Context(), "members", "-config", cfgPath, filepath.Join(fixtures, "members.csv")); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	withStore(t, cfg, func(st *store.Store) {
		m, err := st.MemberByCard([]byte{0x04, 0xA2, 0x2B, 0x1C})
		if err != nil || m.ID != "M-0001" || m.FirstName != "Anna" || !m.GreetByName || m.Affinity["dairy"] != 0.4 {
			t.Errorf("by card: %+v, %v", m, err)
		}
		if c := m.Cycles["dairy"]; c.MeanDays != 6.5 || c.Count != 12 || c.Last.Format("2006-01-02 15:04 -07:00") != "2026-11-10 00:00 +01:00" {
			t.Errorf("dairy cycle %+v (want local midnight in Europe/Paris)", c)
		}
		m, kind, err := st.MemberByBarcode("2900000123458")
		if err != nil || m.ID != "M-0001" || kind != edge.ScanLoyalty {
			t.Errorf("by loyalty barcode: %+v, %s, %v", m, kind, err)
		}
		m, kind, err = st.MemberByBarcode("L-0004")
		if err != nil || m.ID != "M-0004" || m.FirstName != "Dupont, Émile" || kind != edge.ScanList {
			t.Errorf("by list barcode: %+v, %s, %v", m, kind, err)
		}
		if m, err := st.MemberByCard([]byte{0x04, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}); err != nil || m.ID != "M-0004" {
			t.Errorf("10-byte card: %+v, %v", m, err)
		}
		// Line 7 repeats M-0002's id: the first one is kept.
		if m, err := st.Member("M-0002"); err != nil || m.Tier != "silver" || len(m.Affinity) != 1 {
			t.Errorf("M-0002: %+v, %v", m, err)
		}
		for _, id := range []string{"M-0003", "M-0005", "M-0006"} {
			if _, err := st.Member(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("bad member %s: %v, want not found", id, err)
			}
		}
		if c, err := st.Count(); err != nil || c.Members != 4 || c.Cards != 4 || c.Barcodes != 6 {
			t.Errorf("counts %+v, %v", c, err)
		}
	})
}

func TestImportOffers(t *testing.T) {
	tests := []struct {
		file    string
		summary string
		bad     []string
		ids     []string
	}{
		{"offers.csv", "3 offers 4 7", []string{
			`offers.csv:5: channels: "email" is not one of signage, checkout`,
			"offers.csv:6: valid_to: is not after valid_from",
			"offers.csv:8: id: is already on line 2",
			"offers.csv:9: discount_pct: 150 is outside 0..100",
		}, []string{"OF-BREAD", "OF-DAIRY-11", "OF-WINE-11"}},
		{"offers.jsonl", "3 offers 4 7", []string{
			"offers.jsonl:3: channels: is required",
			"offers.jsonl:4: discount: unknown field",
			"offers.jsonl:5: cap_per_member: want a whole number",
			"offers.jsonl:7: valid_from: ",
		}, []string{"OF-COFFEE", "OF-FRUIT", "OF-XMAS"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfgPath, cfg := testConfig(t)
			file := filepath.Join(fixtures, tt.file)
			stdout, stderr, err := runImportT(t, t.Context(), "offers", "-config", cfgPath, file)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, stderr)
			}
			checkSummary(t, stdout, tt.summary)
			checkBadLines(t, stderr, file, tt.bad, nil)
			withStore(t, cfg, func(st *store.Store) {
				offers, err := st.Offers()
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, o := range offers {
					ids = append(ids, o.ID)
				}
				if !slices.Equal(ids, tt.ids) {
					t.Errorf("stored offers %v, want %v", ids, tt.ids)
				}
			})
		})
	}
}

// checkSummary compares the summary line with "GOOD NOUN BAD LINES".
func checkSummary(t *testing.T, stdout, want string) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("summary %q does not match %s", stdout, summaryRE)
	}
	if got := strings.Join(m[1:5], " "); got != want {
		t.Errorf("summary %q: got %q, want %q", stdout, got, want)
	}
}

// checkBadLines compares stderr, line by line, with FILE:LINE: prefixes.
func checkBadLines(t *testing.T, stderr, file string, want, secrets []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	dir := filepath.Dir(file) + string(filepath.Separator)
	for i, w := range want {
		if !strings.HasPrefix(lines[i], dir+w) {
			t.Errorf("stderr line %d = %q, want prefix %q", i+1, lines[i], dir+w)
		}
	}
	for _, s := range secrets {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr shows %q:\n%s", s, stderr)
		}
	}
}

// writeFile writes a file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// manyMembers returns a CSV file of n good members with one card each.
func manyMembers(n int) string {
	var b strings.Builder
	b.WriteString("id,cards,loyalty_barcode\n")
	for i := range n {
		fmt.Fprintf(&b, "M%05d,04%06X,RC-%05d\n", i, i, i)
	}
	return b.String()
}

// TestImportBatches: several batches all land, and the summary counts them.
func TestImportBatches(t *testing.T) {
	cfgPath, cfg := testConfig(t)
	file := writeFile(t, "members.csv", manyMembers(2*importBatch+500))
	stdout, _, err := runImportT(t, t.Context(), "members", "-config", cfgPath, file)
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, stdout, "2500 members 0 2500")
	withStore(t, cfg, func(st *store.Store) {
		if c, _ := st.Count(); c.Members != 2500 || c.Cards != 2500 {
			t.Errorf("counts %+v", c)
		}
		if m, err := st.MemberByCard([]byte{0x04, 0x00, 0x09, 0xC3}); err != nil || m.ID != "M02499" {
			t.Errorf("last member: %+v, %v", m, err)
		}
	})
	// Importing again replaces: nothing doubles.
	if _, _, err := runImportT(t, t.Context(), "members", "-config", cfgPath, file); err != nil {
		t.Fatal(err)
	}
	withStore(t, cfg, func(st *store.Store) {
		if c, _ := st.Count(); c.Members != 2500 || c.Cards != 2500 || c.Barcodes != 2500 {
			t.Errorf("counts after a second import %+v", c)
		}
	})
}

// TestImportInterrupted: cancellation stops between batches; what was
// committed stays.
func TestImportInterrupted(t *testing.T) {
	_, cfg := testConfig(t)
	withStore(t, cfg, func(st *store.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		puts := 0
		put := func(recs []edge.MemberRecord) error {
			puts++
			err := st.PutMembers(recs)
			cancel() // Ctrl-C during the first batch
			return err
		}
		res, stored, err := load(ctx, strings.NewReader(manyMembers(2500)), catalog.FormatCSV, nil, catalog.ReadMembers, put, nil)
		if !errors.Is(err, context.Canceled) || puts != 1 || stored != importBatch {
			t.Fatalf("err %v, %d puts, %d stored", err, puts, stored)
		}
		if res.Lines != 2*importBatch {
			t.Errorf("read %d lines, want to stop at the second batch", res.Lines)
		}
		if c, _ := st.Count(); c.Members != importBatch {
			t.Errorf("%d members stored, want the first batch", c.Members)
		}
	})

	cfgPath, _ := testConfig(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	stdout, _, err := runImportT(t, ctx, "members", "-config", cfgPath, writeFile(t, "m.csv", manyMembers(10)))
	if err == nil || !strings.Contains(err.Error(), "interrupted") || stdout != "" {
		t.Errorf("err %v, stdout %q", err, stdout)
	}
}

func TestImportAllBad(t *testing.T) {
	cfgPath, _ := testConfig(t)
	file := writeFile(t, "m.jsonl", `{"id":""}`+"\n"+`{"id":"M1","stage":"vip"}`+"\n")
	stdout, stderr, err := runImportT(t, t.Context(), "members", "-config", cfgPath, file)
	if err == nil || !strings.Contains(err.Error(), "no valid members in 2 lines") {
		t.Errorf("err = %v", err)
	}
	checkSummary(t, stdout, "0 members 2 2")
	if !strings.Contains(stderr, "m.jsonl:1: id: is required") || !strings.Contains(stderr, "m.jsonl:2: stage: ") {
		t.Errorf("stderr:\n%s", stderr)
	}

	// An empty file is not an error: there was nothing to import.
	stdout, _, err = runImportT(t, t.Context(), "offers", "-config", cfgPath, writeFile(t, "o.csv", "id,title,channels,valid_from,valid_to\n"))
	if err != nil || stdout == "" {
		t.Errorf("header only: %v, %q", err, stdout)
	}
	checkSummary(t, stdout, "0 offers 0 0")
}

// TestImportFormat: -format wins over the name; without it, an unknown
// extension is sniffed.
func TestImportFormat(t *testing.T) {
	cfgPath, _ := testConfig(t)
	csvTxt := writeFile(t, "export.txt", "id,tier\nM1,gold\n")
	jsonTxt := writeFile(t, "export.dat", `{"id":"M1","tier":"gold"}`+"\n")
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{csvTxt}, true},
		{[]string{jsonTxt}, true},
		{[]string{"-format", "csv", csvTxt}, true},
		{[]string{"-format", "jsonl", csvTxt}, false}, // every line is bad JSON
		{[]string{"-format", "JSONL", jsonTxt}, true},
	} {
		_, stderr, err := runImportT(t, t.Context(), "members", append([]string{"-config", cfgPath}, tc.args...)...)
		if (err == nil) != tc.ok {
			t.Errorf("%v: err %v\n%s", tc.args, err, stderr)
		}
	}
}

func TestImportUsage(t *testing.T) {
	cfgPath, cfg := testConfig(t)
	file := filepath.Join(fixtures, "members.csv")
	tests := []struct {
		name  string
		args  []string
		usage bool   // a usageError
		want  string // in the error
	}{
		{"no file", []string{"-config", cfgPath}, true, "usage: redcarpet members import"},
		{"two files", []string{"-config", cfgPath, file, file}, true, "usage:"},
		{"flag after file", []string{file, "-config", cfgPath}, true, "flags go before FILE"},
		{"unknown flag", []string{"-dry-run", file}, true, "-dry-run"},
		{"bad format", []string{"-config", cfgPath, "-format", "xlsx", file}, true, "use csv or jsonl"},
		{"missing config", []string{"-config", filepath.Join(t.TempDir(), "nope.toml"), file}, false, "read config"},
		{"missing file", []string{"-config", cfgPath, filepath.Join(t.TempDir(), "nope.csv")}, false, "open import file"},
		{"directory", []string{"-config", cfgPath, t.TempDir()}, false, "is a directory"},
		{"json array", []string{"-config", cfgPath, writeFile(t, "m.json", `[{"id":"M1"}]`)}, false, "JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runImportT(t, t.Context(), "members", tt.args...)
			var ue usageError
			if err == nil || errors.As(err, &ue) != tt.usage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v (usage error: %v), want %q", err, errors.As(err, &ue), tt.want)
			}
		})
	}
	// None of the failures above got as far as the database.
	if _, err := os.Stat(filepath.Join(cfg.Data.Dir, DBFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("database created by a failed import: %v", err)
	}
	_, _, err := runImportT(t, t.Context(), "members", "-config", cfgPath, writeFile(t, "m.csv", "id,email\nM1,a@b.c\n"))
	if !errors.Is(err, catalog.ErrHeader) || !strings.Contains(err.Error(), `unknown column "email"`) {
		t.Errorf("unknown column: %v", err)
	}

	stdout, _, err := runImportT(t, t.Context(), "offers", "-h")
	if err != nil || !strings.Contains(stdout, "usage: redcarpet offers import") || !strings.Contains(stdout, "-format") ||
		!strings.Contains(stdout, "Exit status") {
		t.Errorf("-h: %v\n%s", err, stdout)
	}
}

// TestImportThroughRun: the command line reaches runImport.
func TestImportThroughRun(t *testing.T) {
	cfgPath, _ := testConfig(t)
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"offers", "import", "-config", cfgPath, filepath.Join(fixtures, "offers.jsonl")}, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, out.String(), "3 offers 4 7")
}

// TestImportLocked: with the database held (by the daemon), an import
// fails with a message saying so.
func TestImportLocked(t *testing.T) {
	cfgPath, cfg := testConfig(t)
	db, err := openDatabase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, _, err = runImportT(t, t.Context(), "members", "-config", cfgPath, filepath.Join(fixtures, "members.csv"))
	if err == nil || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), "daemon") {
		t.Errorf("err = %v, want a locked database naming the daemon", err)
	}
}

// TestImportProgress: with a progress bar, bad lines still come out whole,
// each on its own line.
func TestImportProgress(t *testing.T) {
	_, cfg := testConfig(t)
	data := manyMembers(3000) + "bad id,,\n"
	withStore(t, cfg, func(st *store.Store) {
		var out, errOut bytes.Buffer
		im := &importer{what: "members", name: "m.csv", format: catalog.FormatCSV, loc: cfg.Store.Location(),
			stdout: &out, stderr: &errOut, bar: newBar(&errOut, int64(len(data)), "members")}
		pr := &progressReader{r: strings.NewReader(data), bar: im.bar}
		if err := im.run(t.Context(), pr, st); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut.String(), "importing members") {
			t.Errorf("no progress bar drawn:\n%q", errOut.String())
		}
		if !strings.Contains(errOut.String(), "\rm.csv:3002: id: contains white space or a control character\n") {
			t.Errorf("bad line not on a cleared line:\n%q", errOut.String())
		}
		checkSummary(t, out.String(), "3000 members 1 3001")
	})
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a file is not a terminal")
	}
}
