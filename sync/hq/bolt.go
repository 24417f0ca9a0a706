package hq

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/redcarpet-retail/redcarpet/sync/outbox"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Bucket and key names of the sink file; doc.go describes the layout.
var (
	bucketMeta   = []byte("hq.meta")
	bucketStores = []byte("hq.stores")
	bucketEvents = []byte("hq.events")
	keyFormat    = []byte("format")
	formatV1     = []byte("1")

	bucketIDs    = []byte("ids")
	bucketCounts = []byte("counts")
	bucketKinds  = []byte("kinds")
	bucketEpochs = []byte("epochs")
	bucketHeld   = []byte("held")

	keyEvents      = []byte("events")
	keyDuplicates  = []byte("duplicates")
	keyUnsequenced = []byte("unsequenced")
	keyWatermark   = []byte("watermark")
	keyHeldN       = []byte("held_n")
)

// lockTimeout is how long OpenBolt waits for another process to release the
// file before returning ErrLocked.
const lockTimeout = time.Second

// ErrLocked is returned by OpenBolt and OpenBoltReadOnly when another
// process has the sink file open (bbolt files are single-writer, and a
// writer excludes readers of other processes).
var ErrLocked = errors.New("sink file is in use by another process")

// ErrNotSink is returned when the file is a bbolt database but not a sink
// (for instance a store gateway's database).
var ErrNotSink = errors.New("not a redcarpet-hq sink file")

// BoltSink is the embedded Sink: one bbolt file, one transaction per Store.
// It is safe for concurrent use; bbolt serialises the writers.
type BoltSink struct {
	db *bolt.DB
}

var _ Sink = (*BoltSink)(nil)

// OpenBolt opens or creates the sink file at path for writing. It waits up
// to a second for another process to release the file, then fails with an
// error wrapping ErrLocked.
func OpenBolt(path string) (*BoltSink, error) {
	return openBolt(path, false)
}

// OpenBoltReadOnly opens an existing sink file for queries. Several readers
// may share the file, but not with a writer.
func OpenBoltReadOnly(path string) (*BoltSink, error) {
	return openBolt(path, true)
}

