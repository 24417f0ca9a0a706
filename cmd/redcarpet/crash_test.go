package main

// The kill -9 test: a gateway process is killed at random moments while it
// produces and uploads events, restarted on the same data directory each
// time, and finally drained; a Jepsen-style checker then compares what the
// store's database committed with what HQ holds.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/pgtest"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

const (
	// crashChildEnv holds a child's crashSpec as JSON; TestMain runs the
	// child instead of the tests when it is set.
	crashChildEnv = "REDCARPET_CRASH_CHILD"
	// envCrashCycles raises the number of kills per variant for a soak.
	envCrashCycles = "REDCARPET_CRASH_CYCLES"
	// envCrashSeed replays a run's kill moments and card reads.
	envCrashSeed = "REDCARPET_CRASH_SEED"

	defaultCrashCycles = 50
	crashBacklog       = 20_000 // events queued before the first start
)

// synthLoad is the synthetic store traffic: members of a seeded member base
// present their cards at the readers (a few hundred reads a second, so
// recognitions and exposures flow) and people cross the doors, on a clock
// that runs Speed times faster than real time so footfall intervals close
// every few seconds and frequency caps expire. The clock is anchored to
// real time, so it keeps going forward across process restarts.
type synthLoad struct {
	Members    int       `json:"members"`
	MemberSeed uint64    `json:"member_seed"`
	SimStart   time.Time `json:"sim_start"`  // simulated time at RealStart
	RealStart  time.Time `json:"real_start"` // wall-clock anchor
	Speed      float64   `json:"speed"`      // simulated seconds per real second
	Rate       int       `json:"rate"`       // card reads per second
	Seed       uint64    `json:"seed"`       // this run's random stream

	members []edge.MemberRecord
}

func newSynthLoad(seed uint64) synthLoad {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.UTC
	}
	return synthLoad{
		Members: 600, MemberSeed: 11,
		SimStart:  time.Date(2026, 11, 21, 10, 30, 0, 0, paris), // a Saturday morning
		RealStart: time.Now(),
		Speed:     300, // a 15-minute interval every 3 s, the 30-minute cap lasts 6 s
		Rate:      300,
		Seed:      seed,
	}
}

func (l *synthLoad) now() time.Time {
	return l.SimStart.Add(time.Duration(float64(time.Since(l.RealStart)) * l.Speed))
}

func (l *synthLoad) records() []edge.MemberRecord {
	if l.members == nil {
		l.members = sim.Members(l.Members, l.MemberSeed, l.SimStart)
	}
	return l.members
}

// driver is the load as one daemon driver for the demo configuration's
// card readers and door counters. Its scanners get no driver, so each
// start also reports them down: more device events.
func (l *synthLoad) driver(cfg *configs.Config) driver {
	var readers, doors []configs.Device
	for _, dev := range cfg.Devices {
		switch dev.Kind {
		case "sim_rfid":
			readers = append(readers, dev)
		case "sim_door":
			doors = append(doors, dev)
		}
	}
	members := l.records()
	run := func(ctx context.Context, out chan<- edge.Event) error {
		rng := rand.New(rand.NewPCG(l.Seed, 0x5eed))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		began, sent := time.Now(), 0
		send := func(ev edge.Event) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			// Keep the average rate when ticks come late (a loaded machine),
			// in bursts of at most a tenth of a second's reads.
			due := int(time.Since(began).Seconds()*float64(l.Rate)) - sent
			for range min(due, max(1, l.Rate/10)) {
				sent++
				m, r := members[rng.IntN(len(members))], readers[rng.IntN(len(readers))]
				if !send(edge.Event{Kind: edge.KindCardRead, Source: r.Name, Time: l.now(), Card: &edge.CardRead{UID: m.Cards[0]}}) {
					return nil
				}
			}
			if rng.IntN(3) == 0 {
				dir := edge.In
				if rng.IntN(2) == 0 {
					dir = edge.Out
				}
				d := doors[rng.IntN(len(doors))]
				if !send(edge.Event{Kind: edge.KindDoorCrossing, Source: d.Name, Time: l.now(), Crossing: &edge.Crossing{Dir: dir, Count: 1 + rng.IntN(2)}}) {
					return nil
				}
			}
		}
	}
	return driver{devices: append(readers, doors...), open: always(run)}
}

