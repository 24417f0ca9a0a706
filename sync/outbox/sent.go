package outbox

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Acknowledged events are kept for a while.
//
// A broker acknowledges a publish before it delivered it, and may still lose
// it: a restart that forgets HQ's shared subscription, a full queue. So
// Delete does not forget an acknowledged record: it moves it to the sent
// bucket (key: its sequence number; value: its priority, when it was
// acknowledged, and the record), where it stays for SentKeep (default 72 h)
// and within a byte bound (a quarter of the quota, 128 MiB without one). HQ
// sees the gaps in each epoch's sequence and asks for them (Resend); the
// records still kept go back to their queue under the same sequence numbers,
// so HQ's deduplication drops any it held after all. An erasure (Purge)
// removes a member's kept records too.

var bucketSent = []byte("outbox.sent")

// Sent is the Key.Priority of a record in the sent bucket (Purge only).
const Sent = -1

// DefaultSentKeep is how long acknowledged records are kept for resends.
const DefaultSentKeep = 72 * time.Hour

// sentPrefix is the priority byte and the acknowledgement time (unix ns).
const sentPrefix = 1 + 8

// sentPrune bounds the records one commit prunes, keeping transactions short.
const sentPrune = 1024

// Range is an inclusive range of sequence numbers.
type Range struct{ From, To uint64 }

// sentDelta is what one commit changed in the sent bucket.
type sentDelta struct{ bytes, n int64 }

func (o *Outbox) openSent(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketSent)
	if err != nil {
		return err
	}
	var size, n int64
	err = b.ForEach(func(k, v []byte) error {
		size += int64(len(k) + len(v))
		n++
		return nil
	})
	o.sentBytes.Store(size)
	o.sentN.Store(n)
	return err
}

// keepSent stores an acknowledged record of priority p.
func (o *Outbox) keepSent(sent *bolt.Bucket, p int, key, val []byte, now time.Time, d *sentDelta) error {
	v := make([]byte, sentPrefix+len(val))
	v[0] = byte(p)
	binary.BigEndian.PutUint64(v[1:9], uint64(now.UnixNano()))
	copy(v[sentPrefix:], val)
	if err := sent.Put(key, v); err != nil {
		return err
	}
	d.bytes += int64(len(key) + len(v))
	d.n++
	return nil
}

// forgetSent removes a kept record (an erasure).
func (o *Outbox) forgetSent(sent *bolt.Bucket, seq uint64, d *sentDelta) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], seq)
	v := sent.Get(key[:])
	if v == nil {
		return nil
	}
	d.bytes -= int64(len(key) + len(v))
	d.n--
	return sent.Delete(key[:])
}

// sentCap is the byte bound of the sent bucket.
func (o *Outbox) sentCap() int64 {
	if q := o.quota.Load(); q > 0 {
		return q / 4
	}
	return 128 << 20
}

// pruneSent forgets kept records past SentKeep or beyond the byte bound,
// oldest first, at most sentPrune per commit.
func (o *Outbox) pruneSent(sent *bolt.Bucket, now time.Time, d *sentDelta) error {
	keep := time.Duration(o.sentKeep.Load())
	limit := o.sentCap()
	c := sent.Cursor()
	for i := 0; i < sentPrune; i++ {
		k, v := c.First() // re-seek after each delete
		if k == nil {
			return nil
		}
		acked := time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9])))
		if now.Sub(acked) < keep && o.sentBytes.Load()+d.bytes <= limit {
			return nil
		}
		d.bytes -= int64(len(k) + len(v))
		d.n--
		if err := sent.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// maxResend bounds the records one resend request queues again.
const maxResend = 100_000

// requeue moves kept records in ranges back to their priority buckets.
func (o *Outbox) requeue(sent *bolt.Bucket, bs [Priorities]*bolt.Bucket, ranges []Range, size *[Priorities]int64, d *sentDelta) (int, error) {
	n := 0
	var key [8]byte
	for _, r := range ranges {
		for seq := r.From; seq <= r.To && seq >= r.From && n < maxResend; {
			binary.BigEndian.PutUint64(key[:], seq)
			c := sent.Cursor()
			k, v := c.Seek(key[:])
			if k == nil {
				break
			}
			s := binary.BigEndian.Uint64(k)
			if s > r.To {
				break
			}
			p, val := int(v[0]), append([]byte(nil), v[sentPrefix:]...)
			if p < 0 || p >= Priorities {
				return n, fmt.Errorf("sent record %d: priority %d", s, p)
			}
			d.bytes -= int64(len(k) + len(v))
			d.n--
			if err := sent.Delete(k); err != nil {
				return n, err
			}
			if bs[p].Get(k) == nil {
				if err := bs[p].Put(k, val); err != nil {
					return n, err
				}
				size[p] += int64(len(k) + len(val))
				n++
			}
			seq = s + 1
		}
	}
	return n, nil
}

// requeued counts the records resend requests of batch queued again.
func requeued(batch []*request) int {
	n := 0
	for _, r := range batch {
		n += r.resent
	}
	return n
}

// Resend queues again the kept records of epoch in ranges, under their
// sequence numbers, and returns how many it queued. Records no longer kept
// (past SentKeep, pruned, erased) or still queued are skipped; another
// epoch's ranges are ignored. Readers holding a Cursor should start over:
// Rewinds changes.
func (o *Outbox) Resend(epoch string, ranges []Range) (int, error) {
	if epoch != o.epoch || len(ranges) == 0 {
		return 0, nil
	}
	req := &request{resend: ranges, done: make(chan error, 1)}
	if err := o.submit(req); err != nil {
		return 0, fmt.Errorf("resend: %w", err)
	}
	return req.resent, nil
}

// Rewinds changes whenever Resend queued records again, possibly behind a
// reader's Cursor.
func (o *Outbox) Rewinds() uint64 { return o.rewinds.Load() }

// SetSentKeep sets how long acknowledged records are kept for resends
// (DefaultSentKeep). 0 keeps none.
func (o *Outbox) SetSentKeep(d time.Duration) { o.sentKeep.Store(int64(d)) }
