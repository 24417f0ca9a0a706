package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
)

var sealKey = bytes.Repeat([]byte{0x5e}, store.SealKeyLen)

// sealedNames are distinctive enough that finding one in the file is not
// an accident.
var sealedNames = []string{"Zephyrine", "Quillon", "Ottoline", "Bartholomew", "Élodie"}

func sealedRecords() []edge.MemberRecord {
	var recs []edge.MemberRecord
	for i, n := range sealedNames {
		recs = append(recs, edge.MemberRecord{
			Member:  edge.Member{ID: fmt.Sprintf("m-%d", i), FirstName: n, Tier: "gold", GreetByName: true},
			Cards:   [][]byte{{0x04, byte(i), 0x33, 0x44}},
			Loyalty: fmt.Sprintf("2900000%06d", i),
		})
	}
	return recs
}

// rawContains reports which names occur in clear in the file at path.
func rawContains(t *testing.T, path string, names []string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, n := range names {
		if bytes.Contains(raw, []byte(n)) {
			found = append(found, n)
		}
	}
	return found
}

// TestSealNoPersonalFieldInClear is the must-show: no first name is
// in the bbolt file in clear, and every member reads back whole.
func TestSealNoPersonalFieldInClear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redcarpet.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenWith(db, testKey, &store.Opts{SealKey: sealKey})
	if err != nil {
		t.Fatal(err)
	}
	recs := sealedRecords()
	if err := s.PutMembers(recs); err != nil {
		t.Fatal(err)
	}
	// A purchase rewrites the value: it must stay sealed.
	if err := s.RecordPurchase("m-0", time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC), []string{"coffee"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if found := rawContains(t, path, sealedNames); len(found) > 0 {
		t.Fatalf("names in clear in the database file: %q", found)
	}

	db = openDB(t, path)
	s, err = store.OpenWith(db, testKey, &store.Opts{SealKey: sealKey})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		got, err := s.MemberByCard(r.Cards[0])
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		if got.FirstName != r.Member.FirstName || got.Tier != "gold" || !got.GreetByName {
			t.Errorf("member %d read back as %+v", i, got)
		}
	}
	m0, _ := s.Member("m-0")
	if m0.Cycles["coffee"].Count == 0 {
		t.Errorf("purchase lost: %+v", m0)
	}

	// Without the key, a sealed member is an error, not an empty name.
	nokey, err := store.Open(db, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nokey.Member("m-1"); !errors.Is(err, store.ErrNoSealKey) {
		t.Errorf("read without seal key: err = %v, want ErrNoSealKey", err)
	}
	// Under another key, authentication fails.
	wrong, err := store.OpenWith(db, testKey, &store.Opts{SealKey: bytes.Repeat([]byte{1}, store.SealKeyLen)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Member("m-1"); !errors.Is(err, store.ErrSealBroken) {
		t.Errorf("read under another key: err = %v, want ErrSealBroken", err)
	}
}

// TestSealBoundToRecord copies one member's stored value onto another
// member id: opening it fails authentication.
func TestSealBoundToRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redcarpet.db")
	db := openDB(t, path)
	s, err := store.OpenWith(db, testKey, &store.Opts{SealKey: sealKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutMembers(sealedRecords()[:2]); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("members"))
		return b.Put([]byte("m-1"), bytes.Clone(b.Get([]byte("m-0"))))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Member("m-1"); !errors.Is(err, store.ErrSealBroken) {
		t.Fatalf("moved ciphertext: err = %v, want ErrSealBroken", err)
	}
	if m, err := s.Member("m-0"); err != nil || m.FirstName != sealedNames[0] {
		t.Fatalf("original: %+v, %v", m, err)
	}
}

// TestSealMigratesClearMembers opens a store written without a seal key:
// clear members read, a rewrite seals them and MigrateSeal seals the rest.
func TestSealMigratesClearMembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redcarpet.db")
	db := openDB(t, path)
	clear, err := store.Open(db, testKey)
	if err != nil {
		t.Fatal(err)
	}
	recs := sealedRecords()
	if err := clear.PutMembers(recs); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenWith(db, testKey, &store.Opts{SealKey: sealKey})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Member("m-2"); err != nil || m.FirstName != sealedNames[2] {
		t.Fatalf("clear member through a sealing store: %+v, %v", m, err)
	}
	if err := s.PutMembers(recs[:1]); err != nil {
		t.Fatal(err)
	}
	n, err := s.MigrateSeal(2)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(recs)-1 {
		t.Errorf("MigrateSeal sealed %d, want %d", n, len(recs)-1)
	}
	if n, _ := s.MigrateSeal(0); n != 0 {
		t.Errorf("second MigrateSeal sealed %d, want 0", n)
	}
	var clearLeft int
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("members")).ForEach(func(k, v []byte) error {
			for _, name := range sealedNames {
				if bytes.Contains(v, []byte(name)) {
					clearLeft++
				}
			}
			return nil
		})
	})
	if clearLeft > 0 {
		t.Errorf("%d member values still hold a clear name", clearLeft)
	}
	for i, r := range recs {
		if m, err := s.Member(r.Member.ID); err != nil || m.FirstName != r.Member.FirstName {
			t.Errorf("member %d after migration: %+v, %v", i, m, err)
		}
	}
}
