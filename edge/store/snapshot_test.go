package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
)

func genRec(i int) edge.MemberRecord {
	return edge.MemberRecord{
		Member:  edge.Member{ID: fmt.Sprintf("m-%03d", i), Tier: "gold"},
		Cards:   [][]byte{{0x04, byte(i), 0x22, 0x33}},
		Loyalty: fmt.Sprintf("LOY-%03d", i),
	}
}

func offer(id string) edge.Offer {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	return edge.Offer{ID: id, Title: id, Channels: []edge.Channel{edge.ChannelSignage}, ValidFrom: t0, ValidTo: t0.AddDate(0, 1, 0)}
}

func TestUpdateIsOneTransaction(t *testing.T) {
	s, _, _ := newStore(t)
	v0 := s.OffersVersion()
	errBoom := errors.New("boom")
	err := s.Update(func(tx *store.Tx) error {
		r := genRec(1)
		if err := tx.PutMember(&r, 0); err != nil {
			return err
		}
		o := offer("o-1")
		if err := tx.PutOffer(&o, 0); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v", err)
	}
	if c, _ := s.Count(); c != (store.Counts{}) || s.OffersVersion() != v0 {
		t.Fatalf("a failed Update left %+v, offers version %d→%d", c, v0, s.OffersVersion())
	}
	err = s.Update(func(tx *store.Tx) error {
		for i := range 3 {
			r := genRec(i)
			if err := tx.PutMember(&r, 7); err != nil {
				return err
			}
		}
		o := offer("o-1")
		if err := tx.PutOffer(&o, 7); err != nil {
			return err
		}
		if existed, err := tx.DeleteMember("m-001"); err != nil || !existed {
			return fmt.Errorf("DeleteMember = %v, %v", existed, err)
		}
		if existed, _ := tx.DeleteMember("m-404"); existed {
			return errors.New("unknown member existed")
		}
		return tx.Bolt().Bucket([]byte("members")).Put([]byte("raw"), nil) // the caller's own writes ride along
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.OffersVersion() == v0 {
		t.Error("OffersVersion did not move")
	}
	if _, err := s.MemberByCard([]byte{0x04, 1, 0x22, 0x33}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted member's card: %v", err)
	}
	if m, err := s.MemberByCard([]byte{0x04, 2, 0x22, 0x33}); err != nil || m.ID != "m-002" {
		t.Errorf("MemberByCard = %v, %v", m.ID, err)
	}
	if c, _ := s.Count(); c.Members != 3 || c.Cards != 2 || c.Offers != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestSweep(t *testing.T) {
	s, db, _ := newStore(t)
	// Generation 1: m-000 … m-019 and two offers; m-020 without a mark.
	err := s.Update(func(tx *store.Tx) error {
		for i := range 20 {
			r := genRec(i)
			if err := tx.PutMember(&r, 1); err != nil {
				return err
			}
		}
		for _, id := range []string{"o-a", "o-b", "o-c"} {
			o := offer(id)
			if err := tx.PutOffer(&o, 1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutMembers([]edge.MemberRecord{genRec(20)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMember("m-019"); err != nil { // leaves its mark behind
		t.Fatal(err)
	}
	// Generation 2 holds every third member, one new member and offer b.
	var keep []string
	err = s.Update(func(tx *store.Tx) error {
		for i := 0; i < 21; i += 3 {
			r := genRec(i)
			keep = append(keep, r.Member.ID)
			if err := tx.PutMember(&r, 2); err != nil {
				return err
			}
		}
		r := genRec(30)
		keep = append(keep, r.Member.ID)
		o := offer("o-b")
		if err := tx.PutOffer(&o, 2); err != nil {
			return err
		}
		return tx.PutMember(&r, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	v := s.OffersVersion()
	var deleted []string
	from, calls := "", 0
	for {
		var next string
		err := s.Update(func(tx *store.Tx) error {
			d, n, err := tx.SweepMembers(2, from, store.Sweep{MaxScan: 4, MaxDelete: 3})
			deleted = append(deleted, d...)
			next = n
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if next == "" {
			break
		}
		from = next
		if calls > 100 {
			t.Fatal("sweep does not end")
		}
	}
	if calls < 5 {
		t.Errorf("sweep took %d transactions; the bounds were not applied", calls)
	}
	ids, _ := s.MemberIDs()
	if !slices.Equal(ids, keep) {
		t.Errorf("members after sweep = %v, want %v", ids, keep)
	}
	if len(deleted) != 13 {
		t.Errorf("deleted %d members: %v", len(deleted), deleted)
	}
	if _, err := s.MemberByCard([]byte{0x04, 1, 0x22, 0x33}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("swept member's card still resolves: %v", err)
	}
	if _, _, err := s.MemberByBarcode("LOY-001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("swept member's barcode still resolves: %v", err)
	}
	if m, err := s.MemberByCard([]byte{0x04, 3, 0x22, 0x33}); err != nil || m.ID != "m-003" {
		t.Errorf("kept member: %v, %v", m.ID, err)
	}
	for more := true; more; {
		err := s.Update(func(tx *store.Tx) error {
			var err error
			_, more, err = tx.SweepOffers(2, store.Sweep{MaxDelete: 1})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if os, _ := s.Offers(); len(os) != 1 || os[0].ID != "o-b" || s.OffersVersion() == v {
		t.Errorf("offers after sweep = %v (version %d→%d)", os, v, s.OffersVersion())
	}
	// Every mark left belongs to a member or offer of generation 2.
	_ = db.View(func(tx *bolt.Tx) error {
		for _, b := range []string{"members.gen", "offers.gen"} {
			n := tx.Bucket([]byte(b)).Stats().KeyN
			want := len(keep)
			if b == "offers.gen" {
				want = 1
			}
			if n != want {
				t.Errorf("%s holds %d marks, want %d", b, n, want)
			}
		}
		return nil
	})
}