// storeConfig is the demo store publishing to brokerURL, with small
// batches so that several messages are in flight when a process dies, and
// quick reconnects.
func storeConfig(dir, brokerURL string) (*configs.Config, error) {
	cfg, err := configs.Demo()
	if err != nil {
		return nil, err
	}
	cfg.Data.Dir, cfg.HQ.Broker = dir, brokerURL
	cfg.HQ.BatchMaxEvents, cfg.HQ.InFlight = 100, 8
	cfg.HQ.BatchMaxAge = configs.D(50 * time.Millisecond)
	cfg.HQ.BackoffMin, cfg.HQ.BackoffMax = configs.D(50*time.Millisecond), configs.D(500*time.Millisecond)
	cfg.HQ.AckTimeout = configs.D(5 * time.Second)
	return cfg, nil
}

// seedStore loads the load's members and the demo offers into the store's
// database (creating it, its card key and its outbox epoch), and queues
// backlog recognitions in its outbox, as an outage would have left them.
func seedStore(cfg *configs.Config, l *synthLoad, backlog int) error {
	db, err := openDatabase(cfg)
	if err != nil {
		return err
	}
	members := l.records()
	err = seed(&daemon{db: db}, members, sim.Offers(l.SimStart, cfg.Store.Location()))
	for i := 0; i < backlog && err == nil; i += 1000 {
		evs := make([]edge.Event, min(1000, backlog-i))
		for j := range evs {
			m := members[(i+j)%len(members)]
			evs[j] = edge.Event{Kind: edge.KindRecognition, Source: "fresh-reader", Time: l.SimStart,
				Recognition: &edge.Recognition{MemberID: m.Member.ID, Via: edge.ViaCard, Zone: "fresh"}}
		}
		err = db.outbox.Append(evs)
	}
	return errors.Join(err, db.Close())
}

// crashSpec is what the parent passes to a child gateway process.
type crashSpec struct {
	Dir     string    `json:"dir"`
	Broker  string    `json:"broker"`
	Drain   bool      `json:"drain"`   // produce a little, drain the outbox, stop cleanly
	Compact bool      `json:"compact"` // compact at start whenever half the file is free pages, whatever its size
	Load    synthLoad `json:"load"`
}

// crashChild is the child process's main (see TestMain).
func crashChild(raw string) int {
	var spec crashSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "crash child: bad spec:", err)
		return 2
	}
	// The parent holds our stdin open: end of file means it is gone, and
	// the child must not outlive it.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		fmt.Fprintln(os.Stderr, "crash child: parent gone")
		os.Exit(3)
	}()
	if err := runCrashChild(spec, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 1
	}
	return 0
}

// runCrashChild runs the gateway on spec.Dir with the synthetic load. It
// writes "READY <epoch> <seq>" once running, then "SEQ <n>" whenever the
// outbox's last committed sequence number changes: every event up to n was
// acknowledged to its producer (the engine) after its bbolt commit. Without
// Drain it runs until killed; with Drain it stops producing after 200 more
// events, waits for an empty outbox, writes "DRAINED <epoch> <seq>" and
// stops cleanly.
func runCrashChild(spec crashSpec, out, logw io.Writer) error {
	cfg, err := storeConfig(spec.Dir, spec.Broker)
	if err != nil {
		return err
	}
	l := spec.Load
	if spec.Compact {
		compactMinSize = 0 // this process only
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d, err := newDaemon(cfg, daemonOpts{now: l.now, logger: log, listener: ln, drivers: []driver{l.driver(cfg)}})
	if err != nil {
		ln.Close()
		return err
	}
	if err := d.start(); err != nil {
		d.db.Close()
		return err
	}
	ob := d.db.outbox
	first := ob.Stats().LastSeq
	if d.db.compacted != "" {
		fmt.Fprintln(out, "COMPACTED")
	}
	fmt.Fprintf(out, "READY %s %d\n", ob.Epoch(), first)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	reported := first
	for !spec.Drain || reported < first+200 {
		select {
		case <-d.engineRun.done:
			return errors.Join(fmt.Errorf("engine stopped: %w", d.engineRun.err), d.stop())
		case <-tick.C:
		}
		if s := ob.Stats().LastSeq; s != reported {
			fmt.Fprintf(out, "SEQ %d\n", s)
			reported = s
		}
	}
	stopErr := d.stopEngine() // the engine commits what it holds
	deadline := time.Now().Add(2 * time.Minute)
	for ob.Stats().Backlog > 0 {
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("outbox not drained in 2m: backlog %d, uplink %+v", ob.Stats().Backlog, d.uplink.Stats()), d.stop())
		}
		<-tick.C
	}
	st := ob.Stats()
	fmt.Fprintf(out, "SEQ %d\nDRAINED %s %d\n", st.LastSeq, st.Epoch, st.LastSeq)
	return errors.Join(stopErr, d.stop())
}

