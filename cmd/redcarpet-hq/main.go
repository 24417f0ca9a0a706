// Command redcarpet-hq is the HQ ingest service: it consumes the stores'
// uplink from the MQTT broker on a shared subscription, deduplicates, and
// stores the events in the sink.
//
//	redcarpet-hq run [-config FILE]           run an ingest worker
//	redcarpet-hq stats [-config FILE] [-json] print what the sink holds
//	redcarpet-hq report [-config FILE] [-from DAY] [-to DAY] [-store T/S] [-json]
//	                                          print stores' traffic, sales and offer lift
//	redcarpet-hq version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Version and Commit are stamped at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = "unknown"
)

// DefaultConfig is where a package installs the configuration.
const DefaultConfig = "/etc/redcarpet-hq/hq.toml"

const usage = `usage: redcarpet-hq <command> [arguments]

commands:
  run [-config FILE]              consume the stores' uplink into the sink (default config ` + DefaultConfig + `)
  stats [-config FILE] [-json]    print per-store counts and sequence coverage of the sink
  report [-config FILE] [-from YYYY-MM-DD] [-to YYYY-MM-DD] [-store TENANT/STORE] [-json]
                                  print per-store traffic and sales by trading day and the lift of
                                  each offer over its holdout group (default: the last 7 days)
  import members|offers|erasures [-config FILE] [-tenant T] FILE
                                  append members, offers or erasure requests to the change log
  version                         print the version

Run 'redcarpet-hq <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal during the clean shutdown ends the process at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "redcarpet-hq:", err)
		os.Exit(1)
	}
}

// usageError is a command line that names no known command.
type usageError string

func (u usageError) Error() string { return string(u) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stderr)
	case "import":
		return cmdImport(ctx, rest, stdout, stderr)
	case "stats":
		return cmdStats(rest, stdout, stderr)
	case "report":
		return cmdReport(rest, stdout, stderr, time.Now())
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "redcarpet-hq %s (commit %s)\n", Version, Commit)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}
