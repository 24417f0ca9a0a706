// Package store is the gateway's member and offer cache, kept in the
// gateway's one bbolt file so recognition works with no WAN.
//
// # Model
//
// Four buckets:
//
//	members   member id        → JSON member (plus the pseudonyms of its cards and barcodes)
//	cards     HMAC(card UID)   → member id
//	barcodes  HMAC(barcode)    → kind byte + member id
//	offers    offer id         → JSON offer
//
// Card UIDs and member barcodes are stored only as keyed pseudonyms:
// HMAC-SHA-256 under a per-store secret, truncated to 128 bits, with a
// domain prefix so a card and a barcode with the same bytes never collide.
// Without the secret the pseudonyms cannot be enumerated back to UIDs.
// A member's personal fields are sealed with AES-256-GCM when the Store has
// a seal key (Opts.SealKey; the format is described in seal.go).
//
// # Guarantees
//
// Every write is one bbolt transaction: a member, its card and barcode
// index entries change together or not at all. Reads are single short View
// transactions and copy what they return, so nothing returned aliases the
// mmap. The Store is safe for concurrent use; bbolt allows any number of
// readers alongside one writer.
package store

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// ErrNotFound is returned when no member or offer matches. It is
// edge.ErrNotFound, so the engine can test for it.
var ErrNotFound = edge.ErrNotFound

// MinKeyLen is the shortest accepted pseudonym secret.
const MinKeyLen = 16

var (
	bucketMembers  = []byte("members")
	bucketCards    = []byte("cards")
	bucketBarcodes = []byte("barcodes")
	bucketOffers   = []byte("offers")
)

// Barcode index values start with the barcode's kind.
const (
	barcodeLoyalty = 'L'
	barcodeList    = 'S'
)

// pseudonym length in bytes (128 bits).
const pseudonymLen = 16

// Store is the member and offer cache.
type Store struct {
	db       *bolt.DB
	macs     sync.Pool // hash.Hash keyed with the store secret
	offerVer atomic.Uint64
	aead     cipher.AEAD // seals personal fields; nil: clear (seal.go)
}

// Open prepares the store's buckets in db. key is the per-store pseudonym
// secret (at least MinKeyLen bytes); the same key must be used for the life
// of the database, or cards stop matching.
func Open(db *bolt.DB, key []byte) (*Store, error) { return OpenWith(db, key, nil) }

// OpenWith is Open with options; a nil o is the zero Opts (no seal key).
func OpenWith(db *bolt.DB, key []byte, o *Opts) (*Store, error) {
	if o == nil {
		o = &Opts{}
	}
	aead, err := newSealer(o.SealKey)
	if err != nil {
		return nil, fmt.Errorf("open member store: %w", err)
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("open member store: pseudonym key is %d bytes, need at least %d", len(key), MinKeyLen)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMembers, bucketCards, bucketBarcodes, bucketOffers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open member store: %w", err)
	}
	k := append([]byte(nil), key...)
	s := &Store{db: db, aead: aead}
	s.macs.New = func() any { return hmac.New(sha256.New, k) }
	s.offerVer.Store(1)
	return s, nil
}

// pseudonym returns HMAC-SHA-256(key, domain || raw) truncated to 128 bits.
func (s *Store) pseudonym(domain byte, raw []byte) []byte {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte{domain})
	m.Write(raw)
	var sum [sha256.Size]byte
	out := m.Sum(sum[:0])[:pseudonymLen]
	s.macs.Put(m)
	return append([]byte(nil), out...)
}

const (
	domainCard    = 'c'
	domainBarcode = 'b'
)

// CardPseudonym returns the index key of a card UID.
func (s *Store) CardPseudonym(uid []byte) []byte { return s.pseudonym(domainCard, uid) }

// BarcodePseudonym returns the index key of a member barcode.
func (s *Store) BarcodePseudonym(code string) []byte {
	return s.pseudonym(domainBarcode, []byte(code))
}

// memberValue is a member as stored: the member plus the pseudonyms of its
// identifiers, so an update or an erasure can remove stale index entries.
type memberValue struct {
	edge.Member
	Cards    [][]byte `json:"card_keys,omitempty"`
	Barcodes [][]byte `json:"barcode_keys,omitempty"`
	// Sealed holds the personal fields, encrypted (seal.go).
	Sealed []byte `json:"sealed,omitempty"`
}

// MemberByCard resolves a card UID.
func (s *Store) MemberByCard(uid []byte) (edge.Member, error) {
	key := s.CardPseudonym(uid)
	var m edge.Member
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketCards).Get(key)
		if id == nil {
			return ErrNotFound
		}
		return s.getMember(tx, id, &m)
	})
	return m, err
}

// MemberByBarcode resolves a loyalty or shopping-list barcode and tells
// which of the two it is (edge.ScanLoyalty or edge.ScanList).
func (s *Store) MemberByBarcode(code string) (edge.Member, edge.ScanClass, error) {
	key := s.BarcodePseudonym(code)
	var (
		m    edge.Member
		kind = edge.ScanLoyalty
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBarcodes).Get(key)
		if len(v) < 2 {
			return ErrNotFound
		}
		if v[0] == barcodeList {
			kind = edge.ScanList
		}
		return s.getMember(tx, v[1:], &m)
	})
	return m, kind, err
}

