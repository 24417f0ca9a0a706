package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// demoOptions are the demo's flags, plus hooks tests use to observe it.
type demoOptions struct {
	duration time.Duration // 0: until interrupted
	members  int
	speed    float64
	seed     uint64
	listen   string
	dir      string        // "": a temporary directory, removed afterwards
	start    time.Time     // zero: startClock on the next day the store is open then
	drain    time.Duration // how long to wait for HQ to hold everything

	startClock int // minutes after local midnight

	// For tests: observe every device event, and hook the broker.
	tap         func(edge.Event)
	brokerHooks []mqtt.Hook
}

// demoStaff is the number of staff in the demo's member base.
const demoStaff = 8

// demoSummary is what a demo run produced and what HQ received.
type demoSummary struct {
	Produced     uint64 // business events the store committed (all runs on this data dir)
	Recognised   uint64
	OffersShown  uint64
	Baskets      uint64 // closed by the simulated tills
	Redemptions  uint64
	UnknownCards uint64
	Intervals    uint64
	DeviceEvents uint64 // raw events from the simulated devices
	HQReceived   uint64 // distinct events HQ holds for this store
	HQDuplicates uint64 // copies HQ received again and dropped
	HQGaps       uint64 // sequence numbers HQ is missing
	Backlog      int    // events still in the store's outbox
	HQHead       uint64 // HQ's change log version
	Downlink     uint64 // the version the store applied
	// Traffic sums the run's store traffic intervals, the open one included.
	Traffic edge.Traffic
}

// Complete reports whether HQ holds exactly the events the store produced
// and the store applied HQ's every change.
func (s demoSummary) Complete() bool {
	return s.Backlog == 0 && s.HQGaps == 0 && s.HQReceived == s.Produced && s.Downlink == s.HQHead
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demoOptions
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (e.g. 30s) and print a summary; 0 runs until Ctrl-C")
	fs.IntVar(&o.members, "members", 10000, "members in the generated member base")
	fs.Float64Var(&o.speed, "speed", 60, "simulated seconds per real second")
	fs.Uint64Var(&o.seed, "seed", 1, "simulation seed: the same seed replays the same day")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the gateway's web pages")
	fs.StringVar(&o.dir, "dir", "", "data directory to keep (default: a temporary one, removed at exit)")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "how long to wait at the end for HQ to receive everything")
	at := fs.String("start", "11:30", "simulated start, local `HH:MM` on the next day the store is open then")
	if err := fs.Parse(args); err != nil {
		return err
	}
	clock, err := time.Parse("15:04", *at)
	if err != nil {
		return usageError(fmt.Sprintf("demo: -start %q is not HH:MM", *at))
	}
	o.startClock = clock.Hour()*60 + clock.Minute()
	if fs.NArg() > 0 {
		return usageError("usage: redcarpet demo [flags]")
	}
	if o.members < 1 || o.speed <= 0 {
		return errors.New("demo: -members must be at least 1 and -speed above 0")
	}
	sum, err := runDemo(ctx, o, stdout, stderr)
	if err != nil {
		return err
	}
	if !sum.Complete() {
		return fmt.Errorf("demo: HQ holds %d of %d events (%d missing, %d still queued); the store applied downlink version %d of %d",
			sum.HQReceived, sum.Produced, sum.HQGaps, sum.Backlog, sum.Downlink, sum.HQHead)
	}
	return nil
}

