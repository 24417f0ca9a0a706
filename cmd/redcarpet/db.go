package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// DBFile is the gateway database's name inside data.dir.
const DBFile = "redcarpet.db"

// database is the gateway's one bbolt file and the components living in it.
type database struct {
	path   string
	db     *bolt.DB
	store  *store.Store
	outbox *outbox.Outbox
	// compacted says what compaction at open did ("" when none ran).
	compacted string
	// corrupt is why the file found at start was unusable (nil when it
	// was fine); it was moved aside to corruptPath and a fresh database
	// created in its place (recoverIfCorrupt).
	corrupt     error
	corruptPath string
	// sealed is the number of members whose personal fields were stored
	// in clear and were sealed at this start.
	sealed int
}

// openDatabase opens (creating if needed) the data directory, the card key
// and the database. Only one process may hold the database: a second one
// gets a clear error after a second.
func openDatabase(cfg *configs.Config) (*database, error) {
	if err := os.MkdirAll(cfg.Data.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	keyPath := cfg.Data.CardKeyFile
	if keyPath == "" {
		keyPath = filepath.Join(cfg.Data.Dir, "card.key")
	}
	key, err := loadCardKey(keyPath)
	if err != nil {
		return nil, err
	}
	sealKey, err := loadDBKey(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.Data.Dir, DBFile)
	// A marker left by an open that never returned (the process died in
	// it: bbolt crashes on some broken pages) asks for the full check.
	marker := path + ".opening"
	_, err = os.Stat(marker)
	crashed := err == nil
	corrupt, aside, err := recoverIfCorrupt(path, checkMaxSize, crashed)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	defer os.Remove(marker) // returned, well or not: no crash in bbolt
	compacted, err := compactIfWasteful(path)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open database %s: locked by another process (is the daemon running? stop it first)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	st, err := store.OpenWith(db, key, &store.Opts{SealKey: sealKey})
	if err != nil {
		db.Close()
		return nil, err
	}
	sealed, err := st.MigrateSeal(0)
	if err != nil {
		db.Close()
		return nil, err
	}
	if sealed > 0 {
		// The clear names are still in the pages the migration freed:
		// rewrite the file so they are gone from the disk too.
		if err := db.Close(); err != nil {
			return nil, fmt.Errorf("close database %s: %w", path, err)
		}
		if err := compactFile(path); err != nil {
			return nil, err
		}
		if db, err = bolt.Open(path, 0o600, outbox.DBOptions()); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
		if st, err = store.OpenWith(db, key, &store.Opts{SealKey: sealKey}); err != nil {
			db.Close()
			return nil, err
		}
	}
	ob, err := outbox.Open(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	ob.SetQuota(int64(cfg.Data.OutboxQuotaMiB) << 20)
	d := &database{path: path, db: db, store: st, outbox: ob, compacted: compacted,
		corrupt: corrupt, corruptPath: aside, sealed: sealed}
	if corrupt != nil {
		// HQ hears it as the database's device status; the state topic
		// also shows a new outbox epoch.
		err := ob.Append([]edge.Event{{
			Kind: edge.KindDeviceStatus, Source: "database", Time: time.Now(),
			Device: &edge.DeviceStatus{Device: "database", Kind: "bbolt", State: edge.DeviceDegraded,
				Detail: "corrupt database replaced by a fresh one, resynchronising from HQ: " + corrupt.Error()},
		}})
		if err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// compactMinSize is the smallest file worth compacting at start.
var compactMinSize int64 = 64 << 20

// compactIfWasteful rewrites the database into a fresh file when it is at
// least compactMinSize and less than half of it is live data. bbolt never
// gives pages back to the file system, so a file that grew during a long
// outage keeps its size after the outbox drained; compaction needs the file
// to itself, so it runs at start, before anything else opens it. The copy is
// written next to the file, synced, then renamed over it: a crash leaves
// either the old file or the new one. It also drops the bytes that freed
// pages still held (erased members).
func compactIfWasteful(path string) (string, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() < compactMinSize) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("compact %s: %w", path, err)
	}
	src, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if errors.Is(err, bolt.ErrTimeout) {
		return "", fmt.Errorf("open database %s: locked by another process (is the daemon running? stop it first)", path)
	}
	if err != nil {
		return "", fmt.Errorf("open database %s: %w", path, err)
	}
	// Live data is the high-water mark less the free pages below it; the
	// file also holds the space bbolt allocated ahead of the mark.
	var highWater int64
	src.View(func(tx *bolt.Tx) error { highWater = tx.Size(); return nil })
	st := src.Stats()
	live := highWater - int64(st.FreePageN+st.PendingPageN)*int64(src.Info().PageSize)
	if live*2 > fi.Size() {
		return "", src.Close()
	}
	if err := compactFrom(src, path); err != nil {
		return "", err
	}
	after, _ := os.Stat(path)
	return fmt.Sprintf("compacted %s from %d MiB to %d MiB", path, fi.Size()>>20, after.Size()>>20), nil
}

// compactFile rewrites the database at path into a fresh file, as
// compactIfWasteful does, whatever its size.
func compactFile(path string) error {
	src, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	return compactFrom(src, path)
}

// compactFrom copies src (open on path) into path.compact, closes src and
// renames the copy over path.
func compactFrom(src *bolt.DB, path string) error {
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		src.Close()
		return fmt.Errorf("compact %s: %w", path, err)
	}
	err = bolt.Compact(dst, src, 16<<20)
	err = errors.Join(err, dst.Sync(), dst.Close(), src.Close())
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// loadDBKey returns the key sealing members' personal fields: the systemd
// credential db.key when the service has one ($CREDENTIALS_DIRECTORY),
// else data.db_key_file (default <data.dir>/db.key, created 0600 on first
// start). 64 hex characters, 32 bytes.
func loadDBKey(cfg *configs.Config) ([]byte, error) {
	var (
		raw  string
		path string
		err  error
	)
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		path = filepath.Join(dir, "db.key")
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			raw = strings.TrimSpace(string(b))
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read database key credential %s: %w", path, err)
		} else {
			path = ""
		}
	}
	if path == "" {
		path = cfg.Data.DBKeyFile
		if path == "" {
			path = filepath.Join(cfg.Data.Dir, "db.key")
		}
		if raw, err = loadSecret(path, "database key"); err != nil {
			return nil, err
		}
	}
	key, err := hex.DecodeString(raw)
	if err != nil || len(key) != store.SealKeyLen {
		return nil, fmt.Errorf("database key %s: want %d bytes as hex", path, store.SealKeyLen)
	}
	return key, nil
}

