package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge/catalog"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
)

// importers are the change kinds redcarpet-hq import loads.
var importers = map[string]func(context.Context, hq.ChangeLog, string, io.Reader, catalog.Format, *time.Location, func(catalog.LineError)) (hq.ImportResult, error){
	"members":  hq.ImportMembers,
	"offers":   hq.ImportOffers,
	"erasures": hq.ImportErasures,
}

// cmdImport implements `redcarpet-hq import members|offers|erasures FILE`:
// it appends the file's changes to the tenant's change log. Running workers
// publish the new head within a second, and every store of the tenant
// converges to it.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || importers[args[0]] == nil {
		return usageError("usage: redcarpet-hq import members|offers|erasures [-config FILE] [-tenant T] [-format csv|jsonl] FILE")
	}
	what, imp := args[0], importers[args[0]]
	fs := flag.NewFlagSet("import "+what, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultConfig, "configuration `file`")
	tenant := fs.String("tenant", "", "the tenant whose stores receive the changes (default: the one downlink tenant)")
	formatName := fs.String("format", "", "`csv|jsonl` (default: from the file name, else its first byte)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError(fmt.Sprintf("import %s: %v", what, err))
	}
	if fs.NArg() != 1 {
		return usageError(fmt.Sprintf("usage: redcarpet-hq import %s [-config FILE] [-tenant T] [-format csv|jsonl] FILE", what))
	}
	cfg, err := configs.LoadHQ(*path)
	if err != nil {
		return err
	}
	t := *tenant
	switch {
	case t == "" && len(cfg.Downlink.Tenants) == 1:
		t = cfg.Downlink.Tenants[0]
	case t == "":
		return usageError(fmt.Sprintf("import %s: -tenant is required (downlink.tenants lists %s)", what, strings.Join(cfg.Downlink.Tenants, ", ")))
	case !slices.Contains(cfg.Downlink.Tenants, t):
		return fmt.Errorf("import %s: tenant %q is not in downlink.tenants: no worker would serve it", what, t)
	}
	name := fs.Arg(0)
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open import file: %w", err)
	}
	defer f.Close()
	var format catalog.Format
	if *formatName != "" {
		if format, err = catalog.ParseFormat(*formatName); err != nil {
			return usageError(fmt.Sprintf("import %s: -format: %v", what, err))
		}
	} else {
		head := make([]byte, 512)
		n, _ := f.Read(head)
		if format, err = catalog.DetectFormat(name, head[:n]); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	be, err := openBackend(ctx, cfg, false, cfg.Log.Logger(stderr))
	if err != nil {
		return err
	}
	defer be.close()
	start := time.Now()
	res, err := imp(ctx, be.changes, t, f, format, cfg.Downlink.Location(), func(le catalog.LineError) {
		fmt.Fprintf(stderr, "%s:%d: %s\n", name, le.Line, le.Reason())
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "appended %d %s changes for tenant %s (head %d), skipped %d bad lines (of %d) in %s\n",
		res.Appended, strings.TrimSuffix(what, "s"), t, res.Head, res.Bad, res.Lines, time.Since(start).Round(time.Millisecond))
	if res.Lines > 0 && res.Good == 0 {
		return fmt.Errorf("import %s: no valid %s in %d lines", name, what, res.Lines)
	}
	return nil
}
