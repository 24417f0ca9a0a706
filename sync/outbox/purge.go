package outbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// purgeScan bounds the records one read transaction of Purge examines, and
// purgeDelete the keys of one deletion request, so neither a reader nor the
// writer is held for long however large the backlog.
const (
	purgeScan   = 4096
	purgeDelete = 1024
)

// Purge removes every queued record whose event matches, and every matching
// record kept after its acknowledgement (see Resend), and returns how many
// it removed. It is how an erasure request reaches events that were
// recorded but not sent yet (recognitions and exposures carry a member id).
//
// Records are examined in short read transactions and deleted through the
// writer, in bounded batches between other commits, so appends keep going
// while a large backlog is purged; the counters (Backlog, Bytes) stay
// exact, and the removals are counted in Stats.Deleted. match sees each
// event once, with its ID set, and must not call the outbox.
//
// The traffic history (history.go) is not examined: its records hold no
// member id.
//
// A record the uplink has already published is beyond recall: it reaches
// HQ, and if its PUBACK arrives while Purge runs it may still be counted
// here. Records appended after Purge started may not be examined.
func (o *Outbox) Purge(match func(edge.Event) bool) (int, error) {
	var (
		total int
		keys  []Key
	)
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		n, err := o.deleteCounted(keys)
		total += n
		keys = keys[:0]
		return err
	}
	for _, p := range []int{0, 1, 2, Sent} {
		next := uint64(0)
		for {
			found, after, done, err := o.scan(p, next, match)
			if err != nil {
				return total, fmt.Errorf("purge outbox: %w", err)
			}
			for _, seq := range found {
				keys = append(keys, Key{Priority: p, Seq: seq})
				if len(keys) >= purgeDelete {
					if err := flush(); err != nil {
						return total, fmt.Errorf("purge outbox: %w", err)
					}
				}
			}
			if done {
				break
			}
			next = after
		}
	}
	if err := flush(); err != nil {
		return total, fmt.Errorf("purge outbox: %w", err)
	}
	return total, nil
}

// scan examines up to purgeScan records of priority p from seq from on,
// and returns the matching sequence numbers, where to continue, and
// whether the bucket is exhausted.
func (o *Outbox) scan(p int, from uint64, match func(edge.Event) bool) (found []uint64, next uint64, done bool, err error) {
	err = o.db.View(func(tx *bolt.Tx) error {
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], from)
		name, skip := bucketSent, sentPrefix
		if p != Sent {
			name, skip = buckets[p], 0
		}
		c := tx.Bucket(name).Cursor()
		n := 0
		k, v := c.Seek(key[:])
		for ; k != nil && n < purgeScan; k, v = c.Next() {
			n++
			seq := binary.BigEndian.Uint64(k)
			var e edge.Event
			if len(v) < skip || json.Unmarshal(v[skip:], &e) != nil {
				// A record this build cannot read is left for the uplink,
				// which reports it.
				continue
			}
			e.ID = o.ID(seq)
			if match(e) {
				found = append(found, seq)
			}
			next = seq + 1
		}
		done = k == nil
		return nil
	})
	return found, next, done, err
}

// deleteCounted deletes keys through the writer and reports how many of
// them were still there.
func (o *Outbox) deleteCounted(keys []Key) (int, error) {
	// Count what is still present first (the writer's transaction may
	// carry other requests, so its counters cannot tell).
	present := 0
	err := o.db.View(func(tx *bolt.Tx) error {
		var key [8]byte
		for _, k := range keys {
			name := bucketSent
			if k.Priority != Sent {
				name = buckets[k.Priority]
			}
			binary.BigEndian.PutUint64(key[:], k.Seq)
			if tx.Bucket(name).Get(key[:]) != nil {
				present++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// An erasure keeps nothing: not even in the sent bucket.
	req := &request{del: append([]Key(nil), keys...), forget: true, done: make(chan error, 1)}
	if err := o.submit(req); err != nil {
		return 0, err
	}
	return present, nil
}
