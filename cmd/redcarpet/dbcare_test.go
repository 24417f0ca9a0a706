package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// hqWithMembers starts an embedded broker and an HQ (ingest and downlink
// responder on one bbolt file) whose change log holds members and offers,
// and returns a demo config pointing at it.
func hqWithMembers(t *testing.T, members []edge.MemberRecord, offers []edge.Offer) (*configs.Config, *hq.BoltSink) {
	t.Helper()
	cfg, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { brk.Close() })
	cfg.Data.Dir, cfg.HQ.Broker = t.TempDir(), brk.URL()
	cfg.HQ.BackoffMin, cfg.HQ.BackoffMax = configs.D(20*time.Millisecond), configs.D(200*time.Millisecond)
	sink, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	changes, err := sink.ChangeLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := seedHQ(context.Background(), changes, cfg.Store.Tenant, members, offers); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ingest := hq.New(hq.Options{Broker: brk.URL(), ClientID: "hq-test", Sink: sink, Logger: log})
	resp := hq.NewResponder(hq.ResponderOptions{Broker: brk.URL(), ClientID: "hq-test-downlink",
		Tenants: []string{cfg.Store.Tenant}, Log: changes, Logger: log, HeadEvery: 50 * time.Millisecond})
	for _, r := range []struct {
		run   func(context.Context) error
		ready <-chan struct{}
	}{{ingest.Run, ingest.Ready()}, {resp.Run, resp.Ready()}} {
		tk := start(r.run)
		t.Cleanup(func() { tk.stop() })
		select {
		case <-r.ready:
		case <-time.After(20 * time.Second):
			t.Fatal("HQ not ready")
		}
	}
	return cfg, sink
}

// corruptMeta overwrites both meta pages: bbolt refuses the file.
func corruptMeta(t *testing.T, path string) {
	overwrite(t, path, 0, 2*os.Getpagesize())
}

// corruptData overwrites every page below the high-water mark but the two
// meta pages: the file opens, its trees are garbage.
func corruptData(t *testing.T, path string) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	ps := db.Info().PageSize
	db.Close()
	overwrite(t, path, int64(2*ps), int(size)-2*ps)
}

