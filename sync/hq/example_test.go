package hq_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redcarpet-retail/redcarpet/sync/hq"
)

// An HQ worker storing every tenant's uplink in an embedded sink until
// interrupted.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	sink, err := hq.OpenBolt("/var/lib/redcarpet-hq/hq.db")
	if err != nil {
		log.Fatal(err)
	}
	defer sink.Close()

	in := hq.New(hq.Options{
		Broker:   "tcp://127.0.0.1:1883",
		ClientID: "redcarpet-hq-1", // unique per worker; names its broker session
		Sink:     sink,
		Logger:   slog.Default(),
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(in)

	if err := in.Run(ctx); err != nil { // returns nil once ctx ends
		log.Fatal(err)
	}
	st, err := sink.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d events stored, %d duplicates dropped\n", st.Events, st.Duplicates)
}