// Member returns a member by id.
func (s *Store) Member(id string) (edge.Member, error) {
	var m edge.Member
	err := s.db.View(func(tx *bolt.Tx) error { return s.getMember(tx, []byte(id), &m) })
	return m, err
}

func (s *Store) getMember(tx *bolt.Tx, id []byte, m *edge.Member) error {
	v := tx.Bucket(bucketMembers).Get(id)
	if v == nil {
		return ErrNotFound
	}
	var mv memberValue
	if err := s.decodeMember(id, v, &mv); err != nil {
		return err
	}
	*m = mv.Member
	return nil
}

// PutMembers inserts or replaces members and their identifiers in one
// transaction. A card or barcode that belonged to another member moves to
// the new one.
func (s *Store) PutMembers(recs []edge.MemberRecord) error {
	if len(recs) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range recs {
			if err := s.putMember(tx, &recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put members: %w", err)
	}
	return nil
}

func (s *Store) putMember(tx *bolt.Tx, r *edge.MemberRecord) error {
	if r.Member.ID == "" {
		return errors.New("member without id")
	}
	id := []byte(r.Member.ID)
	members, cards, barcodes := tx.Bucket(bucketMembers), tx.Bucket(bucketCards), tx.Bucket(bucketBarcodes)
	if err := removeIndex(tx, id); err != nil {
		return err
	}
	mv := memberValue{Member: r.Member}
	for _, uid := range r.Cards {
		k := s.CardPseudonym(uid)
		if err := cards.Put(k, id); err != nil {
			return err
		}
		mv.Cards = append(mv.Cards, k)
	}
	for _, bc := range []struct {
		code string
		kind byte
	}{{r.Loyalty, barcodeLoyalty}, {r.List, barcodeList}} {
		if bc.code == "" {
			continue
		}
		k := s.BarcodePseudonym(bc.code)
		if err := barcodes.Put(k, append([]byte{bc.kind}, id...)); err != nil {
			return err
		}
		mv.Barcodes = append(mv.Barcodes, k)
	}
	v, err := s.encodeMember(&mv)
	if err != nil {
		return err
	}
	return members.Put(id, v)
}

// removeIndex deletes the index entries of member id that still point to it.
func removeIndex(tx *bolt.Tx, id []byte) error {
	old := tx.Bucket(bucketMembers).Get(id)
	if old == nil {
		return nil
	}
	var mv memberValue
	if err := json.Unmarshal(old, &mv); err != nil {
		return fmt.Errorf("decode member %s: %w", id, err)
	}
	cards, barcodes := tx.Bucket(bucketCards), tx.Bucket(bucketBarcodes)
	for _, k := range mv.Cards {
		if string(cards.Get(k)) == string(id) {
			if err := cards.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, k := range mv.Barcodes {
		if v := barcodes.Get(k); len(v) > 1 && string(v[1:]) == string(id) {
			if err := barcodes.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteMember removes a member and its card and barcode index entries.
// Deleting an unknown member is not an error.
func (s *Store) DeleteMember(id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := removeIndex(tx, []byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bucketMembers).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	return nil
}

// PutOffers inserts or replaces offers in one transaction.
func (s *Store) PutOffers(offers []edge.Offer) error {
	if len(offers) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOffers)
		for i := range offers {
			if offers[i].ID == "" {
				return errors.New("offer without id")
			}
			v, err := json.Marshal(&offers[i])
			if err != nil {
				return err
			}
			if err := b.Put([]byte(offers[i].ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put offers: %w", err)
	}
	s.offerVer.Add(1)
	return nil
}

// DeleteOffer removes an offer; an unknown id is not an error.
func (s *Store) DeleteOffer(id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketOffers).Delete([]byte(id)) })
	if err != nil {
		return fmt.Errorf("delete offer: %w", err)
	}
	s.offerVer.Add(1)
	return nil
}

// Offers returns every stored offer, ordered by id.
func (s *Store) Offers() ([]edge.Offer, error) {
	var out []edge.Offer
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOffers).ForEach(func(k, v []byte) error {
			var o edge.Offer
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode offer %s: %w", k, err)
			}
			out = append(out, o)
			return nil
		})
	})
	return out, err
}

// OffersVersion changes whenever this process changes the offers. The engine
// reloads its offer list when it sees a new value.
func (s *Store) OffersVersion() uint64 { return s.offerVer.Load() }

// Counts is the number of entries per bucket.
type Counts struct {
	Members, Cards, Barcodes, Offers int
}

// Count returns the number of members, index entries and offers.
func (s *Store) Count() (Counts, error) {
	var c Counts
	err := s.db.View(func(tx *bolt.Tx) error {
		c.Members = tx.Bucket(bucketMembers).Stats().KeyN
		c.Cards = tx.Bucket(bucketCards).Stats().KeyN
		c.Barcodes = tx.Bucket(bucketBarcodes).Stats().KeyN
		c.Offers = tx.Bucket(bucketOffers).Stats().KeyN
		return nil
	})
	return c, err
}

var _ edge.Directory = (*Store)(nil)