func overwrite(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, n)
	rand.Read(junk)
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptDatabaseRecovers is the must-show: a daemon's
// database is corrupted while it is stopped; the next start moves the file
// aside, reports it (log, metric, a device.status event HQ receives), and
// the fresh database converges from HQ: the store recognises its members
// again. It also checks, on the real daemon's file, that no first name is
// stored in clear.
func TestCorruptDatabaseRecovers(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(*testing.T, string)
		full    bool // bbolt's full check, or the shallow one
	}{
		{"meta pages, shallow check", corruptMeta, false},
		{"data pages, full check", corruptData, true},
		{"data pages, shallow check", corruptData, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.full {
				old := checkMaxSize
				checkMaxSize = 0
				t.Cleanup(func() { checkMaxSize = old })
			}
			now := time.Now()
			members := sim.Members(30, 7, now)
			cfg, sink := hqWithMembers(t, members, sim.Offers(now, cfg0(t).Store.Location()))
			path := filepath.Join(cfg.Data.Dir, DBFile)

			d, err := newDaemon(cfg, daemonOpts{logger: slog.New(slog.DiscardHandler), listener: listen(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.start(); err != nil {
				t.Fatal(err)
			}
			converged := func(d *daemon) func() bool {
				return func() bool {
					for _, m := range members {
						if got, err := d.db.store.MemberByCard(m.Cards[0]); err != nil || got.ID != m.Member.ID {
							return false
						}
					}
					return true
				}
			}
			eventually(t, 20*time.Second, "the first snapshot", converged(d))
			epoch := d.db.outbox.Epoch()
			if err := d.stop(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range members {
				if n := m.Member.FirstName; len(n) >= 4 && bytes.Contains(raw, []byte(n)) {
					t.Fatalf("first name of %s in clear in %s", m.Member.ID, path)
				}
			}

			tt.corrupt(t, path)
			logs := &syncBuffer{}
			d, err = newDaemon(cfg, daemonOpts{logger: slog.New(slog.NewTextHandler(logs, nil)), listener: listen(t)})
			if err != nil {
				t.Fatalf("start on a corrupt database: %v", err)
			}
			if err := d.start(); err != nil {
				t.Fatal(err)
			}
			defer d.stop()
			if !errors.Is(d.db.corrupt, errCorrupt) {
				t.Fatalf("corruption not detected (%v)", d.db.corrupt)
			}
			if _, err := os.Stat(d.db.corruptPath); err != nil || !strings.HasPrefix(d.db.corruptPath, path+".corrupt-") {
				t.Errorf("corrupt file not kept aside at %q: %v", d.db.corruptPath, err)
			}
			if !strings.Contains(string(logs.Bytes()), "database corrupt") {
				t.Errorf("no log of the corruption:\n%s", string(logs.Bytes()))
			}
			mfs, err := d.reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			recovered := -1.0
			for _, mf := range mfs {
				if mf.GetName() == "redcarpet_database_recovered_total" {
					recovered = mf.GetMetric()[0].GetCounter().GetValue()
				}
			}
			if recovered != 1 {
				t.Errorf("redcarpet_database_recovered_total = %v, want 1 (-1: missing)", recovered)
			}
			if d.db.outbox.Epoch() == epoch {
				t.Errorf("fresh database kept epoch %s", epoch)
			}
			eventually(t, 20*time.Second, "the snapshot into the fresh database", converged(d))
			if st := retainedState(t, cfg); !strings.Contains(st.Recovered, "resynchronising from HQ") {
				t.Errorf("state topic %+v: want the recovery in recovered", st)
			}
			eventually(t, 20*time.Second, "HQ to hear of the recovery", func() bool {
				st, err := sink.Stats()
				return err == nil && len(st.Stores) == 1 && st.Stores[0].Kinds[string(edge.KindDeviceStatus)] >= 1
			})
		})
	}
}

func cfg0(t *testing.T) *configs.Config {
	cfg, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestBackupRestore takes a backup while the daemon trades (through its
// endpoint) and one while it is stopped (from the file), refuses to restore
// over a running daemon, a file that is not a database or one made with
// another key, and restores over a corrupt database: the members are back.
func TestBackupRestore(t *testing.T) {
	cfg := cfg0(t)
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	cfg.Data.Dir, cfg.HQ.Broker = t.TempDir(), "tcp://"+addr // no HQ: the store trades alone
	now := time.Now()
	members := sim.Members(25, 3, now)
	ln := listen(t)
	url := "http://" + ln.Addr().String()
	d, err := newDaemon(cfg, daemonOpts{logger: slog.New(slog.DiscardHandler), listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(d, members, sim.Offers(now, cfg.Store.Location())); err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.stop()
		}
	}()
	eventually(t, 10*time.Second, "the HTTP server", func() bool { return d.ready() == nil })

	resp, err := http.Get(url + backupPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("backup without the admin token: %s, want 401", resp.Status)
	}

	epoch := d.db.outbox.Epoch()
	dir := t.TempDir()
	hot := filepath.Join(dir, "hot.db")
	msg, err := backup(context.Background(), cfg, url, hot)
	if err != nil || !strings.Contains(msg, "running daemon") {
		t.Fatalf("hot backup: %q, %v", msg, err)
	}
	t.Log(msg)
	if _, err := restore(cfg, hot); !errors.Is(err, errLocked) {
		t.Errorf("restore over a running daemon: %v, want errLocked", err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	cold := filepath.Join(dir, "cold.db")
	if msg, err := backup(context.Background(), cfg, "http://127.0.0.1:1", cold); err != nil || !strings.Contains(msg, "daemon stopped") {
		t.Fatalf("cold backup: %q, %v", msg, err)
	}

	live := filepath.Join(cfg.Data.Dir, DBFile)
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 4096), 0o600)
	if _, err := restore(cfg, junk); err == nil {
		t.Error("restored a file that is not a database")
	}
	other := *cfg
	other.Data.DBKeyFile = filepath.Join(dir, "other-db.key")
	if _, err := restore(&other, hot); err == nil {
		t.Error("restored a backup that does not open with this gateway's db.key")
	}

	for _, b := range []string{hot, cold} {
		corruptMeta(t, live)
		msg, err := restore(cfg, b)
		if err != nil {
			t.Fatalf("restore %s: %v", b, err)
		}
		t.Log(msg)
		aside, _ := filepath.Glob(live + ".replaced-*")
		if len(aside) == 0 {
			t.Errorf("no replaced file kept aside")
		}
		db, err := openDatabase(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if db.corrupt != nil {
			t.Errorf("restored database found corrupt: %v", db.corrupt)
		}
		if db.outbox.Epoch() == epoch {
			t.Errorf("restored database kept epoch %s: HQ would drop its new events as duplicates", epoch)
		}
		for _, m := range members {
			if got, err := db.store.MemberByCard(m.Cards[0]); err != nil || got.FirstName != m.Member.FirstName {
				t.Errorf("member %s after restoring %s: %+v, %v", m.Member.ID, filepath.Base(b), got, err)
				break
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkCheck measures the start-time check on a database of
// REDCARPET_BENCH_MEMBERS members (default 100 000): the shallow and full
// checks as the daemon runs them (in a child process), against bbolt's own
// open of the same file.
//
//	REDCARPET_BENCH_MEMBERS=1000000 go test -run '^$' -bench Check -benchtime 3x ./cmd/redcarpet/
func BenchmarkCheck(b *testing.B) {
	n := 100_000
	if v := os.Getenv("REDCARPET_BENCH_MEMBERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("REDCARPET_BENCH_MEMBERS=%q: %v", v, err)
		}
	}
	path := filepath.Join(b.TempDir(), DBFile)
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.OpenWith(db, bytes.Repeat([]byte{1}, 32), &store.Opts{SealKey: bytes.Repeat([]byte{2}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	recs := sim.Members(min(n, 10_000), 1, time.Now())
	for i := 0; i < n; i += len(recs) {
		batch := make([]edge.MemberRecord, 0, len(recs))
		for j := range recs {
			r := recs[j]
			r.Member.ID = fmt.Sprintf("M-%08d", i+j)
			r.Cards = [][]byte{fmt.Appendf(nil, "%08d", i+j)}
			r.Loyalty, r.List = "", ""
			batch = append(batch, r)
		}
		if err := st.PutMembers(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.Logf("%d members, %d MiB", n, fi.Size()>>20)
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			db, err := bolt.Open(path, 0o600, outbox.DBOptions())
			if err != nil {
				b.Fatal(err)
			}
			db.Close()
		}
	})
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("full=%v", full), func(b *testing.B) {
			for b.Loop() {
				if err := checkInChild(path, full); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestOpenSealsClearMembers: a database written before sealing existed
// (first names in clear) is sealed at the next start, and compacted so the
// clear names are gone from the file, freed pages included.
func TestOpenSealsClearMembers(t *testing.T) {
	cfg := cfg0(t)
	cfg.Data.Dir = t.TempDir()
	key, err := loadCardKey(filepath.Join(cfg.Data.Dir, "card.key"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.Data.Dir, DBFile)
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		t.Fatal(err)
	}
	old, err := store.Open(db, key) // no seal key: as before sealing
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"Wilhelmina", "Theodoric", "Anastasiya"}
	var recs []edge.MemberRecord
	for i, n := range names {
		recs = append(recs, edge.MemberRecord{Member: edge.Member{ID: fmt.Sprintf("M-%d", i), FirstName: n}, Cards: [][]byte{{9, 9, byte(i), 9}}})
	}
	if err := old.PutMembers(recs); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte(names[0])) {
		t.Fatal("test setup: the clear name is not in the file")
	}

	d, err := openDatabase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.sealed != len(names) {
		t.Errorf("sealed %d members at open, want %d", d.sealed, len(names))
	}
	for _, r := range recs {
		if m, err := d.store.MemberByCard(r.Cards[0]); err != nil || m.FirstName != r.Member.FirstName {
			t.Errorf("%s after sealing: %+v, %v", r.Member.ID, m, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(path)
	for _, n := range names {
		if bytes.Contains(raw, []byte(n)) {
			t.Errorf("%q still in clear in the file", n)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Data.Dir, "db.key")); err != nil {
		t.Errorf("db.key not created: %v", err)
	}
}

// TestDBKeyCredential: a systemd credential db.key is preferred to the key
// file; a malformed one is an error.
func TestDBKeyCredential(t *testing.T) {
	cfg := cfg0(t)
	cfg.Data.Dir = t.TempDir()
	creds := t.TempDir()
	want := bytes.Repeat([]byte{0xab}, 32)
	os.WriteFile(filepath.Join(creds, "db.key"), []byte(fmt.Sprintf("%x\n", want)), 0o400)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	got, err := loadDBKey(cfg)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("key from the credential: %x, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Data.Dir, "db.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file was created despite the credential (%v)", err)
	}
	os.WriteFile(filepath.Join(creds, "db.key"), []byte("short"), 0o400)
	if _, err := loadDBKey(cfg); err == nil {
		t.Error("a malformed credential was accepted")
	}
	t.Setenv("CREDENTIALS_DIRECTORY", t.TempDir()) // no db.key credential: the file
	if _, err := loadDBKey(cfg); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(cfg.Data.Dir, "db.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("db.key: %v, %v; want mode 0600", fi, err)
	}
}

// TestDeepCorruptionAfterCrash: a broken leaf deep in the members tree
// passes the shallow check (and would crash bbolt's open); the marker a
// crashed open leaves behind makes the next start run the full check, which
// finds it.
func TestDeepCorruptionAfterCrash(t *testing.T) {
	old := checkMaxSize
	checkMaxSize = 0
	t.Cleanup(func() { checkMaxSize = old })
	cfg := cfg0(t)
	cfg.Data.Dir = t.TempDir()
	d, err := openDatabase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.store.PutMembers(sim.Members(3000, 5, time.Now())); err != nil {
		t.Fatal(err)
	}
	var leaves []int
	d.db.View(func(tx *bolt.Tx) error {
		hw := int(tx.Size()) / d.db.Info().PageSize
		for id := hw / 4; id < hw*3/4; id++ {
			if p, err := tx.Page(id); err == nil && p != nil && p.Type == "leaf" {
				leaves = append(leaves, id)
			}
		}
		return nil
	})
	ps := d.db.Info().PageSize
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.Data.Dir, DBFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	deep := -1
	for _, id := range leaves {
		broken := bytes.Clone(orig)
		rand.Read(broken[id*ps : (id+1)*ps])
		if err := os.WriteFile(path, broken, 0o600); err != nil {
			t.Fatal(err)
		}
		if checkInChild(path, false) == nil {
			deep = id
			break
		}
	}
	if deep < 0 {
		t.Fatalf("no leaf among %d that the shallow check misses", len(leaves))
	}
	if err := checkInChild(path, true); !errors.Is(err, errCorrupt) {
		t.Fatalf("full check of a broken leaf: %v", err)
	}
	marker := path + ".opening"
	if err := os.WriteFile(marker, nil, 0o600); err != nil { // as a crashed open leaves it
		t.Fatal(err)
	}
	d, err = openDatabase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !errors.Is(d.corrupt, errCorrupt) {
		t.Fatalf("after a crashed open: corrupt = %v, want errCorrupt", d.corrupt)
	}
	t.Logf("leaf page %d: %v", deep, d.corrupt)
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("start-up marker left after a good open: %v", err)
	}
}

// TestBackupRestoreUsage: the commands are registered and say how to call
// them.
func TestBackupRestoreUsage(t *testing.T) {
	for _, args := range [][]string{{"backup"}, {"restore"}, {"restore", "a", "b"}} {
		var ue usageError
		if err := run(context.Background(), args, io.Discard, io.Discard); !errors.As(err, &ue) || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%q: %v, want its usage", args, err)
		}
	}
}

// retainedState reads the store's retained state message from the broker,
// waiting for one that says it is online.
func retainedState(t *testing.T, cfg *configs.Config) wire.State {
	t.Helper()
	got := make(chan wire.State, 16)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cfg.HQ.Broker).SetClientID("state-reader"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to read the state topic: %v", tok.Error())
	}
	defer c.Disconnect(100)
	tok := c.Subscribe(wire.StateTopic(cfg.Store.Tenant, cfg.Store.ID), 1, func(_ mqtt.Client, m mqtt.Message) {
		var st wire.State
		if json.Unmarshal(m.Payload(), &st) == nil {
			select {
			case got <- st:
			default:
			}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to the state topic: %v", tok.Error())
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case st := <-got:
			if st.Online {
				return st
			}
		case <-deadline:
			t.Fatal("no online state message")
			return wire.State{}
		}
	}
}