// crashProc is a running child gateway process.
type crashProc struct {
	cmd       *exec.Cmd
	stderr    *syncBuffer
	ready     chan struct{} // closed at the READY line
	exited    chan struct{} // closed after Wait
	epoch     string        // from READY
	compacted bool          // the database was compacted at start
	drained   string        // the DRAINED line
	waitErr   error
	acked     atomic.Uint64 // highest committed sequence number reported
}

func startCrashProc(t *testing.T, spec crashSpec) *crashProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := &crashProc{stderr: &syncBuffer{}, ready: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command(exe)
	// A data race in the child stops it at once: the parent sees it exit.
	p.cmd.Env = append(os.Environ(), crashChildEnv+"="+string(raw), "GORACE=halt_on_error=1")
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.cmd.StdinPipe(); err != nil { // closed by Wait; the child exits on its EOF
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "COMPACTED":
				p.compacted = true
			case len(f) == 3 && f[0] == "READY":
				p.epoch = f[1]
				close(p.ready)
			case len(f) == 2 && f[0] == "SEQ":
				if n, err := strconv.ParseUint(f[1], 10, 64); err == nil && n > p.acked.Load() {
					p.acked.Store(n)
				}
			case len(f) == 3 && f[0] == "DRAINED":
				p.drained = f[1] + " " + f[2]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p
}

// kill sends SIGKILL and waits for the process; it reports whether the
// signal is what ended it (false: it had exited by itself).
func (p *crashProc) kill(t *testing.T) bool {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("child %d did not die of SIGKILL in 30s", p.cmd.Process.Pid)
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// tail is the end of a child's stderr, for failure messages.
func (p *crashProc) tail() string {
	b := p.stderr.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// outboxFile is what a store's database file holds of its outbox.
type outboxFile struct {
	Epoch   string
	LastSeq uint64 // meta "seq": the last sequence number committed
	Queued  int    // records still in the outbox buckets
}

// inspectOutbox opens a (closed) gateway database read-only, runs bbolt's
// consistency check (tx.Check: page reachability, double frees, key order)
// and reads the outbox meta bucket and buckets directly: outbox.Open cannot
// run on a read-only file, it writes.
func inspectOutbox(path string) (outboxFile, error) {
	var st outboxFile
	o := outbox.DBOptions()
	o.ReadOnly, o.Timeout = true, 5*time.Second
	db, err := bolt.Open(path, 0o600, o)
	if err != nil {
		return st, fmt.Errorf("open %s read-only: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var problems []error
		for err := range tx.Check() {
			problems = append(problems, err)
		}
		if len(problems) > 0 {
			return fmt.Errorf("bbolt check: %w", errors.Join(problems...))
		}
		meta := tx.Bucket([]byte("outbox.meta"))
		if meta == nil {
			return errors.New("no outbox.meta bucket")
		}
		st.Epoch = string(meta.Get([]byte("epoch")))
		if v := meta.Get([]byte("seq")); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("outbox.meta seq is %d bytes", len(v))
			}
			st.LastSeq = binary.BigEndian.Uint64(v)
		}
		for _, name := range []string{"outbox.p0", "outbox.p1", "outbox.p2"} {
			b := tx.Bucket([]byte(name))
			if b == nil {
				return fmt.Errorf("no %s bucket", name)
			}
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if len(k) != 8 || binary.BigEndian.Uint64(k) == 0 || binary.BigEndian.Uint64(k) > st.LastSeq {
					return fmt.Errorf("%s holds key %x beyond the committed seq %d", name, k, st.LastSeq)
				}
				st.Queued++
			}
		}
		return nil
	})
	return st, err
}

// hqVerdict is the Jepsen total-queue check of one store database: the
// events it committed (ids <epoch>-1 … <epoch>-LastSeq) against the ids HQ
// holds for the store.
type hqVerdict struct {
	LastSeq    uint64
	Held       uint64   // distinct committed events HQ holds
	Lost       uint64   // committed, not at HQ
	Unexpected uint64   // at HQ, never committed: another epoch, a seq out of range, a malformed id
	Duplicates uint64   // copies HQ received again and dropped
	Missing    []uint64 // the first lost sequence numbers
	Strays     []string // the first unexpected ids
	Coverage   map[string]hq.Coverage
	Kinds      map[string]uint64
}

