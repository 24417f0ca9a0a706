package downlink

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The downlink's bucket in the store's database (doc.go describes it).
var (
	bucketDownlink = []byte("downlink")
	bucketPending  = []byte("pending")
	bucketCarry    = []byte("carry")
	keyTenant      = []byte("tenant")
	keyCursor      = []byte("cursor")
	keySnapshot    = []byte("snapshot")
)

// Snapshot phases.
const (
	phasePages  = "pages"  // receiving pages
	phaseSweep  = "sweep"  // every page applied; deleting the members the snapshot did not hold
	phaseOffers = "offers" // members swept; deleting the offers it did not hold
)

// progress is a snapshot in progress, persisted with each applied page.
type progress struct {
	ID      string `json:"id"`      // HQ's snapshot id
	Version uint64 `json:"version"` // the version the cursor takes when it is complete
	Gen     uint64 `json:"gen"`     // the generation members and offers of this snapshot are marked with
	Next    string `json:"next"`    // HQ's cursor of the next page
	Phase   string `json:"phase"`
	From    string `json:"from,omitempty"` // the sweep's position
	Pages   int    `json:"pages"`
}

// persisted is what the bucket holds.
type persisted struct {
	tenant string
	cursor uint64
	snap   *progress
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

// load reads the persisted state, creating the bucket.
func load(db *bolt.DB) (persisted, error) {
	var p persisted
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketDownlink)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketPending, bucketCarry} {
			if _, err := b.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		p.tenant = string(b.Get(keyTenant))
		p.cursor = decodeU64(b.Get(keyCursor))
		if v := b.Get(keySnapshot); v != nil {
			var s progress
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode snapshot progress: %w", err)
			}
			p.snap = &s
		}
		return nil
	})
	return p, err
}

// reset forgets the cursor and any snapshot, for a database that synced
// another tenant: the next request gets a snapshot.
func reset(db *bolt.DB, tenant string) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDownlink)
		if err := b.Put(keyTenant, []byte(tenant)); err != nil {
			return err
		}
		if err := b.Put(keyCursor, u64(0)); err != nil {
			return err
		}
		return b.Delete(keySnapshot)
	})
}

// putCursor records the applied version in tx.
func putCursor(tx *bolt.Tx, v uint64) error {
	return tx.Bucket(bucketDownlink).Put(keyCursor, u64(v))
}

// putProgress records (or, nil, clears) the snapshot progress in tx.
func putProgress(tx *bolt.Tx, p *progress) error {
	b := tx.Bucket(bucketDownlink)
	if p == nil {
		return b.Delete(keySnapshot)
	}
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return b.Put(keySnapshot, v)
}

// nextGen returns a new snapshot generation, unique in the file.
func nextGen(tx *bolt.Tx) (uint64, error) {
	return tx.Bucket(bucketDownlink).NextSequence()
}

// pendingKey is the key of an erasure whose outbox purge (and, with a
// request id, acknowledgement) is still to do.
func pendingKey(member, request string) []byte {
	k := make([]byte, 0, len(member)+1+len(request))
	k = append(k, member...)
	k = append(k, 0)
	return append(k, request...)
}

func splitPending(k []byte) (member, request string) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return string(k), ""
	}
	return string(k[:i]), string(k[i+1:])
}

// Pending erasures are of three origins, told apart by request id and
// value: an erasure request (a request id), a scrubbed upsert (HQ rewrote
// an erased member's older upsert; no request id: the erasure request
// itself follows in the log), and a snapshot sweep (no request id, value
// "s": no request will follow).
var sweptMark = []byte("s")

// addPending records an erasure to finish in tx.
func addPending(tx *bolt.Tx, member, request string, swept bool) error {
	var v []byte
	if swept {
		v = sweptMark
	}
	return tx.Bucket(bucketDownlink).Bucket(bucketPending).Put(pendingKey(member, request), v)
}

// erasure is a pending erasure.
type erasure struct {
	member, request string
	swept           bool
}

// readPending returns up to limit pending erasures.
func readPending(db *bolt.DB, limit int) ([]erasure, error) {
	var out []erasure
	err := db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDownlink).Bucket(bucketPending).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			m, r := splitPending(k)
			out = append(out, erasure{member: m, request: r, swept: bytes.Equal(v, sweptMark)})
		}
		return nil
	})
	return out, err
}

// carried returns the events purged for members whose erasure request is
// still to come (after scrubbed upserts).
func carried(db *bolt.DB, members map[string]int) (map[string]int, error) {
	out := map[string]int{}
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDownlink).Bucket(bucketCarry)
		for m := range members {
			if n := decodeU64(b.Get([]byte(m))); n > 0 {
				out[m] = int(n)
			}
		}
		return nil
	})
	return out, err
}

// dropPending forgets finished erasures, in one transaction with the
// carried counts: purged (per member) is added to the carry of members
// with a scrubbed upsert pending, and the carry of acknowledged members is
// cleared.
func dropPending(db *bolt.DB, done []erasure, purged map[string]int) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDownlink).Bucket(bucketPending)
		carry := tx.Bucket(bucketDownlink).Bucket(bucketCarry)
		acked := map[string]bool{}
		for _, e := range done {
			if err := b.Delete(pendingKey(e.member, e.request)); err != nil {
				return err
			}
			if e.request != "" {
				acked[e.member] = true
			}
		}
		for _, e := range done {
			key := []byte(e.member)
			switch {
			case acked[e.member]:
				if err := carry.Delete(key); err != nil {
					return err
				}
			case e.request == "" && !e.swept && purged[e.member] > 0:
				if err := carry.Put(key, u64(decodeU64(carry.Get(key))+uint64(purged[e.member]))); err != nil {
					return err
				}
				purged[e.member] = 0 // once per member
			}
		}
		return nil
	})
}
