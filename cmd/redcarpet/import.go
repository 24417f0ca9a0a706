package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge/catalog"
	"github.com/redcarpet-retail/redcarpet/edge/store"
)

// importBatch is the number of records written per store transaction.
const importBatch = 1000

const importUsage = `usage: redcarpet %[1]s import [-config FILE] [-format csv|jsonl] FILE

Loads %[1]s from FILE into the gateway's store; "-" reads standard input.
FILE is CSV with a header row, or JSON Lines (one object per line); the
columns and their formats are documented in package edge/catalog. A %[2]s
already in the store with the same id is replaced.

The daemon must be stopped first: the database has one user at a time.

Bad lines are reported on standard error as FILE:LINE: reason, and skipped.
Good lines are written in batches of %[3]d, one transaction each, and a
summary is printed on standard output. A progress bar is shown on standard
error when it is a terminal (and FILE is not "-").

Exit status: 0 when the file was read, even if some lines were skipped (the
summary says how many); 1 when the configuration, the file or the database
cannot be used, when the file has lines but none is valid, or when
interrupted. Batches written before an interruption or a fatal error stay;
importing the same file again is safe.

flags:
`

// runImport implements `redcarpet members import` and `redcarpet offers
// import`; what is "members" or "offers".
func runImport(ctx context.Context, what string, args []string, stdout, stderr io.Writer) (err error) {
	if what != "members" && what != "offers" {
		return fmt.Errorf("import: cannot import %q", what)
	}
	fs := flag.NewFlagSet("redcarpet "+what+" import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", DefaultConfig, "configuration `FILE`")
	formatName := fs.String("format", "", "the `csv|jsonl` input format (default: from the file name's extension, else from its first byte)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, importUsage, what, strings.TrimSuffix(what, "s"), importBatch)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return usageError(fmt.Sprintf("%s import: %v (see 'redcarpet %s import -h')", what, err, what))
	}
	if fs.NArg() != 1 {
		hint := ""
		if fs.NArg() > 1 && strings.HasPrefix(fs.Arg(1), "-") {
			hint = "; flags go before FILE"
		}
		return usageError(fmt.Sprintf("usage: redcarpet %s import [-config FILE] [-format csv|jsonl] FILE%s", what, hint))
	}
	var format catalog.Format
	if *formatName != "" {
		if format, err = catalog.ParseFormat(*formatName); err != nil {
			return usageError(fmt.Sprintf("%s import: -format: %v", what, err))
		}
	}
	name := fs.Arg(0)

	// Nothing is opened before the configuration is valid, and the
	// database is opened only once the file is known to be readable.
	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		return err
	}
	in, size, err := openInput(name)
	if err != nil {
		return err
	}
	defer in.Close()
	pr := &progressReader{r: in}
	br := bufio.NewReaderSize(pr, 64<<10)
	if format == "" {
		head, _ := br.Peek(512) // a short or unreadable file shows up when read
		if format, err = catalog.DetectFormat(name, head); err != nil {
			return err
		}
	}
	db, err := openDatabase(cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()

	im := &importer{
		what: what, name: name, format: format, loc: cfg.Store.Location(),
		stdout: stdout, stderr: stderr,
	}
	if size > 0 && isTerminal(stderr) {
		im.bar = newBar(stderr, size, what)
		pr.bar = im.bar
		im.bar.Add64(pr.n) // what format detection read
	}
	return im.run(ctx, br, db.store)
}

// openInput opens the file to import, or standard input for "-". size is
// the file's size, or -1 when unknown.
func openInput(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("open import file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open import file: %w", err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("open import file: %s is a directory", name)
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() {
		size = -1
	}
	return f, size, nil
}

// importer streams one file into the store.
type importer struct {
	what   string // "members" or "offers"
	name   string // the file, as named on the command line
	format catalog.Format
	loc    *time.Location
	stdout io.Writer
	stderr io.Writer
	bar    *progressbar.ProgressBar // nil: no progress bar
}

// run reads r and writes its good records to st in batches, checking ctx
// between batches. It prints bad lines and the summary.
func (im *importer) run(ctx context.Context, r io.Reader, st *store.Store) error {
	start := time.Now()
	defer im.stopBar()
	var (
		res    catalog.Result
		stored int
		err    error
	)
	switch im.what {
	case "members":
		res, stored, err = load(ctx, r, im.format, im.loc, catalog.ReadMembers, st.PutMembers, im.bad)
	default:
		res, stored, err = load(ctx, r, im.format, im.loc, catalog.ReadOffers, st.PutOffers, im.bad)
	}
	im.stopBar()
	if err != nil {
		kept := ""
		if stored > 0 {
			kept = fmt.Sprintf("; the %d %s written before stay in the store, importing the file again is safe", stored, im.noun(stored))
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s import interrupted after %d %s%s", im.what, res.Lines, plural(res.Lines, "line"), kept)
		}
		return fmt.Errorf("import %s: %w%s", im.name, err, kept)
	}
	fmt.Fprintf(im.stdout, "imported %d %s, skipped %d bad %s (of %d) in %s\n",
		stored, im.noun(stored), res.Bad, plural(res.Bad, "line"), res.Lines, elapsed(time.Since(start)))
	if res.Lines > 0 && res.Good == 0 {
		return fmt.Errorf("import %s: no valid %s in %d %s", im.name, im.what, res.Lines, plural(res.Lines, "line"))
	}
	return nil
}

// load streams records of type T from r and puts them in batches of
// importBatch. stored counts the records committed.
func load[T any](ctx context.Context, r io.Reader, f catalog.Format, loc *time.Location,
	read func(io.Reader, catalog.Format, *time.Location, func(T) error, func(catalog.LineError)) (catalog.Result, error),
	put func([]T) error, bad func(catalog.LineError),
) (res catalog.Result, stored int, err error) {
	batch := make([]T, 0, importBatch)
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := put(batch); err != nil {
			return fmt.Errorf("write to the store: %w", err)
		}
		stored += len(batch)
		clear(batch) // drop references to the records
		batch = batch[:0]
		return nil
	}
	res, err = read(r, f, loc, func(v T) error {
		batch = append(batch, v)
		if len(batch) < importBatch {
			return nil
		}
		return flush()
	}, bad)
	if err == nil {
		err = flush()
	}
	return res, stored, err
}

// bad reports a bad line. Reasons never hold a card UID, a barcode or a
// first name (package catalog guarantees it).
func (im *importer) bad(le catalog.LineError) {
	if im.bar != nil {
		im.bar.Clear()
	}
	fmt.Fprintf(im.stderr, "%s:%d: %s\n", im.name, le.Line, le.Reason())
}

func (im *importer) stopBar() {
	if im.bar != nil {
		im.bar.Exit()
		im.bar.Clear()
		im.bar = nil
	}
}

// noun is "member" or "members", "offer" or "offers".
func (im *importer) noun(n int) string { return plural(n, strings.TrimSuffix(im.what, "s")) }

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// elapsed formats a duration for the summary: "1.2s", "35ms".
func elapsed(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newBar returns a progress bar over size bytes, drawn on w.
func newBar(w io.Writer, size int64, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("importing "+what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
}

// progressReader counts the bytes read and advances bar, when set.
type progressReader struct {
	r   io.Reader
	n   int64
	bar *progressbar.ProgressBar
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.bar != nil && n > 0 {
		p.bar.Add(n)
	}
	return n, err
}