// Close stops the outbox writer (committing what is queued) and closes the
// file.
func (d *database) Close() error {
	return errors.Join(d.outbox.Close(), d.db.Close())
}

// loadCardKey reads the per-store pseudonym secret (64 hex characters),
// creating it with mode 0600 if the file does not exist.
func loadCardKey(path string) ([]byte, error) {
	raw, err := loadSecret(path, "card key")
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(raw)
	if err != nil || len(key) < store.MinKeyLen {
		return nil, fmt.Errorf("card key %s: want at least %d bytes as hex", path, store.MinKeyLen)
	}
	return key, nil
}

// loadSecret reads a secret file (surrounding space trimmed), creating it
// with 32 random bytes as hex, mode 0600, if it does not exist.
func loadSecret(path, what string) (string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return "", fmt.Errorf("create %s: %w", what, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", fmt.Errorf("create %s %s: %w", what, path, err)
		}
		s := hex.EncodeToString(key)
		_, werr := f.WriteString(s + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return "", fmt.Errorf("write %s %s: %w", what, path, err)
		}
		return s, nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// minTokenLen is the shortest token accepted from a file.
const minTokenLen = 16

// loadTokens reads (creating when missing) the checkout terminals' tokens
// and the admin token.
func loadTokens(cfg *configs.Config) (lanes map[string]string, admin string, err error) {
	read := func(path, what string) (string, error) {
		t, err := loadSecret(path, what)
		if err == nil && len(t) < minTokenLen {
			err = fmt.Errorf("%s %s: at least %d characters", what, path, minTokenLen)
		}
		return t, err
	}
	lanes = map[string]string{}
	for _, l := range cfg.Lanes {
		path := l.TokenFile
		if path == "" {
			path = filepath.Join(cfg.Data.Dir, "lane-"+l.ID+".token")
		}
		if lanes[l.ID], err = read(path, "lane "+l.ID+" token"); err != nil {
			return nil, "", err
		}
	}
	path := cfg.HTTP.AdminTokenFile
	if path == "" {
		path = filepath.Join(cfg.Data.Dir, "admin.token")
	}
	admin, err = read(path, "admin token")
	return lanes, admin, err
}

// counterBaselines keeps the commercial people counters' last register
// values in the gateway database, so their cumulative registers turn into
// the right deltas across daemon restarts (drivers/door/counter.Baselines).
type counterBaselines struct{ db *bolt.DB }

var bucketCounters = []byte("counter.baselines")

type baseline struct {
	At        time.Time         `json:"at"`
	Registers map[string]uint64 `json:"registers"`
}

func (b counterBaselines) Load(counterID string) (map[string]uint64, time.Time, bool, error) {
	var v baseline
	found := false
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketCounters)
		if bk == nil {
			return nil
		}
		raw := bk.Get([]byte(counterID))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &v)
	})
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("load counter baseline %s: %w", counterID, err)
	}
	return v.Registers, v.At, found, nil
}