func openBolt(path string, readOnly bool) (*BoltSink, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open sink %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open sink %s: %w", path, err)
	}
	check := func(tx *bolt.Tx) error {
		if m := tx.Bucket(bucketMeta); m != nil {
			if f := m.Get(keyFormat); !bytes.Equal(f, formatV1) {
				return fmt.Errorf("sink format %q, want %q", f, formatV1)
			}
			return nil
		}
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return ErrNotSink
		}
		return nil
	}
	if readOnly {
		err = db.View(check)
	} else {
		err = db.Update(func(tx *bolt.Tx) error {
			if err := check(tx); err != nil {
				return err
			}
			m, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			if err := m.Put(keyFormat, formatV1); err != nil {
				return err
			}
			for _, b := range [][]byte{bucketStores, bucketEvents} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sink %s: %w", path, err)
	}
	return &BoltSink{db: db}, nil
}

// Close closes the file. Calls after Close fail.
func (s *BoltSink) Close() error { return s.db.Close() }

// Path is the sink file's path.
func (s *BoltSink) Path() string { return s.db.Path() }

func storeKey(tenant, store string) []byte { return []byte(tenant + "/" + store) }

// Store writes evs in one transaction, skipping ids the store already sent.
// It returns only after the transaction is on disk. ctx is checked before
// the transaction starts; a transaction in progress is not interrupted.
func (s *BoltSink) Store(ctx context.Context, tenant, store string, evs []wire.CloudEvent) (inserted, duplicates int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if !validID(tenant) || !validID(store) {
		return 0, 0, fmt.Errorf("store %q/%q: malformed tenant or store id: %w", tenant, store, ErrRejected)
	}
	// Everything that can be done outside the write lock is: check and
	// marshal first, then one short transaction.
	src := wire.Source(tenant, store)
	vals := make([][]byte, len(evs))
	kinds := make([][]byte, len(evs))
	for i := range evs {
		e := &evs[i]
		k := kindOf(e)
		switch {
		case e.ID == "" || len(e.ID) > MaxIDBytes:
			return 0, 0, fmt.Errorf("event %d: id of %d bytes: %w", i, len(e.ID), ErrRejected)
		case e.Source != src:
			return 0, 0, fmt.Errorf("event %d: source is not %s: %w", i, src, ErrRejected)
		case !KindName(string(k)):
			return 0, 0, fmt.Errorf("event %d: malformed type: %w", i, ErrRejected)
		}
		v, err := json.Marshal(e)
		if err != nil {
			return 0, 0, fmt.Errorf("event %d: %v: %w", i, err, ErrRejected)
		}
		vals[i], kinds[i] = v, []byte(k)
	}
	skey := storeKey(tenant, store)
	err = s.db.Update(func(tx *bolt.Tx) error {
		inserted, duplicates = 0, 0
		sb, err := tx.Bucket(bucketStores).CreateBucketIfNotExists(skey)
		if err != nil {
			return err
		}
		ids, err := sb.CreateBucketIfNotExists(bucketIDs)
		if err != nil {
			return err
		}
		counts, err := sb.CreateBucketIfNotExists(bucketCounts)
		if err != nil {
			return err
		}
		kindCounts, err := sb.CreateBucketIfNotExists(bucketKinds)
		if err != nil {
			return err
		}
		epochs, err := sb.CreateBucketIfNotExists(bucketEpochs)
		if err != nil {
			return err
		}
		data := map[string]*bolt.Bucket{}
		var unsequenced uint64
		for i := range evs {
			id := []byte(evs[i].ID)
			if ids.Get(id) != nil {
				duplicates++
				continue
			}
			if err := ids.Put(id, kinds[i]); err != nil {
				return err
			}
			kb := data[string(kinds[i])]
			if kb == nil {
				kroot, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists(kinds[i])
				if err != nil {
					return err
				}
				if kb, err = kroot.CreateBucketIfNotExists(skey); err != nil {
					return err
				}
				data[string(kinds[i])] = kb
			}
			if err := kb.Put(id, vals[i]); err != nil {
				return err
			}
			if err := addU64(kindCounts, kinds[i], 1); err != nil {
				return err
			}
			if epoch, seq, ok := parseSeq(evs[i].ID); ok {
				if err := cover(epochs, epoch, seq); err != nil {
					return err
				}
			} else {
				unsequenced++
			}
			inserted++
		}
		if err := addU64(counts, keyEvents, uint64(inserted)); err != nil {
			return err
		}
		if err := addU64(counts, keyDuplicates, uint64(duplicates)); err != nil {
			return err
		}
		return addU64(counts, keyUnsequenced, unsequenced)
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrKeyTooLarge) || errors.Is(err, bolterrors.ErrValueTooLarge) {
			err = fmt.Errorf("%v: %w", err, ErrRejected)
		}
		return 0, 0, fmt.Errorf("store %s/%s: %w", tenant, store, err)
	}
	return inserted, duplicates, nil
}

// parseSeq splits an outbox id into epoch and sequence number. Only the
// canonical form counts ("abcd-05" is not seq 5 of abcd: it is a different
// id and would otherwise be counted twice), so coverage stays exact.
func parseSeq(id string) (string, uint64, bool) {
	epoch, seq, ok := outbox.ParseID(id)
	if !ok || id[len(epoch)+1:] != strconv.FormatUint(seq, 10) {
		return "", 0, false
	}
	return epoch, seq, true
}

// cover records that seq of epoch is held. The caller has established that
// the id is new, so seq is new too.
func cover(epochs *bolt.Bucket, epoch string, seq uint64) error {
	eb, err := epochs.CreateBucketIfNotExists([]byte(epoch))
	if err != nil {
		return err
	}
	held, err := eb.CreateBucketIfNotExists(bucketHeld)
	if err != nil {
		return err
	}
	wm := getU64(eb, keyWatermark)
	switch {
	case seq <= wm:
		return nil // unreachable for a new id; never count twice
	case seq > wm+1:
		// A one-byte value: a nil value reads back as nil (absent) within
		// the same transaction, which would hide it from the loop below.
		if err := held.Put(u64(seq), []byte{1}); err != nil {
			return err
		}
		return addU64(eb, keyHeldN, 1)
	}
	// seq extends the contiguous prefix: absorb the held seqs that follow.
	wm = seq
	var absorbed uint64
	for {
		next := u64(wm + 1)
		if held.Get(next) == nil {
			break
		}
		if err := held.Delete(next); err != nil {
			return err
		}
		wm++
		absorbed++
	}
	if err := eb.Put(keyWatermark, u64(wm)); err != nil {
		return err
	}
	if absorbed > 0 {
		return eb.Put(keyHeldN, u64(getU64(eb, keyHeldN)-absorbed))
	}
	return nil
}

// SinkStats is what the sink holds.
type SinkStats struct {
	Events     uint64 // events stored
	Duplicates uint64 // events dropped because the sink already held them
	Stores     []StoreStats
}

// StoreStats is what the sink holds of one store.
type StoreStats struct {
	Tenant, Store string
	Events        uint64            // events stored
	Duplicates    uint64            // duplicates dropped
	Unsequenced   uint64            // stored events whose id is not "<epoch>-<seq>"
	Kinds         map[string]uint64 // events stored per kind
}

// Stats reports the stored and duplicate counts, per store in tenant and
// store order.
func (s *BoltSink) Stats() (SinkStats, error) {
	var st SinkStats
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketStores)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(k []byte) error {
			sb := root.Bucket(k)
			tenant, store, _ := strings.Cut(string(k), "/")
			ss := StoreStats{Tenant: tenant, Store: store, Kinds: map[string]uint64{}}
			if c := sb.Bucket(bucketCounts); c != nil {
				ss.Events = getU64(c, keyEvents)
				ss.Duplicates = getU64(c, keyDuplicates)
				ss.Unsequenced = getU64(c, keyUnsequenced)
			}
			if kc := sb.Bucket(bucketKinds); kc != nil {
				_ = kc.ForEach(func(k, v []byte) error {
					ss.Kinds[string(k)] = decodeU64(v)
					return nil
				})
			}
			st.Events += ss.Events
			st.Duplicates += ss.Duplicates
			st.Stores = append(st.Stores, ss)
			return nil
		})
	})
	return st, err
}