func checkHQ(sink hqSink, tenant, store, epoch string, lastSeq uint64) (hqVerdict, error) {
	v := hqVerdict{LastSeq: lastSeq}
	ids, err := sink.IDs(tenant, store)
	if err != nil {
		return v, err
	}
	held := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		ep, seq, ok := outbox.ParseID(id)
		if !ok || ep != epoch || seq > lastSeq || id != ep+"-"+strconv.FormatUint(seq, 10) {
			v.Unexpected++
			if len(v.Strays) < 10 {
				v.Strays = append(v.Strays, id)
			}
			continue
		}
		held[seq] = true
	}
	v.Held = uint64(len(held))
	v.Lost = lastSeq - v.Held
	for seq := uint64(1); seq <= lastSeq && len(v.Missing) < 20; seq++ {
		if !held[seq] {
			v.Missing = append(v.Missing, seq)
		}
	}
	if v.Coverage, err = sink.Coverage(tenant, store); err != nil {
		return v, err
	}
	st, err := sink.Stats()
	if err != nil {
		return v, err
	}
	for _, s := range st.Stores {
		if s.Tenant == tenant && s.Store == store {
			v.Duplicates, v.Kinds = s.Duplicates, s.Kinds
		}
	}
	return v, nil
}

// check reports what is wrong, or nil: nothing lost, nothing unexpected,
// and HQ's own coverage of the epoch exactly 1..LastSeq.
func (v hqVerdict) check(epoch string) error {
	var errs []error
	if v.Lost > 0 {
		errs = append(errs, fmt.Errorf("lost %d of %d committed events; first missing seqs %v", v.Lost, v.LastSeq, v.Missing))
	}
	if v.Unexpected > 0 {
		errs = append(errs, fmt.Errorf("%d unexpected ids at HQ, e.g. %v", v.Unexpected, v.Strays))
	}
	c, ok := v.Coverage[epoch]
	if !ok || c.Count != v.LastSeq || c.MaxSeq != v.LastSeq || c.Watermark != v.LastSeq || !c.Complete() || len(v.Coverage) != 1 {
		errs = append(errs, fmt.Errorf("HQ coverage %+v, want exactly 1..%d of epoch %s", v.Coverage, v.LastSeq, epoch))
	}
	return errors.Join(errs...)
}

// waitHQ polls until HQ holds as many events of epoch as lastSeq, or d
// passes; the checker runs either way and says what is missing.
func waitHQ(sink hqSink, tenant, store, epoch string, lastSeq uint64, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cov, err := sink.Coverage(tenant, store); err == nil && cov[epoch].Count >= lastSeq {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hqSink is HQ's event store as these tests use it: the ingest stores into
// it and the checker reads back what it holds. The demo's hq.BoltSink is
// one, and so is production's PostgreSQL sink.
type hqSink interface {
	hq.Sink
	postgres.Queries
}

// boltSink opens a BoltSink in the test's directory, closed when the test
// ends.
func boltSink(t *testing.T) *hq.BoltSink {
	t.Helper()
	sink, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	t.Log("HQ sink: bbolt")
	return sink
}

// postgresOrBolt is the sink of the tests run against Mosquitto: with
// REDCARPET_TEST_POSTGRES set (CI sets it), PostgreSQL on a schema of the
// test's own, and a database that does not answer fails the test; unset, a
// BoltSink.
func postgresOrBolt(t *testing.T) hqSink {
	t.Helper()
	if os.Getenv(pgtest.Env) == "" {
		t.Log(pgtest.Env + " is not set")
		return boltSink(t)
	}
	db, err := postgres.Open(context.Background(), pgtest.Schema(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	t.Logf("HQ sink: PostgreSQL (%s)", pgtest.Env)
	return db.Sink
}

// startHQ runs an HQ ingest (shared subscription) into sink on the broker
// at url until the test ends.
func startHQ(t *testing.T, url, clientID string, sink hqSink) *hq.Ingest {
	t.Helper()
	ing := hq.New(hq.Options{
		Broker: url, ClientID: clientID, Sink: sink, Logger: slog.New(slog.DiscardHandler),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, ConnectTimeout: 5 * time.Second,
	})
	run := start(ing.Run)
	t.Cleanup(func() { run.stop() })
	select {
	case <-ing.Ready():
	case <-run.done:
		t.Fatalf("hq ingest: %v", run.err)
	case <-time.After(15 * time.Second):
		t.Fatalf("hq ingest did not subscribe to %s in 15s", url)
	}
	return ing
}

func envUint(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}

// TestCrashKill9 is the kill -9 test against the embedded broker, with the
// demo's BoltSink at HQ.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test: skipped in -short mode")
	}
	t.Parallel() // mostly waiting for kill moments: overlaps with the Mosquitto variant
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	crashTest(t, b.URL(), boltSink(t))
}

// TestCrashKill9Mosquitto is the kill -9 test with a private Mosquitto as
// the broker and HQ consuming through its shared subscription into
// PostgreSQL (see postgresOrBolt).
func TestCrashKill9Mosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test: skipped in -short mode")
	}
	t.Parallel()
	m := startMosquitto(t, requireMosquitto(t), false)
	crashTest(t, m.url(), postgresOrBolt(t))
}