func (b counterBaselines) Save(counterID string, regs map[string]uint64, at time.Time) error {
	raw, err := json.Marshal(baseline{At: at, Registers: regs})
	if err != nil {
		return err
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketCounters)
		if err != nil {
			return err
		}
		return bk.Put([]byte(counterID), raw)
	})
	if err != nil {
		return fmt.Errorf("save counter baseline %s: %w", counterID, err)
	}
	return nil
}

// checkMaxSize is the largest file that gets bbolt's full consistency
// check (every page of every bucket) at every start; larger files get the
// shallow one (checkDB), and the full one only after a start that died
// while opening the file. See BenchmarkCheck for the cost.
var checkMaxSize int64 = 64 << 20

// errCorrupt marks a database file that bbolt cannot use.
var errCorrupt = errors.New("database file is corrupt")

// recoverIfCorrupt checks the database at path and, when it is corrupt,
// moves it aside to <path>.corrupt-<UTC time> so a fresh one is created in
// its place; it returns why and where the file went. A missing file is
// fine; a locked or unreadable one is an error, never moved. What the
// moved file held is not read again: its queued events are lost, and the
// members and offers come back from HQ (a fresh downlink cursor asks for a
// snapshot). The check is bbolt's full one when the file is at most
// fullCheckMax bytes or when full is set, else the shallow one.
//
// The shallow check catches broken meta pages and bucket roots, not a
// broken page deep in a tree. Such a page crashes the daemon when it opens
// the file (bbolt walks every tree at open to rebuild its free list, and
// panics on a bad page in a goroutine of its own); the start-up marker
// left behind makes the next start, systemd's restart, run the full check,
// which finds it. A deep corruption thus costs one restart.
func recoverIfCorrupt(path string, fullCheckMax int64, full bool) (why error, aside string, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("open database %s: %w", path, err)
	}
	why = checkInChild(path, full || fi.Size() <= fullCheckMax)
	if why == nil {
		return nil, "", nil
	}
	if !errors.Is(why, errCorrupt) {
		return nil, "", why
	}
	aside = asideName(path, "corrupt")
	if err := os.Rename(path, aside); err != nil {
		return nil, "", fmt.Errorf("move corrupt database %s aside: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return why, aside, nil
}

// asideName is a free name for a file moved aside from path:
// <path>.<why>-<UTC time>, with a counter if that is taken.
func asideName(path, why string) string {
	base := fmt.Sprintf("%s.%s-%s", path, why, time.Now().UTC().Format("20060102T150405Z"))
	name := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s.%d", base, i)
	}
}

