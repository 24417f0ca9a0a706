package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Traffic history is kept on the gateway.
//
// The queue forgets an event once HQ has it, but the store dashboard
// compares today with the same weekday last week. So Commit also keeps a
// copy of every traffic interval (edge.KindTraffic) and trading day
// (edge.KindTrafficDay) in the history bucket, in the same transaction as
// the queued event: the history and the queue never disagree after a crash.
//
// A key is a kind byte ('t' interval, 'd' day) and the start of the
// interval or day as 8 big-endian bytes of unix nanoseconds with the sign
// bit flipped, so byte order is time order and a time range is one cursor
// seek. The value is the payload's JSON (edge.Traffic or edge.TrafficDay).
// An interval or day committed again (the engine closing it again after a
// restart) replaces the earlier copy.
//
// Records are kept for HistoryKeep (DefaultHistoryKeep, 35 days: five of
// each weekday) counted back from the newest record committed, not from
// the wall clock, so a gateway whose clock jumps back, or the demo's
// simulated clock, does not wipe the history; a record more than
// historyAhead ahead of the wall clock counts as now+historyAhead, so
// neither does a clock that jumped forward. Pruning rides on the commits that add
// history records, at most historyPrune keys of each kind per commit.
//
// The records hold counts and amounts of the whole store only, no member
// id (TestHistoryHoldsNoMemberIDs checks the types), so an erasure has
// nothing to remove there and Purge does not look.

var bucketHistory = []byte("outbox.history")

// historyAhead is how far ahead of the wall clock history records may be
// before pruning stops following them (the demo simulates the next
// trading day).
const historyAhead = 3 * 24 * time.Hour

// History key kinds.
const (
	histTraffic byte = 't'
	histDay     byte = 'd'
)

// DefaultHistoryKeep is how long traffic history is kept.
const DefaultHistoryKeep = 35 * 24 * time.Hour

// historyPrune bounds the keys of each kind one commit prunes.
const historyPrune = 256

// histRecord is a history copy to write with a commit.
type histRecord struct {
	key [9]byte
	val []byte
}

func historyKey(kind byte, t time.Time) [9]byte {
	var k [9]byte
	k[0] = kind
	binary.BigEndian.PutUint64(k[1:], uint64(t.UnixNano())^(1<<63))
	return k
}

func historyTime(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[1:])^(1<<63)))
}

// historyOf returns the history copy of e, if its kind is kept.
func historyOf(e *edge.Event) (histRecord, bool, error) {
	var (
		r       histRecord
		payload any
	)
	switch {
	case e.Kind == edge.KindTraffic && e.Traffic != nil:
		r.key, payload = historyKey(histTraffic, e.Traffic.Start), e.Traffic
	case e.Kind == edge.KindTrafficDay && e.Day != nil:
		r.key, payload = historyKey(histDay, e.Day.Start), e.Day
	default:
		return r, false, nil
	}
	v, err := json.Marshal(payload)
	if err != nil {
		return r, false, err
	}
	r.val = v
	return r, true, nil
}

// putHistory writes a commit's history copies and prunes what fell out of
// the kept window behind the newest of them.
func (o *Outbox) putHistory(b *bolt.Bucket, recs []histRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var newest time.Time
	for _, r := range recs {
		if err := b.Put(r.key[:], r.val); err != nil {
			return err
		}
		if t := historyTime(r.key[:]); t.After(newest) {
			newest = t
		}
	}
	// A record far ahead of the wall clock (a clock that jumped forward,
	// since corrected) must not prune the real history behind it.
	if ahead := time.Now().Add(historyAhead); newest.After(ahead) {
		newest = ahead
	}
	cutoff := newest.Add(-time.Duration(o.historyKeep.Load()))
	for _, kind := range []byte{histTraffic, histDay} {
		if err := pruneHistory(b, kind, cutoff); err != nil {
			return err
		}
	}
	return nil
}

// pruneHistory deletes up to historyPrune records of kind that start before
// cutoff.
func pruneHistory(b *bolt.Bucket, kind byte, cutoff time.Time) error {
	var old [][]byte
	c := b.Cursor()
	end := historyKey(kind, cutoff)
	for k, _ := c.Seek([]byte{kind}); k != nil && len(old) < historyPrune && bytes.Compare(k, end[:]) < 0; k, _ = c.Next() {
		old = append(old, append([]byte(nil), k...)) // deleting under a cursor can skip keys
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// SetHistoryKeep sets how long traffic history is kept (DefaultHistoryKeep),
// counted back from the newest record. It applies from the next commit of a
// history record. 0 keeps only the newest records.
func (o *Outbox) SetHistoryKeep(d time.Duration) { o.historyKeep.Store(int64(d)) }

// TrafficBetween returns the kept traffic intervals that start in
// [from, to), in time order.
func (o *Outbox) TrafficBetween(from, to time.Time) ([]edge.Traffic, error) {
	return readHistory[edge.Traffic](o, histTraffic, from, to, "traffic")
}

// DaysBetween returns the kept trading days that start in [from, to), in
// time order.
func (o *Outbox) DaysBetween(from, to time.Time) ([]edge.TrafficDay, error) {
	return readHistory[edge.TrafficDay](o, histDay, from, to, "day")
}

// readHistory decodes the records of kind in [from, to). A record that
// does not decode (written by a build with another format) is skipped: one
// bad record must not hide the rest of the history.
func readHistory[T any](o *Outbox, kind byte, from, to time.Time, what string) ([]T, error) {
	var out []T
	err := o.scanHistory(kind, from, to, func(v []byte) error {
		var r T
		if json.Unmarshal(v, &r) == nil {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s history: %w", what, err)
	}
	return out, nil
}

// scanHistory calls fn with each value of kind in [from, to). fn must not
// keep v: it dies with the transaction.
func (o *Outbox) scanHistory(kind byte, from, to time.Time, fn func(v []byte) error) error {
	if !from.Before(to) {
		return nil
	}
	lo, hi := historyKey(kind, from), historyKey(kind, to)
	return o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		for k, v := c.Seek(lo[:]); k != nil && bytes.Compare(k, hi[:]) < 0; k, v = c.Next() {
			if err := fn(v); err != nil {
				return fmt.Errorf("record of %s: %w", historyTime(k).UTC().Format(time.RFC3339), err)
			}
		}
		return nil
	})
}
