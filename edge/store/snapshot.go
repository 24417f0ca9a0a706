package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Generations let a caller replace the whole member and offer data without
// one long transaction (the downlink's snapshots): every member or offer
// written during a replacement is marked with the replacement's generation
// (Tx.PutMember, Tx.PutOffer), and afterwards Tx.SweepMembers and
// Tx.SweepOffers delete, in small transactions, whatever does not carry it. Marks live in
// two buckets of their own, so the member values and the card and barcode
// indexes keep their layout (sweeps go through Tx, so that a caller can
// record what was swept in the same transaction):
//
//	members.gen  member id → 8-byte big-endian generation
//	offers.gen   offer id  → 8-byte big-endian generation
//
// A member or offer written without a generation (PutMembers, generation 0
// through Tx) keeps the mark it had, if any.
var (
	bucketMemberGen = []byte("members.gen")
	bucketOfferGen  = []byte("offers.gen")
)

// Tx is a set of member and offer changes applied in one bbolt transaction,
// through Store.Update. Its methods must not be used after the function
// passed to Update returns.
type Tx struct {
	s      *Store
	tx     *bolt.Tx
	offers bool // an offer changed: bump OffersVersion after commit
}

// Update runs fn in one read-write transaction: everything fn does through
// the Tx, and anything it writes to other buckets of the same file through
// Bolt, commits together or not at all. Keep fn short: bbolt has a single
// writer, and the outbox's commits wait for it. When an offer changed,
// OffersVersion moves on after the commit.
func (s *Store) Update(fn func(*Tx) error) error {
	t := &Tx{s: s}
	err := s.db.Update(func(tx *bolt.Tx) error {
		t.tx, t.offers = tx, false
		return fn(t)
	})
	if err != nil {
		return err
	}
	if t.offers {
		s.offerVer.Add(1)
	}
	return nil
}

// Bolt is the underlying transaction, for the caller's own buckets (for
// instance a sync cursor that must move with the changes).
func (t *Tx) Bolt() *bolt.Tx { return t.tx }

// PutMember inserts or replaces a member and its identifiers, as PutMembers
// does (raw identifiers are only stored as pseudonyms). A gen above 0 marks
// the member with that generation.
func (t *Tx) PutMember(r *edge.MemberRecord, gen uint64) error {
	if err := t.s.putMember(t.tx, r); err != nil {
		return fmt.Errorf("put member: %w", err)
	}
	if gen == 0 {
		return nil
	}
	b, err := t.tx.CreateBucketIfNotExists(bucketMemberGen)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.Member.ID), u64(gen))
}

// DeleteMember removes a member, its card and barcode index entries and its
// generation mark, and reports whether it existed.
func (t *Tx) DeleteMember(id string) (bool, error) {
	existed := t.tx.Bucket(bucketMembers).Get([]byte(id)) != nil
	if err := deleteMember(t.tx, []byte(id)); err != nil {
		return false, fmt.Errorf("delete member: %w", err)
	}
	return existed, nil
}

// PutOffer inserts or replaces an offer; a gen above 0 marks it with that
// generation.
func (t *Tx) PutOffer(o *edge.Offer, gen uint64) error {
	if o.ID == "" {
		return errors.New("put offer: offer without id")
	}
	v, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("put offer: %w", err)
	}
	if err := t.tx.Bucket(bucketOffers).Put([]byte(o.ID), v); err != nil {
		return fmt.Errorf("put offer: %w", err)
	}
	t.offers = true
	if gen == 0 {
		return nil
	}
	b, err := t.tx.CreateBucketIfNotExists(bucketOfferGen)
	if err != nil {
		return err
	}
	return b.Put([]byte(o.ID), u64(gen))
}

// DeleteOffer removes an offer and its mark; an unknown id is not an error.
func (t *Tx) DeleteOffer(id string) error {
	if err := t.tx.Bucket(bucketOffers).Delete([]byte(id)); err != nil {
		return fmt.Errorf("delete offer: %w", err)
	}
	if b := t.tx.Bucket(bucketOfferGen); b != nil {
		if err := b.Delete([]byte(id)); err != nil {
			return fmt.Errorf("delete offer: %w", err)
		}
	}
	t.offers = true
	return nil
}

// deleteMember removes a member, its index entries and its mark.
func deleteMember(tx *bolt.Tx, id []byte) error {
	if err := removeIndex(tx, id); err != nil {
		return err
	}
	if err := tx.Bucket(bucketMembers).Delete(id); err != nil {
		return err
	}
	if b := tx.Bucket(bucketMemberGen); b != nil {
		return b.Delete(id)
	}
	return nil
}