// runDemo runs the simulated store, an embedded broker and HQ ingest until
// ctx ends or o.duration passes, then drains the store's outbox to HQ and
// prints a summary.
func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) (demoSummary, error) {
	cfg, err := configs.Demo()
	if err != nil {
		return demoSummary{}, err
	}
	log := cfg.Log.Logger(stderr)
	if o.dir == "" {
		dir, err := os.MkdirTemp("", "redcarpet-demo-")
		if err != nil {
			return demoSummary{}, err
		}
		defer os.RemoveAll(dir)
		o.dir = dir
	} else if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return demoSummary{}, fmt.Errorf("demo: -dir: %w", err)
	}
	cfg.Data.Dir = o.dir
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return demoSummary{}, fmt.Errorf("demo: listen %s: %w (choose another address with -listen)", o.listen, err)
	}
	defer ln.Close()

	// The broker listens on a free port so it never clashes with one already
	// on 1883.
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Hooks: o.brokerHooks, Logger: quiet(log)})
	if err != nil {
		return demoSummary{}, err
	}
	defer brk.Close()
	cfg.HQ.Broker = brk.URL()

	// HQ first: the broker drops messages nobody subscribed to yet.
	sink, err := hq.OpenBolt(filepath.Join(o.dir, "hq.db"))
	if err != nil {
		return demoSummary{}, err
	}
	defer sink.Close()
	ingest := hq.New(hq.Options{Broker: brk.URL(), ClientID: "redcarpet-hq-demo", Sink: sink, Logger: log})
	hqRun := start(ingest.Run)
	defer hqRun.stop()
	changes, err := sink.ChangeLog(nil)
	if err != nil {
		return demoSummary{}, err
	}
	resp := hq.NewResponder(hq.ResponderOptions{Broker: brk.URL(), ClientID: "redcarpet-hq-demo-downlink",
		Tenants: []string{cfg.Store.Tenant}, Log: changes, Logger: quiet(log)})
	respRun := start(resp.Run)
	defer respRun.stop()
	for _, ready := range []struct {
		what string
		ch   <-chan struct{}
		t    *task
	}{{"hq ingest", ingest.Ready(), hqRun}, {"hq downlink", resp.Ready(), respRun}} {
		select {
		case <-ready.ch:
		case <-ready.t.done:
			return demoSummary{}, fmt.Errorf("demo: %s: %w", ready.what, ready.t.err)
		case <-ctx.Done():
			return demoSummary{}, ctx.Err()
		}
	}

	loc := cfg.Store.Location()
	if o.start.IsZero() {
		o.start = startAt(cfg.Store, time.Now(), o.startClock)
	}
	so := sim.DefaultOpts
	so.Seed, so.Speed, so.Start = o.seed, o.speed, o.start
	so.Location, so.Hours, so.Devices = loc, cfg.Store.OpeningOn, cfg.Devices
	so.Members = sim.Members(o.members, o.seed, o.start)
	// The staff badge at the first door with a reader; they join the member
	// base flagged as staff.
	so.Members = append(so.Members, sim.Staff(demoStaff, o.seed, so.Members)...)
	var till *simTill
	so.Till = func(c sim.Checkout) { till.Checkout(c) } // till is set before the simulation runs
	s, err := sim.New(so)
	if err != nil {
		return demoSummary{}, err
	}
	var simDevices []configs.Device
	for _, d := range cfg.Devices {
		if configs.DeviceKinds[d.Kind].Sim {
			simDevices = append(simDevices, d)
		}
	}
	run := s.Run
	if o.tap != nil {
		run = tapped(s.Run, o.tap)
	}
	d, err := newDaemon(cfg, daemonOpts{
		now: s.Clock().Now, logger: log, listener: ln,
		display: func(web edge.Display) edge.Display {
			// The tills ring up the simulation's checkouts in simulated time.
			till = newSimTill(web, nil, o.seed, s.Clock())
			return till
		},
		drivers: []driver{{devices: simDevices, open: always(run)}},
		status: func() map[string]any {
			st, _ := sink.Stats()
			return map[string]any{
				"demo_simulated_time":   s.Clock().Now().Format("Mon 15:04"),
				"demo_speed":            fmt.Sprintf("%gx", o.speed),
				"demo_hq_events_stored": st.Events,
				"demo_hq_duplicates":    st.Duplicates,
			}
		},
	})
	if err != nil {
		return demoSummary{}, err
	}
	till.engine, till.member = d.engine, d.db.store.Member
	offers := sim.Offers(o.start, loc)
	if err := seed(d, so.Members, offers); err != nil {
		d.db.Close()
		return demoSummary{}, err
	}
	if err := seedHQ(ctx, changes, cfg.Store.Tenant, so.Members, offers); err != nil {
		d.db.Close()
		return demoSummary{}, err
	}
	if err := d.start(); err != nil {
		d.db.Close()
		return demoSummary{}, err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "RedCarpet demo: %s, %d members, simulated day starting %s at %gx\n",
		cfg.Store.Name, o.members, o.start.Format("Mon 2 Jan 15:04 MST"), o.speed)
	fmt.Fprintf(stdout, "  overview   %s/\n  dashboard  %s/dashboard\n", base, base)
	for _, z := range cfg.Zones {
		fmt.Fprintf(stdout, "  signage    %s/signage/%s\t(%s)\n", base, z.ID, z.Name)
	}
	for _, l := range cfg.Lanes {
		// The terminal's token logs the browser in (a cookie) once.
		fmt.Fprintf(stdout, "  checkout   %s/checkout/%s?token=%s\t(%s)\n", base, l.ID, d.laneTokens[l.ID], l.Name)
	}
	fmt.Fprintf(stdout, "  metrics    %s/metrics\n  broker     %s (embedded; HQ ingest subscribed)\n", base, brk.URL())
	if o.duration > 0 {
		fmt.Fprintf(stdout, "Running for %s…\n", o.duration)
	} else {
		fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	}

	var timeout <-chan time.Time
	if o.duration > 0 {
		timeout = time.After(o.duration)
	}
	select {
	case <-ctx.Done():
	case <-timeout:
	case <-d.engineRun.done:
		return demoSummary{}, errors.Join(fmt.Errorf("engine stopped: %w", d.engineRun.err), d.stop())
	}

	// Stop producing, let the engine commit what it holds, then wait until
	// HQ has everything the store produced.
	till.stop()
	stopErr := d.stopEngine()
	ob := d.db.outbox
	deadline := time.Now().Add(o.drain)
	for {
		cov, err := sink.Coverage(cfg.Store.Tenant, cfg.Store.ID)
		if err != nil {
			return demoSummary{}, err
		}
		head, _ := changes.Head(context.Background(), cfg.Store.Tenant)
		if c := cov[ob.Epoch()]; ob.Stats().Backlog == 0 && c.Count == ob.Stats().LastSeq && c.Complete() &&
			d.downlink.Version() == head.Version {
			break
		}
		if time.Now().After(deadline) {
			log.Warn("HQ did not receive everything in time", "backlog", ob.Stats().Backlog, "drain", o.drain)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sum := summarize(d, s, sink, cfg)
	if head, err := changes.Head(context.Background(), cfg.Store.Tenant); err == nil {
		sum.HQHead = head.Version
	}
	if err := errors.Join(stopErr, d.stop()); err != nil {
		return sum, err
	}
	printSummary(stdout, sum)
	return sum, nil
}

// startAt returns minutes after midnight on the first day from now on which
// the store is open at that time, or the next opening.
func startAt(st configs.Store, now time.Time, minutes int) time.Time {
	loc := st.Location()
	y, m, d := now.In(loc).Date()
	for i := range 8 {
		t := time.Date(y, m, d+i, minutes/60, minutes%60, 0, 0, loc)
		if st.OpenAt(t) {
			return t
		}
	}
	return sim.Opening(now, loc, st.OpeningOn)
}

// seedHQ loads the member base and offers into HQ's empty change log. The
// store, seeded with the same data, receives them as its first downlink
// snapshot: the demo shows the two agree without waiting for them.
func seedHQ(ctx context.Context, log hq.ChangeLog, tenant string, members []edge.MemberRecord, offers []edge.Offer) error {
	head, err := log.Head(ctx, tenant)
	if err != nil || head.Version > 0 {
		return err
	}
	var changes []wire.Change
	flush := func() error {
		if len(changes) == 0 {
			return nil
		}
		_, err := log.Append(ctx, tenant, changes)
		changes = changes[:0]
		return err
	}
	for i := range members {
		changes = append(changes, wire.Change{Kind: wire.ChangeMemberUpsert, Member: hq.MemberChange(&members[i])})
		if len(changes) == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	for i := range offers {
		changes = append(changes, wire.Change{Kind: wire.ChangeOfferUpsert, Offer: &offers[i]})
	}
	return flush()
}

// seed loads the generated member base and offers into an empty store.
func seed(d *daemon, members []edge.MemberRecord, offers []edge.Offer) error {
	n, err := d.db.store.Count()
	if err != nil {
		return err
	}
	if n.Members == 0 {
		for i := 0; i < len(members); i += 1000 {
			if err := d.db.store.PutMembers(members[i:min(i+1000, len(members))]); err != nil {
				return err
			}
		}
	}
	if n.Offers == 0 {
		return d.db.store.PutOffers(offers)
	}
	return nil
}

func summarize(d *daemon, s *sim.Sim, sink *hq.BoltSink, cfg *configs.Config) demoSummary {
	e, ob := d.engine.Stats(), d.db.outbox.Stats()
	sum := demoSummary{
		Produced: ob.LastSeq, Recognised: e.Recognised, OffersShown: e.OffersShown, Baskets: e.Baskets, Redemptions: e.Redemptions,
		UnknownCards: e.UnknownCards, Intervals: e.Footfall, DeviceEvents: s.Stats().Events, Backlog: ob.Backlog,
		Downlink: d.downlink.Version(),
	}
	// The run's traffic: the closed intervals (kept in the outbox's
	// history) and the one still open.
	closed, err := d.db.outbox.TrafficBetween(time.Time{}, e.At.Add(time.Nanosecond))
	if err == nil {
		if today := e.Today; today != nil && len(today.Intervals) > 0 {
			if open := today.Intervals[len(today.Intervals)-1]; !slices.ContainsFunc(closed, func(t edge.Traffic) bool { return t.Start.Equal(open.Start) }) {
				closed = append(closed, open)
			}
		}
		sum.Traffic = edge.SumTraffic(closed)
	}
	if cov, err := sink.Coverage(cfg.Store.Tenant, cfg.Store.ID); err == nil {
		c := cov[ob.Epoch]
		sum.HQReceived, sum.HQGaps = c.Count, c.Gaps
		if missing := sum.Produced - min(sum.Produced, c.MaxSeq); missing > 0 {
			sum.HQGaps += missing // the newest events never arrived
		}
	}
	if st, err := sink.Stats(); err == nil {
		for _, ps := range st.Stores {
			if ps.Tenant == cfg.Store.Tenant && ps.Store == cfg.Store.ID {
				sum.HQDuplicates = ps.Duplicates
			}
		}
	}
	return sum
}

func printSummary(w io.Writer, s demoSummary) {
	verdict := "yes"
	if !s.Complete() {
		verdict = "NO"
	}
	fmt.Fprintf(w, `
Summary
  device events simulated     %d
  members recognised          %d
  unknown cards               %d
  offers shown                %d
  offers withheld (holdout)   %d
  baskets closed              %d (%d by identified members)
  offers redeemed             %d
  footfall intervals closed   %d
  visitors                    %d (%d staff crossings not counted)
  conversion                  %s (baskets / visitors)
  spend per visitor           %s
  events produced by store    %d
  events received by HQ       %d (distinct, after deduplication)
  duplicates dropped by HQ    %d
  missing at HQ               %d
  still in the outbox         %d
  HQ holds exactly what the store produced: %s
  the store applied HQ's change log up to version %d of %d
`, s.DeviceEvents, s.Recognised, s.UnknownCards, s.OffersShown, s.Traffic.OffersWithheld, s.Baskets, s.Traffic.MemberBaskets,
		s.Redemptions, s.Intervals, s.Traffic.Visitors, s.Traffic.StaffIn+s.Traffic.StaffOut, conversion(s.Traffic), spendPerVisitor(s.Traffic),
		s.Produced,
		s.HQReceived, s.HQDuplicates, s.HQGaps, s.Backlog, verdict, s.Downlink, s.HQHead)
}

func conversion(t edge.Traffic) string {
	if c, ok := t.Conversion(); ok {
		return fmt.Sprintf("%.1f%%", 100*c)
	}
	return "—"
}

func spendPerVisitor(t edge.Traffic) string {
	if m, ok := t.SpendPerVisitor(); ok {
		return m.String() + " " + t.Currency
	}
	return "—"
}

// tapped wraps a driver so f sees every event it emits.
func tapped(run func(context.Context, chan<- edge.Event) error, f func(edge.Event)) func(context.Context, chan<- edge.Event) error {
	return func(ctx context.Context, out chan<- edge.Event) error {
		mid := make(chan edge.Event)
		done := make(chan error, 1)
		go func() { done <- run(ctx, mid) }()
		for {
			select {
			case ev := <-mid:
				f(ev)
				select {
				case out <- ev:
				case <-ctx.Done():
				}
			case err := <-done:
				return err
			}
		}
	}
}

// quiet lowers a component's log level to warnings.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelHandler{slog.LevelWarn, l.Handler()})
}

type levelHandler struct {
	min slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
