package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres"
)

// parseFlags parses a subcommand's flags; -h prints them and ends the
// command successfully (errHelp).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError(fmt.Sprintf("%s: %v", fs.Name(), err))
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0)))
	}
	return nil
}

var errHelp = errors.New("help shown")

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("config", DefaultConfig, "configuration `file`")
	if err := parseFlags(fs, args, stderr); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	cfg, err := configs.LoadHQ(*path)
	if err != nil {
		return err
	}
	log := cfg.Log.Logger(stderr)

	// Everything that can fail on a bad file is read before anything opens.
	password, err := readPassword(cfg.Broker.PasswordFile)
	if err != nil {
		return err
	}
	tlsConf, err := configs.LoadTLS(cfg.Broker.URL, cfg.Broker.CAFile, cfg.Broker.CertFile, cfg.Broker.KeyFile)
	if err != nil {
		return err
	}
	dl := cfg.Downlink
	dlTLS, err := configs.LoadTLS(cfg.Broker.URL, cfg.Broker.CAFile, dl.CertFile, dl.KeyFile)
	if err != nil {
		return fmt.Errorf("downlink: %w", err)
	}
	be, err := openBackend(ctx, cfg, false, log)
	if err != nil {
		return err
	}
	defer be.close()

	in := hq.New(hq.Options{
		Broker:     cfg.Broker.URL,
		ClientID:   cfg.Broker.ClientID,
		Username:   cfg.Broker.Username,
		Password:   password,
		TLS:        tlsConf,
		ShareGroup: cfg.Broker.ShareGroup,
		Tenant:     cfg.Broker.Tenant,
		Sink:       be.sink,
		Logger:     log,
	})
	resp := hq.NewResponder(hq.ResponderOptions{
		Broker:     cfg.Broker.URL,
		ClientID:   dl.ClientID,
		Username:   cfg.Broker.Username,
		Password:   password,
		TLS:        dlTLS,
		ShareGroup: cfg.Broker.ShareGroup,
		Tenants:    dl.Tenants,
		Log:        be.changes,
		PageSize:   dl.PageSize,
		Gaps:       be.queries, // ask stores for the events missing here
		Logger:     log,
	})

	g, gctx := errgroup.WithContext(ctx)
	if cfg.HTTP.Listen != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http listen: %w", err)
		}
		srv := &http.Server{Handler: httpHandler(in, resp), ReadHeaderTimeout: 10 * time.Second}
		log.Info("http listening", "component", "http", "addr", ln.Addr().String())
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	g.Go(func() error {
		err := in.Run(gctx)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		// Run returned nil because gctx ended; if that was an HTTP failure,
		// the group reports it.
		return nil
	})
	g.Go(func() error {
		if err := resp.Run(gctx); err != nil {
			return fmt.Errorf("downlink: %w", err)
		}
		return nil
	})
	log.Info("redcarpet-hq started", "version", Version, "sink", be.name,
		"broker", cfg.Broker.URL, "client_id", cfg.Broker.ClientID, "filter", in.Filter(),
		"downlink_tenants", strings.Join(dl.Tenants, ","))
	err = g.Wait()
	st := in.Stats()
	log.Info("redcarpet-hq stopped", "messages", st.Messages, "events_inserted", st.Inserted,
		"events_duplicate", st.Duplicates, "messages_rejected", st.Rejected)
	return err
}

// httpHandler serves /metrics from a private registry, /healthz (the
// process is alive) and /readyz (connected to the broker and subscribed,
// for events and for downlink requests).
func httpHandler(in *hq.Ingest, resp *hq.Responder) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		in,
		resp,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "redcarpet_hq_build_info",
			Help:        "Version and commit of the running worker.",
			ConstLabels: prometheus.Labels{"version": Version, "commit": Commit},
		}, func() float64 { return 1 }),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !in.Connected() {
			http.Error(w, "not connected to the broker", http.StatusServiceUnavailable)
			return
		}
		select {
		case <-resp.Ready():
		default:
			http.Error(w, "downlink not subscribed yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// backend is where the worker keeps what it receives and what it serves:
// the embedded bbolt file or PostgreSQL.
type backend struct {
	name    string
	sink    hq.Sink
	changes hq.ChangeLog
	queries postgres.Queries
	reports postgres.Reports
	close   func() error
}

// openBackend opens the configured sink and change log. readOnly opens the
// embedded file for queries only (stats, report), next to nothing else.
func openBackend(ctx context.Context, cfg *configs.HQ, readOnly bool, log *slog.Logger) (*backend, error) {
	if cfg.Sink.Kind == "postgres" {
		db, err := postgres.Open(ctx, cfg.Sink.DSN, postgres.Options{
			MaxConns: int32(cfg.Sink.MaxConns), Retain: cfg.Downlink.Retention, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		return &backend{name: "postgres", sink: db.Sink, changes: db.ChangeLog, queries: db.Sink, reports: db.Sink,
			close: func() error { db.Close(); return nil }}, nil
	}
	open := hq.OpenBolt
	if readOnly {
		open = hq.OpenBoltReadOnly
	}
	s, err := open(cfg.Sink.Path)
	if errors.Is(err, hq.ErrLocked) {
		return nil, fmt.Errorf("%w\n(bbolt allows one process per file: is redcarpet-hq run using %s? "+
			"stop it, or read its /metrics instead)", err, cfg.Sink.Path)
	}
	if err != nil {
		return nil, err
	}
	be := &backend{name: cfg.Sink.Path, sink: s, queries: s, reports: s, close: s.Close}
	if !readOnly {
		if be.changes, err = s.ChangeLog(&hq.ChangeLogOpts{Retention: cfg.Downlink.Retention}); err != nil {
			s.Close()
			return nil, err
		}
	}
	return be, nil
}

func readPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("broker password: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
