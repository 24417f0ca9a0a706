package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres"
)

// missingShown bounds the missing sequence numbers listed per epoch.
const missingShown = 10

// statsReport is what stats prints; -json prints it as is.
type statsReport struct {
	Sink       string        `json:"sink"`
	Events     uint64        `json:"events"`
	Duplicates uint64        `json:"duplicates"`
	Stores     []storeReport `json:"stores"`
}

type storeReport struct {
	Tenant      string                 `json:"tenant"`
	Store       string                 `json:"store"`
	Events      uint64                 `json:"events"`
	Duplicates  uint64                 `json:"duplicates"`
	Unsequenced uint64                 `json:"unsequenced"`
	Kinds       map[string]uint64      `json:"kinds"`
	Epochs      map[string]epochReport `json:"epochs"`
}

type epochReport struct {
	hq.Coverage
	Missing []uint64 `json:"missing,omitempty"` // the first missingShown gaps
}

func cmdStats(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	path := fs.String("config", DefaultConfig, "configuration `file` (its sink.path is read)")
	asJSON := fs.Bool("json", false, "print JSON")
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
	be, err := openBackend(context.Background(), cfg, true, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer be.close()
	rep, err := report(be.name, be.queries)
	if err != nil {
		return err
	}
	return output(stdout, *asJSON, rep, func() { printReport(stdout, rep) })
}

// output writes v as indented JSON when asJSON, else as text.
func output(w io.Writer, asJSON bool, v any, text func()) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text()
	return nil
}

func report(name string, sink postgres.Queries) (*statsReport, error) {
	st, err := sink.Stats()
	if err != nil {
		return nil, err
	}
	rep := &statsReport{Sink: name, Events: st.Events, Duplicates: st.Duplicates, Stores: []storeReport{}}
	for _, s := range st.Stores {
		cov, err := sink.Coverage(s.Tenant, s.Store)
		if err != nil {
			return nil, err
		}
		sr := storeReport{Tenant: s.Tenant, Store: s.Store, Events: s.Events, Duplicates: s.Duplicates,
			Unsequenced: s.Unsequenced, Kinds: s.Kinds, Epochs: map[string]epochReport{}}
		for epoch, c := range cov {
			er := epochReport{Coverage: c}
			if c.Gaps > 0 {
				if er.Missing, err = sink.Missing(s.Tenant, s.Store, epoch, missingShown); err != nil {
					return nil, err
				}
			}
			sr.Epochs[epoch] = er
		}
		rep.Stores = append(rep.Stores, sr)
	}
	return rep, nil
}

func printReport(w io.Writer, rep *statsReport) {
	fmt.Fprintf(w, "sink %s: %d events stored, %d duplicates dropped, %d stores\n",
		rep.Sink, rep.Events, rep.Duplicates, len(rep.Stores))
	if len(rep.Stores) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nTENANT\tSTORE\tEVENTS\tDUPLICATES\tUNSEQUENCED\tKINDS")
	for _, s := range rep.Stores {
		var kinds []string
		for _, k := range slices.Sorted(maps.Keys(s.Kinds)) {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, s.Kinds[k]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", s.Tenant, s.Store, s.Events, s.Duplicates, s.Unsequenced, strings.Join(kinds, " "))
	}
	fmt.Fprintln(tw, "\nTENANT\tSTORE\tEPOCH\tHELD\tMAX SEQ\tMISSING\tSTATUS")
	for _, s := range rep.Stores {
		for _, epoch := range slices.Sorted(maps.Keys(s.Epochs)) {
			e := s.Epochs[epoch]
			status := fmt.Sprintf("complete: 1..%d once each", e.MaxSeq)
			if e.Gaps > 0 {
				status = "missing " + joinSeqs(e.Missing)
				if e.Gaps > uint64(len(e.Missing)) {
					status += " …"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Tenant, s.Store, epoch, e.Count, e.MaxSeq, e.Gaps, status)
		}
	}
	tw.Flush()
}

func joinSeqs(seqs []uint64) string {
	s := make([]string, len(seqs))
	for i, n := range seqs {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