// Sweep bounds one SweepMembers or SweepOffers transaction.
type Sweep struct {
	MaxScan   int // keys examined per call; default 4096
	MaxDelete int // entries deleted per call; default 256
}

func (o Sweep) defaults() Sweep {
	if o.MaxScan <= 0 {
		o.MaxScan = 4096
	}
	if o.MaxDelete <= 0 {
		o.MaxDelete = 256
	}
	return o
}

// SweepMembers deletes members from id from (inclusive; "" starts at the
// first) whose generation is not gen (members without a mark included),
// with their index entries, within the transaction. It examines at most
// o.MaxScan members and deletes at most o.MaxDelete, and returns the ids it
// deleted and the id to continue from, "" when the sweep is complete. Once
// past the members it also drops marks left behind by members deleted
// without Tx (Store.DeleteMember): call it, one transaction each, until
// next is "".
//
// Deleting is idempotent: a sweep interrupted at any point can be run again
// from the start.
func (t *Tx) SweepMembers(gen uint64, from string, o Sweep) (deleted []string, next string, err error) {
	o = o.defaults()
	tx := t.tx
	gens := tx.Bucket(bucketMemberGen)
	// Phase 1 walks the members; phase 2 (from starting with 0xff, which
	// no UTF-8 member id does) walks the marks.
	if len(from) == 0 || from[0] != 0xff {
		var doomed [][]byte
		c := tx.Bucket(bucketMembers).Cursor()
		var k []byte
		if from == "" {
			k, _ = c.First()
		} else {
			k, _ = c.Seek([]byte(from))
		}
		for scanned := 0; k != nil; k, _ = c.Next() {
			if scanned >= o.MaxScan || len(doomed) >= o.MaxDelete {
				next = string(k)
				break
			}
			scanned++
			if gens == nil || decodeU64(gens.Get(k)) != gen {
				doomed = append(doomed, append([]byte(nil), k...))
			}
		}
		// Delete after the walk: deleting under a cursor can skip keys.
		for _, id := range doomed {
			if err := deleteMember(tx, id); err != nil {
				return nil, "", fmt.Errorf("sweep members: %w", err)
			}
			deleted = append(deleted, string(id))
		}
		if next == "" && gens != nil {
			next = "\xff"
		}
		return deleted, next, nil
	}
	if gens == nil {
		return nil, "", nil
	}
	members := tx.Bucket(bucketMembers)
	var stale [][]byte
	c := gens.Cursor()
	k, v := c.Seek([]byte(from[1:]))
	for scanned := 0; k != nil; k, v = c.Next() {
		if scanned >= o.MaxScan || len(stale) >= o.MaxDelete {
			next = "\xff" + string(k)
			break
		}
		scanned++
		if decodeU64(v) != gen && members.Get(k) == nil {
			stale = append(stale, append([]byte(nil), k...))
		}
	}
	for _, k := range stale {
		if err := gens.Delete(k); err != nil {
			return nil, "", fmt.Errorf("sweep members: %w", err)
		}
	}
	return nil, next, nil
}

// SweepOffers deletes, within the transaction, offers whose generation is
// not gen (offers without a mark included), at most o.MaxDelete of them,
// and reports how many it deleted and whether more may remain (call again,
// in a new transaction, while more is true).
func (t *Tx) SweepOffers(gen uint64, o Sweep) (n int, more bool, err error) {
	o = o.defaults()
	offers, gens := t.tx.Bucket(bucketOffers), t.tx.Bucket(bucketOfferGen)
	var doomed [][]byte
	err = offers.ForEach(func(k, _ []byte) error {
		if len(doomed) >= o.MaxDelete {
			more = true
			return errStop
		}
		if gens == nil || decodeU64(gens.Get(k)) != gen {
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, false, fmt.Errorf("sweep offers: %w", err)
	}
	for _, k := range doomed {
		if err := offers.Delete(k); err != nil {
			return 0, false, fmt.Errorf("sweep offers: %w", err)
		}
		if gens != nil {
			if err := gens.Delete(k); err != nil {
				return 0, false, fmt.Errorf("sweep offers: %w", err)
			}
		}
	}
	if len(doomed) > 0 {
		t.offers = true
	}
	return len(doomed), more, nil
}

var errStop = errors.New("stop")

// MemberIDs returns the ids of every stored member, in byte order.
func (s *Store) MemberIDs() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMembers)
		out = make([]string, 0, b.Stats().KeyN)
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
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
