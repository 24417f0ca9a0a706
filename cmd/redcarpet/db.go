package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
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
	path := filepath.Join(cfg.Data.Dir, DBFile)
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
	st, err := store.Open(db, key)
	if err != nil {
		db.Close()
		return nil, err
	}
	ob, err := outbox.Open(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	ob.SetQuota(int64(cfg.Data.OutboxQuotaMiB) << 20)
	return &database{path: path, db: db, store: st, outbox: ob, compacted: compacted}, nil
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
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		src.Close()
		return "", fmt.Errorf("compact %s: %w", path, err)
	}
	err = bolt.Compact(dst, src, 16<<20)
	err = errors.Join(err, dst.Sync(), dst.Close(), src.Close())
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("compact %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("compact %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	after, _ := os.Stat(path)
	return fmt.Sprintf("compacted %s from %d MiB to %d MiB", path, fi.Size()>>20, after.Size()>>20), nil
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
