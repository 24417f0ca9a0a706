// Command redcarpet is the RedCarpet store gateway daemon and its admin
// tools.
//
//	redcarpet run [-config FILE]            run the daemon
//	redcarpet demo [flags]                  run a simulated store end to end
//	redcarpet check-config FILE             validate a configuration
//	redcarpet doctor [-config FILE]         check the gateway and say what to fix
//	redcarpet devices [-json]               list the serial, input, GPIO and SPI devices
//	redcarpet members import [flags] FILE   load members (CSV or JSON Lines)
//	redcarpet offers import [flags] FILE    load offers (CSV or JSON Lines)
//	redcarpet backup [-config FILE] -o FILE a consistent copy of the database, daemon running or not
//	redcarpet restore [-config FILE] FILE   put a backup in place (daemon stopped)
//	redcarpet version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // store time zones work on gateways without tzdata

	"github.com/redcarpet-retail/redcarpet/configs"
)

// Version and Commit are stamped at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = "unknown"
)

// DefaultConfig is where a package installs the configuration.
const DefaultConfig = "/etc/redcarpet/redcarpet.toml"

const usage = `usage: redcarpet <command> [arguments]

commands:
  run [-config FILE]             run the store daemon (default config ` + DefaultConfig + `)
  demo [flags]                   run a simulated store, broker and HQ on this machine
  check-config FILE              validate a configuration file and exit
  doctor [-config FILE]          check config, devices, disk, clock, broker and certificates
  devices [-json]                list serial ports, input devices, GPIO chips and SPI buses
  members import [flags] FILE    import members from CSV or JSON Lines
  offers import [flags] FILE     import offers from CSV or JSON Lines
  backup [-config FILE] -o FILE  write a consistent copy of the database (daemon running or not)
  restore [-config FILE] FILE    check a backup and put it in place (daemon stopped)
  version                        print the version

Run 'redcarpet <command> -h' for a command's flags.
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
		fmt.Fprintln(os.Stderr, "redcarpet:", err)
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
		return cmdRun(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "check-config":
		return cmdCheckConfig(rest, stdout)
	case "doctor":
		return cmdDoctor(ctx, rest, stdout, stderr)
	case "devices":
		return cmdDevices(rest, stdout, stderr)
	case "members", "offers":
		if len(rest) == 0 || rest[0] != "import" {
			return usageError(fmt.Sprintf("usage: redcarpet %s import [flags] FILE", cmd))
		}
		return runImport(ctx, cmd, rest[1:], stdout, stderr)
	case "backup":
		return cmdBackup(ctx, rest, stdout, stderr)
	case "restore":
		return cmdRestore(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "redcarpet %s (commit %s)\n", Version, Commit)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}

func cmdCheckConfig(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError("usage: redcarpet check-config FILE")
	}
	cfg, err := configs.Load(args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (store %s/%s, %d devices, %d zones, %d lanes, %d doors)\n",
		args[0], cfg.Store.Tenant, cfg.Store.ID, len(cfg.Devices), len(cfg.Zones), len(cfg.Lanes), len(cfg.Doors))
	return nil
}