// dbCheckEnv names, in a child process's environment, the database file it
// is to check (checkInChild); dbCheckFullEnv is "1" for the full check.
const (
	dbCheckEnv     = "REDCARPET_DB_CHECK"
	dbCheckFullEnv = "REDCARPET_DB_CHECK_FULL"
)

// Exit codes of the check child: anything else (a panic's 2, a signal)
// also means corrupt.
const (
	checkExitOK      = 0
	checkExitCorrupt = 1
	checkExitOther   = 3
)

// init turns this process into a database check child when the parent
// asked for one (checkInChild). It runs before main and before a test
// binary's TestMain, so the daemon and its tests check the same way.
func init() {
	if path := os.Getenv(dbCheckEnv); path != "" {
		os.Exit(dbCheckChild(path, os.Getenv(dbCheckFullEnv) == "1", os.Stderr))
	}
}

// dbCheckChild is the check child's main.
func dbCheckChild(path string, full bool, stderr io.Writer) int {
	err := checkDB(path, full)
	switch {
	case err == nil:
		return checkExitOK
	case errors.Is(err, errCorrupt):
		fmt.Fprintln(stderr, err)
		return checkExitCorrupt
	default:
		fmt.Fprintln(stderr, err)
		return checkExitOther
	}
}

// checkInChild runs checkDB in a child process (this executable again). A
// corrupt bbolt file can crash the process that opens it: the database is
// written with NoFreelistSync, so opening it walks every bucket's pages to
// rebuild the free list, in a goroutine of bbolt's own that panics on a
// bad page, beyond any recover. The child takes that crash; the parent
// reads it as corruption. Without an executable to run (never on a real
// system) the check runs in process.
func checkInChild(path string, full bool) error {
	exe, err := os.Executable()
	if err != nil {
		return checkDB(path, full)
	}
	cmd := exec.Command(exe)
	fullEnv := "0"
	if full {
		fullEnv = "1"
	}
	cmd.Env = append(os.Environ(), dbCheckEnv+"="+path, dbCheckFullEnv+"="+fullEnv)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &out
	err = cmd.Run()
	msg := strings.TrimSpace(out.String())
	if first, _, ok := strings.Cut(msg, "\n"); ok {
		msg = first // a panic's first line; the stack is of no use here
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ee):
		return fmt.Errorf("check database %s: %w", path, err)
	case ee.ExitCode() == checkExitOther:
		return errors.New(msg)
	case ee.ExitCode() == checkExitCorrupt:
		return fmt.Errorf("%w: %s", errCorrupt, strings.TrimPrefix(msg, errCorrupt.Error()+": "))
	default:
		return fmt.Errorf("%w: %s: check crashed (%v): %s", errCorrupt, path, err, msg)
	}
}

// checkDB opens the file read-only and checks it: full runs bbolt's
// tx.Check (every page reachable once, every key in order: time grows
// with the file); otherwise every top-level bucket is opened and its first
// and last keys read, which catches a broken root or meta page. An error
// wrapping errCorrupt means the file is unusable; others (locked, no
// permission) are returned as they are. bbolt panics on some broken pages;
// the panic is turned into errCorrupt.
func checkDB(path string, full bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", errCorrupt, path, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("open database %s: locked by another process (is the daemon running? stop it first)", path)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrChecksum), errors.Is(err, bolt.ErrVersionMismatch),
		err != nil && strings.Contains(err.Error(), "file size too small"):
		return fmt.Errorf("%w: %s: %v", errCorrupt, path, err)
	case err != nil:
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if full {
			var errs []error
			for e := range tx.Check() {
				if len(errs) < 5 {
					errs = append(errs, e)
				}
			}
			return errors.Join(errs...)
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			c := b.Cursor()
			c.First()
			c.Last()
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errCorrupt, path, err)
	}
	return nil
}
