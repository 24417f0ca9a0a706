package store_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
)

// benchUID is the 7-byte UID of member i.
func benchUID(i int) []byte {
	uid := []byte{0x04, 0, 0, 0, 0, 0x5a, 0x80}
	binary.BigEndian.PutUint32(uid[1:5], uint32(i))
	return uid
}

func benchRecords(from, n int) []edge.MemberRecord {
	recs := make([]edge.MemberRecord, n)
	for j := range recs {
		i := from + j
		recs[j] = edge.MemberRecord{
			Member: edge.Member{
				ID: fmt.Sprintf("m-%07d", i), FirstName: "Camille", Tier: "silver", Segment: "foodies",
				Stage: edge.StageActive, Affinity: map[string]float64{"wine": 0.3, "bakery": 0.2, "cheese": 0.1},
			},
			Cards:   [][]byte{benchUID(i)},
			Loyalty: fmt.Sprintf("29%011d", i),
			List:    fmt.Sprintf("LST-%08X", i),
		}
	}
	return recs
}

// BenchmarkMemberByCard resolves cards in a store of 100 000 members, the
// size of a large store's member cache.
func BenchmarkMemberByCard(b *testing.B) {
	const members, batch = 100_000, 5_000
	s, db, _ := newStore(b)
	db.NoSync = true // filling only; the lookups below do not write
	for from := 0; from < members; from += batch {
		if err := s.PutMembers(benchRecords(from, batch)); err != nil {
			b.Fatal(err)
		}
	}
	db.NoSync = false
	if c, err := s.Count(); err != nil || c.Members != members || c.Cards != members {
		b.Fatalf("filled store: %+v, %v", c, err)
	}
	uids := make([][]byte, members)
	for i := range uids {
		uids[i] = benchUID(i)
	}

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.MemberByCard(uids[i%members]); err != nil {
				b.Fatal(err)
			}
			i += 7919 // a prime: spread lookups over the whole tree
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.MemberByCard(uids[i%members]); err != nil {
					b.Error(err)
					return
				}
				i += 7919
			}
		})
	})
	b.Run("unknown", func(b *testing.B) {
		b.ReportAllocs()
		uid := []byte{0x08, 1, 2, 3}
		for b.Loop() {
			if _, err := s.MemberByCard(uid); !errors.Is(err, store.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
	b.Run("barcode", func(b *testing.B) {
		b.ReportAllocs()
		codes := make([]string, 1000)
		for i := range codes {
			codes[i] = fmt.Sprintf("29%011d", i*97)
		}
		i := 0
		for b.Loop() {
			if _, _, err := s.MemberByBarcode(codes[i%len(codes)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkPutMembers writes batches of 1000 members, each batch one
// transaction synced to disk.
func BenchmarkPutMembers(b *testing.B) {
	const batch = 1000
	b.Run("insert", func(b *testing.B) {
		s, _, _ := newStore(b)
		b.ReportAllocs()
		from := 0
		for b.Loop() {
			b.StopTimer()
			recs := benchRecords(from, batch)
			b.StartTimer()
			if err := s.PutMembers(recs); err != nil {
				b.Fatal(err)
			}
			from += batch
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(from), "ns/member")
	})
	b.Run("replace", func(b *testing.B) {
		s, _, _ := newStore(b)
		recs := benchRecords(0, batch)
		if err := s.PutMembers(recs); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if err := s.PutMembers(recs); err != nil {
				b.Fatal(err)
			}
			n += batch
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/member")
	})
}
