package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Personal fields at rest
//
// A member's personal fields (today only FirstName; tier, segment, stage,
// affinity and cycles describe buying, not the person, and the member id is
// HQ's pseudonym) are stored sealed when the Store has a seal key
// (Opts.SealKey): the member value's JSON carries, instead of first_name,
//
//	"sealed": base64( version(1) || nonce(12) || AES-256-GCM(personal JSON) )
//
// with version sealV1, a random 96-bit nonce per write and the member id as
// additional data, so a sealed blob copied onto another member fails to
// open (ErrSealBroken) instead of yielding a wrong name. The personal JSON is
// {"first_name":…}; new personal fields go there.
//
// Values written before sealing existed (first_name in clear, no "sealed")
// are still read; every rewrite of such a member (an HQ upsert, a purchase)
// seals it, and MigrateSeal seals the rest in small transactions. A Store
// without a seal key reads clear values and fails on sealed ones with
// ErrNoSealKey.

// SealKeyLen is the length of Opts.SealKey: AES-256.
const SealKeyLen = 32

// sealV1 is the first byte of a sealed blob.
const sealV1 = 1

// Errors of sealed member values.
var (
	// ErrNoSealKey: a member is sealed and the Store has no seal key.
	ErrNoSealKey = errors.New("member personal fields are sealed and no seal key is configured")
	// ErrSealBroken: a sealed blob does not open under the key and the
	// member id it is stored with (wrong key, tampering, or a blob moved
	// from another member).
	ErrSealBroken = errors.New("member personal fields fail authentication")
)

// Opts are the Store's options.
type Opts struct {
	// SealKey is the AES-256 key (SealKeyLen bytes) sealing members'
	// personal fields. Nil stores them in clear (tools and tests).
	SealKey []byte
}

// personal is the sealed part of a member.
type personal struct {
	FirstName string `json:"first_name,omitempty"`
}

func newSealer(key []byte) (cipher.AEAD, error) {
	if key == nil {
		return nil, nil
	}
	if len(key) != SealKeyLen {
		return nil, fmt.Errorf("seal key is %d bytes, need %d", len(key), SealKeyLen)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// sealAD is the additional data binding a blob to its member.
func sealAD(id string) []byte { return append([]byte("redcarpet/member/v1\x00"), id...) }

// encodeMember returns the stored form of mv: personal fields sealed when the
// Store has a key. A value that is already sealed (mv.Sealed set, clear
// fields empty) keeps its blob.
func (s *Store) encodeMember(mv *memberValue) ([]byte, error) {
	if s.aead != nil && mv.FirstName != "" {
		p, err := json.Marshal(personal{FirstName: mv.FirstName})
		if err != nil {
			return nil, err
		}
		blob := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(p)+s.aead.Overhead())
		blob[0] = sealV1
		if _, err := rand.Read(blob[1:]); err != nil {
			return nil, fmt.Errorf("seal member %s: %w", mv.ID, err)
		}
		blob = s.aead.Seal(blob, blob[1:], p, sealAD(mv.ID))
		c := *mv
		c.FirstName, c.Sealed = "", blob
		return json.Marshal(&c)
	}
	return json.Marshal(mv)
}

// decodeMember parses a stored member value and opens its sealed fields.
func (s *Store) decodeMember(id, v []byte, mv *memberValue) error {
	if err := json.Unmarshal(v, mv); err != nil {
		return fmt.Errorf("decode member %s: %w", id, err)
	}
	if mv.Sealed == nil {
		return nil
	}
	if s.aead == nil {
		return fmt.Errorf("decode member %s: %w", id, ErrNoSealKey)
	}
	ns := s.aead.NonceSize()
	if len(mv.Sealed) < 1+ns || mv.Sealed[0] != sealV1 {
		return fmt.Errorf("decode member %s: %w (unknown format)", id, ErrSealBroken)
	}
	p, err := s.aead.Open(nil, mv.Sealed[1:1+ns], mv.Sealed[1+ns:], sealAD(string(id)))
	if err != nil {
		return fmt.Errorf("decode member %s: %w", id, ErrSealBroken)
	}
	var pf personal
	if err := json.Unmarshal(p, &pf); err != nil {
		return fmt.Errorf("decode member %s: %w", id, err)
	}
	mv.FirstName, mv.Sealed = pf.FirstName, nil
	return nil
}

// MigrateSeal seals the personal fields of members stored in clear (written
// before sealing, or by a Store without a key), batch members per
// transaction (0: 1000), and returns how many it sealed. It does nothing
// without a seal key. The clear bytes stay in bbolt's free pages until they
// are reused or the file is compacted.
func (s *Store) MigrateSeal(batch int) (int, error) {
	if s.aead == nil {
		return 0, nil
	}
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	var from []byte
	for {
		n, next, err := s.migrateBatch(from, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("seal members: %w", err)
		}
		if next == nil {
			return total, nil
		}
		from = next
	}
}

func (s *Store) migrateBatch(from []byte, batch int) (n int, next []byte, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMembers)
		c := b.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		type rec struct {
			id []byte
			v  []byte
		}
		var todo []rec
		seen := 0
		for ; k != nil; k, v = c.Next() {
			if seen == batch {
				next = append([]byte(nil), k...)
				break
			}
			seen++
			var mv memberValue
			if err := json.Unmarshal(v, &mv); err != nil {
				return fmt.Errorf("decode member %s: %w", k, err)
			}
			if mv.FirstName == "" {
				continue
			}
			nv, err := s.encodeMember(&mv)
			if err != nil {
				return err
			}
			todo = append(todo, rec{append([]byte(nil), k...), nv})
		}
		for _, r := range todo {
			if err := b.Put(r.id, r.v); err != nil {
				return err
			}
		}
		n = len(todo)
		return nil
	})
	return n, next, err
}