// Coverage is which sequence numbers of one epoch (one outbox file of one
// store) the sink holds. Each is held at most once.
type Coverage struct {
	Count     uint64 `json:"count"`     // sequence numbers held
	MaxSeq    uint64 `json:"max_seq"`   // the highest held
	Watermark uint64 `json:"watermark"` // every sequence number in 1..Watermark is held
	Gaps      uint64 `json:"gaps"`      // sequence numbers in 1..MaxSeq not held: MaxSeq - Count
}

// Complete reports whether exactly 1..MaxSeq is held.
func (c Coverage) Complete() bool { return c.Gaps == 0 }

// Coverage reports, per epoch, which sequence numbers of the store's events
// the sink holds.
func (s *BoltSink) Coverage(tenant, store string) (map[string]Coverage, error) {
	out := map[string]Coverage{}
	err := s.db.View(func(tx *bolt.Tx) error {
		epochs := s.storeBucket(tx, tenant, store, bucketEpochs)
		if epochs == nil {
			return nil
		}
		return epochs.ForEachBucket(func(k []byte) error {
			eb := epochs.Bucket(k)
			c := Coverage{Watermark: getU64(eb, keyWatermark)}
			c.Count = c.Watermark + getU64(eb, keyHeldN)
			c.MaxSeq = c.Watermark
			if held := eb.Bucket(bucketHeld); held != nil {
				if last, _ := held.Cursor().Last(); last != nil {
					c.MaxSeq = max(c.MaxSeq, decodeU64(last))
				}
			}
			c.Gaps = c.MaxSeq - c.Count
			out[string(k)] = c
			return nil
		})
	})
	return out, err
}

// Missing lists up to limit sequence numbers of epoch in 1..MaxSeq that the
// sink does not hold, lowest first.
func (s *BoltSink) Missing(tenant, store, epoch string, limit int) ([]uint64, error) {
	var out []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		epochs := s.storeBucket(tx, tenant, store, bucketEpochs)
		if epochs == nil {
			return nil
		}
		eb := epochs.Bucket([]byte(epoch))
		if eb == nil {
			return nil
		}
		held := eb.Bucket(bucketHeld)
		if held == nil {
			return nil
		}
		next := getU64(eb, keyWatermark) + 1
		c := held.Cursor()
		for k, _ := c.Seek(u64(next)); k != nil && len(out) < limit; k, _ = c.Next() {
			for seq := decodeU64(k); next < seq && len(out) < limit; next++ {
				out = append(out, next)
			}
			next++
		}
		return nil
	})
	return out, err
}

// IDs returns the ids the sink holds of a store, in byte order.
func (s *BoltSink) IDs(tenant, store string) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		ids := s.storeBucket(tx, tenant, store, bucketIDs)
		if ids == nil {
			return nil
		}
		out = make([]string, 0, ids.Stats().KeyN)
		return ids.ForEach(func(k, _ []byte) error {
			out = append(out, string(k)) // string() copies out of the mmap
			return nil
		})
	})
	return out, err
}

// Event returns the stored event of a store with the given id.
func (s *BoltSink) Event(tenant, store, id string) (wire.CloudEvent, bool, error) {
	var (
		ev    wire.CloudEvent
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		ids := s.storeBucket(tx, tenant, store, bucketIDs)
		if ids == nil {
			return nil
		}
		kind := ids.Get([]byte(id))
		if kind == nil {
			return nil
		}
		var v []byte
		if kb := tx.Bucket(bucketEvents).Bucket(kind); kb != nil {
			if b := kb.Bucket(storeKey(tenant, store)); b != nil {
				v = b.Get([]byte(id))
			}
		}
		if v == nil {
			return fmt.Errorf("event %s of %s/%s: id recorded without data", id, tenant, store)
		}
		found = true
		return json.Unmarshal(v, &ev) // copies: RawMessage data is appended to a new slice
	})
	return ev, found, err
}

// storeBucket returns a sub-bucket of a store's bucket, or nil.
func (s *BoltSink) storeBucket(tx *bolt.Tx, tenant, store string, name []byte) *bolt.Bucket {
	root := tx.Bucket(bucketStores)
	if root == nil {
		return nil
	}
	sb := root.Bucket(storeKey(tenant, store))
	if sb == nil {
		return nil
	}
	return sb.Bucket(name)
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func decodeU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func getU64(b *bolt.Bucket, key []byte) uint64 { return decodeU64(b.Get(key)) }

func addU64(b *bolt.Bucket, key []byte, n uint64) error {
	if n == 0 {
		return nil
	}
	return b.Put(key, u64(getU64(b, key)+n))
}