// crashTest kills a child gateway process with SIGKILL at random moments
// (REDCARPET_CRASH_CYCLES times, default 50) while it produces and uploads
// events, restarting it on the same data directory each time, then runs it
// to an empty outbox and checks HQ against the database:
//
//   - after every kill: bbolt's tx.Check is clean on the file, the epoch is
//     unchanged, and the committed sequence on disk is at least every
//     sequence the child had reported committed (no acknowledged commit
//     rolled back);
//   - at the end: HQ holds exactly <epoch>-1 … <epoch>-LastSeq (lost 0,
//     unexpected 0), and the duplicates it dropped stay within the bound of
//     the in-flight window per kill.
//
// A fifth of the kills land 5-400 ms after exec, mostly during start-up
// (runtime start, opening and recovering the database, the engine's
// restore); the others 50-800 ms after the child reported it runs. A
// quarter of the starts compact the database whatever its size (the
// daemon's start-up compaction, normally for files of 64 MiB and more), so
// kills also land in the copy-and-rename.
func crashTest(t *testing.T, brokerURL string, sink hqSink) {
	seed := envUint(t, envCrashSeed, uint64(time.Now().UnixNano()))
	cycles := int(envUint(t, envCrashCycles, defaultCrashCycles))
	t.Logf("seed %d (replay with %s=%d), %d kill cycles, broker %s", seed, envCrashSeed, seed, cycles, brokerURL)
	defer func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d: replay with %s=%d", seed, envCrashSeed, seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))

	ing := startHQ(t, brokerURL, "hq-crash", sink)
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	load := newSynthLoad(seed)
	cfg, err := storeConfig(dir, brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	// A backlog to drain while the kills go on; once drained, it leaves
	// the file more than half free pages, which start-up compaction
	// (Compact) then rewrites.
	if err := seedStore(cfg, &load, crashBacklog); err != nil {
		t.Fatal(err)
	}
	initial, err := inspectOutbox(path)
	if err != nil {
		t.Fatal(err)
	}
	epoch := initial.Epoch

	var (
		began          = time.Now()
		acked          uint64 // highest sequence any child reported committed
		startKills     int    // kills during start-up
		runKills       int
		compactions    int // starts that compacted the database
		history        []string
		maxBacklog     int
		maxStartupTime time.Duration
	)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("cycle history (kill moment, committed seq reported → on disk, queued):\n  %s\n"+format,
			append([]any{strings.Join(history, "\n  ")}, args...)...)
	}
	for i := range cycles {
		spec := crashSpec{Dir: dir, Broker: brokerURL, Load: load, Compact: rng.IntN(4) == 0}
		spec.Load.Seed = seed + uint64(i) + 1
		early := rng.IntN(5) == 0
		delay := time.Duration(50+rng.IntN(751)) * time.Millisecond
		if early {
			delay = time.Duration(5+rng.IntN(396)) * time.Millisecond
		}
		execAt := time.Now()
		p := startCrashProc(t, spec)
		moment := "exec+" + delay.String()
		if !early {
			select {
			case <-p.ready:
				maxStartupTime = max(maxStartupTime, time.Since(execAt))
			case <-p.exited:
				fail("cycle %d: child exited before it ran: %v\n%s", i, p.waitErr, p.tail())
			case <-time.After(60 * time.Second):
				p.kill(t)
				fail("cycle %d: child not running after 60s\n%s", i, p.tail())
			}
			moment = "ready+" + delay.String()
		}
		// The kill moment itself: fault injection, not a wait for a condition.
		select {
		case <-time.After(delay):
		case <-p.exited:
			fail("cycle %d: child exited by itself: %v\n%s", i, p.waitErr, p.tail())
		}
		if !p.kill(t) {
			fail("cycle %d: child had exited by itself: %v\n%s", i, p.waitErr, p.tail())
		}
		if s := p.stderr.Bytes(); strings.Contains(string(s), "DATA RACE") || strings.Contains(string(s), "panic:") {
			fail("cycle %d: child stderr:\n%s", i, p.tail())
		}
		select {
		case <-p.ready:
			runKills++
		default:
			startKills++
		}
		if p.compacted {
			compactions++
			moment += " compacted"
		} else if spec.Compact {
			moment += " compact?"
		}
		st, err := inspectOutbox(path)
		history = append(history, fmt.Sprintf("%2d %-16s %6d → %6d, %5d queued", i, moment, p.acked.Load(), st.LastSeq, st.Queued))
		switch {
		case err != nil:
			fail("cycle %d: database after SIGKILL: %v", i, err)
		case st.Epoch != epoch:
			fail("cycle %d: epoch %q after restart, want %q: the database was recreated", i, st.Epoch, epoch)
		case st.LastSeq < p.acked.Load():
			fail("cycle %d: the child reported seq %d committed, the file holds %d: acknowledged events rolled back", i, p.acked.Load(), st.LastSeq)
		case p.epoch != "" && p.epoch != epoch:
			fail("cycle %d: child ran epoch %s, want %s", i, p.epoch, epoch)
		}
		acked = max(acked, p.acked.Load())
		maxBacklog = max(maxBacklog, st.Queued)
	}
	killPhase := time.Since(began)

	// A last run without a kill drains the outbox and stops cleanly.
	spec := crashSpec{Dir: dir, Broker: brokerURL, Drain: true, Load: load}
	spec.Load.Seed = seed
	p := startCrashProc(t, spec)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Minute):
		p.kill(t)
		fail("final run: not drained in 3m\n%s", p.tail())
	}
	if p.waitErr != nil || p.drained == "" {
		fail("final run: %v (drained %q)\n%s", p.waitErr, p.drained, p.tail())
	}
	st, err := inspectOutbox(path)
	if err != nil {
		fail("final database: %v", err)
	}
	if st.Queued != 0 || st.Epoch != epoch || st.LastSeq < acked || p.drained != fmt.Sprintf("%s %d", epoch, st.LastSeq) {
		fail("final database %+v (child said %q), want an empty outbox of epoch %s with seq ≥ %d", st, p.drained, epoch, acked)
	}

	tenant, store := cfg.Store.Tenant, cfg.Store.ID
	waitHQ(sink, tenant, store, epoch, st.LastSeq, 60*time.Second)
	v, err := checkHQ(sink, tenant, store, epoch, st.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	kills := startKills + runKills
	t.Logf("%d kills (%d during start-up, %d while running; %d starts compacted the file) in %s (longest start-up %s, largest backlog after a kill %d); final drain run %s",
		kills, startKills, runKills, compactions, killPhase.Round(time.Millisecond), maxStartupTime.Round(time.Millisecond), maxBacklog,
		(time.Since(began) - killPhase).Round(time.Millisecond))
	t.Logf("checker: committed %d (epoch %s), HQ holds %d, lost %d, unexpected %d, duplicates dropped %d (ingest saw %d); kinds %v",
		v.LastSeq, epoch, v.Held, v.Lost, v.Unexpected, v.Duplicates, ing.Stats().Duplicates, v.Kinds)
	if err := v.check(epoch); err != nil {
		fail("checker: %v", err)
	}
	// Each kill can leave at most the in-flight window unacknowledged but
	// delivered: those events are sent again (goal: duplicates per
	// reconnect ≤ in-flight window × batch size).
	if bound := uint64(kills * cfg.HQ.InFlight * cfg.HQ.BatchMaxEvents); v.Duplicates > bound {
		t.Errorf("%d duplicates, more than %d kills × %d in flight × %d per batch = %d", v.Duplicates, kills, cfg.HQ.InFlight, cfg.HQ.BatchMaxEvents, bound)
	}
	for _, k := range []edge.Kind{edge.KindRecognition, edge.KindOfferShown, edge.KindFootfall, edge.KindDeviceStatus} {
		if v.Kinds[string(k)] == 0 {
			t.Errorf("HQ holds no %s event: the load did not exercise every kind", k)
		}
	}
}
