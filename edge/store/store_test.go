package store_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
)

// testKey is a fixed pseudonym secret, so every run writes the same file.
var testKey = []byte("redcarpet-test-key-0123456789abcdef")

// openDB opens a bbolt file at path; the test closes it at cleanup unless
// it was closed before.
func openDB(tb testing.TB, path string) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newStore returns a Store on a fresh bbolt file in tb.TempDir().
func newStore(tb testing.TB) (*store.Store, *bolt.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "redcarpet.db")
	db := openDB(tb, path)
	s, err := store.Open(db, testKey)
	if err != nil {
		tb.Fatal(err)
	}
	return s, db, path
}

var (
	uid4  = []byte{0xde, 0xad, 0xbe, 0xef}
	uid7  = []byte{0x04, 0xa2, 0x3b, 0xc1, 0x5d, 0x80, 0x91}
	uid10 = []byte{0x08, 0x9c, 0xf1, 0x2e, 0x77, 0xb3, 0x4a, 0xd6, 0x10, 0xe5}
	uid7b = []byte{0x04, 0x51, 0xee, 0x92, 0x0a, 0x6c, 0x83}
)

// members returns records with 4-, 7- and 10-byte card UIDs and both kinds
// of barcode.
func members() []edge.MemberRecord {
	last := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return []edge.MemberRecord{
		{
			Member: edge.Member{
				ID: "m-0001", FirstName: "Camille", Tier: "gold", Segment: "foodies",
				Stage: edge.StageActive, GreetByName: true,
				Affinity: map[string]float64{"wine": 0.4, "bakery": 0.1},
				Cycles:   map[string]edge.Cycle{"wine": {MeanDays: 12.5, Last: last, Count: 9}},
				Redeemed: map[string]int{"o-1": 2},
			},
			Cards:   [][]byte{uid4},
			Loyalty: "2900000000017",
			List:    "LST-7F3A9C21",
		},
		{
			Member:  edge.Member{ID: "m-0002", Tier: "silver", Stage: edge.StageNew},
			Cards:   [][]byte{uid7},
			Loyalty: "2900000000024",
			List:    "LST-0B55D1E8",
		},
		{
			Member:  edge.Member{ID: "m-0003", Stage: edge.StageLapsing},
			Cards:   [][]byte{uid10, uid7b},
			Loyalty: "2900000000031",
		},
	}
}

func TestResolve(t *testing.T) {
	s, _, _ := newStore(t)
	recs := members()
	if err := s.PutMembers(recs); err != nil {
		t.Fatal(err)
	}
	byID := map[string]edge.Member{}
	for _, r := range recs {
		byID[r.Member.ID] = r.Member
	}

	cards := []struct {
		name string
		uid  []byte
		want string
	}{
		{"4-byte", uid4, "m-0001"},
		{"7-byte", uid7, "m-0002"},
		{"10-byte", uid10, "m-0003"},
		{"second card", uid7b, "m-0003"},
	}
	for _, tt := range cards {
		t.Run("card/"+tt.name, func(t *testing.T) {
			m, err := s.MemberByCard(tt.uid)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, byID[tt.want]) {
				t.Errorf("MemberByCard(% x) = %+v, want %+v", tt.uid, m, byID[tt.want])
			}
		})
	}

	barcodes := []struct {
		code  string
		want  string
		class edge.ScanClass
	}{
		{"2900000000017", "m-0001", edge.ScanLoyalty},
		{"LST-7F3A9C21", "m-0001", edge.ScanList},
		{"2900000000024", "m-0002", edge.ScanLoyalty},
		{"LST-0B55D1E8", "m-0002", edge.ScanList},
		{"2900000000031", "m-0003", edge.ScanLoyalty},
	}
	for _, tt := range barcodes {
		t.Run("barcode/"+tt.code, func(t *testing.T) {
			m, class, err := s.MemberByBarcode(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if m.ID != tt.want || class != tt.class {
				t.Errorf("MemberByBarcode(%s) = %s, %q; want %s, %q", tt.code, m.ID, class, tt.want, tt.class)
			}
			if !reflect.DeepEqual(m, byID[tt.want]) {
				t.Errorf("member = %+v, want %+v", m, byID[tt.want])
			}
		})
	}

	for id, want := range byID {
		t.Run("id/"+id, func(t *testing.T) {
			m, err := s.Member(id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("Member(%s) = %+v, want %+v", id, m, want)
			}
		})
	}

	unknown := []struct {
		name string
		get  func() error
	}{
		{"card", func() error { _, err := s.MemberByCard([]byte{0xde, 0xad, 0xbe, 0xee}); return err }},
		{"card prefix", func() error { _, err := s.MemberByCard(uid7[:4]); return err }},
		{"empty card", func() error { _, err := s.MemberByCard(nil); return err }},
		{"barcode", func() error { _, _, err := s.MemberByBarcode("2900000000048"); return err }},
		// A card UID written as text is not a barcode of the member.
		{"uid as barcode", func() error { _, _, err := s.MemberByBarcode(string(uid4)); return err }},
		{"id", func() error { _, err := s.Member("m-9999"); return err }},
	}
	for _, tt := range unknown {
		t.Run("unknown/"+tt.name, func(t *testing.T) {
			err := tt.get()
			if !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("err = %v, want edge.ErrNotFound", err)
			}
		})
	}

	assertCount(t, s, store.Counts{Members: 3, Cards: 4, Barcodes: 5})
}

func assertCount(t *testing.T, s *store.Store, want store.Counts) {
	t.Helper()
	got, err := s.Count()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Count() = %+v, want %+v", got, want)
	}
}

// resolvesTo checks that a card resolves to member id, or to nothing when
// id is "".
func resolvesTo(t *testing.T, s *store.Store, uid []byte, id string) {
	t.Helper()
	m, err := s.MemberByCard(uid)
	switch {
	case id == "" && !errors.Is(err, edge.ErrNotFound):
		t.Errorf("card % x: got %q, %v; want ErrNotFound", uid, m.ID, err)
	case id != "" && (err != nil || m.ID != id):
		t.Errorf("card % x: got %q, %v; want %s", uid, m.ID, err, id)
	}
}

func barcodeResolvesTo(t *testing.T, s *store.Store, code, id string, class edge.ScanClass) {
	t.Helper()
	m, c, err := s.MemberByBarcode(code)
	switch {
	case id == "" && !errors.Is(err, edge.ErrNotFound):
		t.Errorf("barcode %s: got %q, %v; want ErrNotFound", code, m.ID, err)
	case id != "" && (err != nil || m.ID != id || c != class):
		t.Errorf("barcode %s: got %q, %q, %v; want %s, %q", code, m.ID, c, err, id, class)
	}
}

func rec(id string, cards [][]byte, loyalty, list string) edge.MemberRecord {
	return edge.MemberRecord{Member: edge.Member{ID: id}, Cards: cards, Loyalty: loyalty, List: list}
}

func TestUpdateMember(t *testing.T) {
	t.Run("new card replaces old", func(t *testing.T) {
		s, _, _ := newStore(t)
		if err := s.PutMembers([]edge.MemberRecord{rec("a", [][]byte{uid4}, "L-1", "S-1")}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutMembers([]edge.MemberRecord{rec("a", [][]byte{uid7}, "L-2", "")}); err != nil {
			t.Fatal(err)
		}
		resolvesTo(t, s, uid4, "")
		resolvesTo(t, s, uid7, "a")
		barcodeResolvesTo(t, s, "L-1", "", "")
		barcodeResolvesTo(t, s, "S-1", "", "")
		barcodeResolvesTo(t, s, "L-2", "a", edge.ScanLoyalty)
		assertCount(t, s, store.Counts{Members: 1, Cards: 1, Barcodes: 1})
	})

	t.Run("card moved to another member", func(t *testing.T) {
		s, _, _ := newStore(t)
		err := s.PutMembers([]edge.MemberRecord{
			rec("a", [][]byte{uid4, uid10}, "L-1", ""),
			rec("b", [][]byte{uid7}, "", ""),
		})
		if err != nil {
			t.Fatal(err)
		}
		// b takes a's card uid4 and a's loyalty code as its list code.
		if err := s.PutMembers([]edge.MemberRecord{rec("b", [][]byte{uid7, uid4}, "", "L-1")}); err != nil {
			t.Fatal(err)
		}
		resolvesTo(t, s, uid4, "b")
		resolvesTo(t, s, uid10, "a")
		barcodeResolvesTo(t, s, "L-1", "b", edge.ScanList)

		// a is still listed as the old holder; updating it must not take
		// the moved identifiers back or remove them.
		if err := s.PutMembers([]edge.MemberRecord{rec("a", [][]byte{uid10}, "L-9", "")}); err != nil {
			t.Fatal(err)
		}
		resolvesTo(t, s, uid4, "b")
		barcodeResolvesTo(t, s, "L-1", "b", edge.ScanList)

		if err := s.DeleteMember("a"); err != nil {
			t.Fatal(err)
		}
		resolvesTo(t, s, uid4, "b")
		resolvesTo(t, s, uid7, "b")
		resolvesTo(t, s, uid10, "")
		barcodeResolvesTo(t, s, "L-1", "b", edge.ScanList)
		barcodeResolvesTo(t, s, "L-9", "", "")
		assertCount(t, s, store.Counts{Members: 1, Cards: 2, Barcodes: 1})
	})

	t.Run("card moved within one batch", func(t *testing.T) {
		s, _, _ := newStore(t)
		err := s.PutMembers([]edge.MemberRecord{
			rec("a", [][]byte{uid4}, "", ""),
			rec("b", [][]byte{uid4}, "", ""),
		})
		if err != nil {
			t.Fatal(err)
		}
		resolvesTo(t, s, uid4, "b")
		if err := s.DeleteMember("a"); err != nil {
			t.Fatal(err)
		}
		resolvesTo(t, s, uid4, "b")
	})

	t.Run("fields replaced", func(t *testing.T) {
		s, _, _ := newStore(t)
		r := rec("a", [][]byte{uid4}, "", "")
		r.Member.Tier, r.Member.Affinity = "bronze", map[string]float64{"wine": 1}
		if err := s.PutMembers([]edge.MemberRecord{r}); err != nil {
			t.Fatal(err)
		}
		r.Member.Tier, r.Member.Affinity = "gold", nil
		if err := s.PutMembers([]edge.MemberRecord{r}); err != nil {
			t.Fatal(err)
		}
		m, err := s.MemberByCard(uid4)
		if err != nil {
			t.Fatal(err)
		}
		if m.Tier != "gold" || m.Affinity != nil {
			t.Errorf("member = %+v, want tier gold and no affinity", m)
		}
	})
}

func TestPutMembersAtomic(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.PutMembers(nil); err != nil {
		t.Errorf("PutMembers(nil) = %v", err)
	}
	err := s.PutMembers([]edge.MemberRecord{
		rec("a", [][]byte{uid4}, "L-1", ""),
		rec("", [][]byte{uid7}, "", ""),
	})
	if err == nil {
		t.Fatal("PutMembers with a member without id succeeded")
	}
	// The whole batch is one transaction: a is not there either.
	resolvesTo(t, s, uid4, "")
	barcodeResolvesTo(t, s, "L-1", "", "")
	assertCount(t, s, store.Counts{})
}

func TestDeleteMember(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.PutMembers(members()); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMember("m-0003"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Member("m-0003"); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("Member after delete: %v, want ErrNotFound", err)
	}
	resolvesTo(t, s, uid10, "")
	resolvesTo(t, s, uid7b, "")
	barcodeResolvesTo(t, s, "2900000000031", "", "")
	// The others are untouched.
	resolvesTo(t, s, uid4, "m-0001")
	resolvesTo(t, s, uid7, "m-0002")
	barcodeResolvesTo(t, s, "LST-7F3A9C21", "m-0001", edge.ScanList)
	assertCount(t, s, store.Counts{Members: 2, Cards: 2, Barcodes: 4})

	for _, id := range []string{"m-0003", "m-9999", ""} {
		if err := s.DeleteMember(id); err != nil {
			t.Errorf("DeleteMember(%q) = %v, want nil", id, err)
		}
	}
	assertCount(t, s, store.Counts{Members: 2, Cards: 2, Barcodes: 4})
}

func TestPseudonyms(t *testing.T) {
	s, _, _ := newStore(t)
	otherKey := bytes.Repeat([]byte{0x5a}, store.MinKeyLen)
	other, err := store.Open(openDB(t, filepath.Join(t.TempDir(), "other.db")), otherKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		a, b  []byte
		equal bool
	}{
		{"same UID, same key", s.CardPseudonym(uid7), s.CardPseudonym(bytes.Clone(uid7)), true},
		{"same barcode, same key", s.BarcodePseudonym("2900000000017"), s.BarcodePseudonym("2900000000017"), true},
		{"different UIDs", s.CardPseudonym(uid4), s.CardPseudonym([]byte{0xde, 0xad, 0xbe, 0xee}), false},
		{"UID prefix", s.CardPseudonym(uid7), s.CardPseudonym(uid7[:4]), false},
		{"different store key", s.CardPseudonym(uid7), other.CardPseudonym(uid7), false},
		{"different store key, barcode", s.BarcodePseudonym("2900000000017"), other.BarcodePseudonym("2900000000017"), false},
		{"card vs barcode, same bytes", s.CardPseudonym(uid4), s.BarcodePseudonym(string(uid4)), false},
		{"card vs barcode, text", s.CardPseudonym([]byte("2900000000017")), s.BarcodePseudonym("2900000000017"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.a) != 16 || len(tt.b) != 16 {
				t.Fatalf("pseudonyms are %d and %d bytes, want 16", len(tt.a), len(tt.b))
			}
			if got := bytes.Equal(tt.a, tt.b); got != tt.equal {
				t.Errorf("equal = %v, want %v (%x, %x)", got, tt.equal, tt.a, tt.b)
			}
		})
	}

	// The construction is part of the file format: a gateway upgraded in
	// place must still find the cards it stored.
	t.Run("HMAC-SHA-256 of domain and value, 128 bits", func(t *testing.T) {
		want := func(domain byte, v []byte) []byte {
			m := hmac.New(sha256.New, testKey)
			m.Write([]byte{domain})
			m.Write(v)
			return m.Sum(nil)[:16]
		}
		if got := s.CardPseudonym(uid7); !bytes.Equal(got, want('c', uid7)) {
			t.Errorf("CardPseudonym = %x, want %x", got, want('c', uid7))
		}
		if got := s.BarcodePseudonym("LST-1"); !bytes.Equal(got, want('b', []byte("LST-1"))) {
			t.Errorf("BarcodePseudonym = %x, want %x", got, want('b', []byte("LST-1")))
		}
	})

	t.Run("key is copied", func(t *testing.T) {
		key := bytes.Clone(testKey)
		s2, err := store.Open(openDB(t, filepath.Join(t.TempDir(), "copy.db")), key)
		if err != nil {
			t.Fatal(err)
		}
		before := s2.CardPseudonym(uid4)
		clear(key)
		if after := s2.CardPseudonym(uid4); !bytes.Equal(before, after) {
			t.Error("changing the caller's key slice changed the pseudonyms")
		}
		if !bytes.Equal(before, s.CardPseudonym(uid4)) {
			t.Error("same key, different pseudonym across stores")
		}
	})

	t.Run("key length", func(t *testing.T) {
		db := openDB(t, filepath.Join(t.TempDir(), "keys.db"))
		for _, n := range []int{0, 1, store.MinKeyLen - 1, store.MinKeyLen, 32} {
			_, err := store.Open(db, bytes.Repeat([]byte{1}, n))
			if ok := n >= store.MinKeyLen; (err == nil) != ok {
				t.Errorf("Open with a %d-byte key: err = %v, want accepted=%v", n, err, ok)
			}
		}
	})
}

// TestNoRawIdentifiersOnDisk scans the closed bbolt file for every card UID
// and barcode, in every form they might have been written in.
func TestNoRawIdentifiersOnDisk(t *testing.T) {
	s, db, path := newStore(t)
	recs := members()
	// An identifier that was replaced must not linger either.
	replaced := rec("m-0004", [][]byte{{0x1c, 0xe0, 0x7a, 0x93}}, "2900000000055", "LST-DEADB0A7")
	if err := s.PutMembers(append(recs, replaced)); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, rec("m-0004", [][]byte{{0x2f, 0x91, 0xc4, 0x06, 0xb8, 0x3d, 0x55}}, "2900000000062", ""))
	if err := s.PutMembers(recs[3:]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMember("m-0002"); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, replaced)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	for _, r := range recs {
		if r.Member.ID != "m-0002" && !bytes.Contains(file, []byte(`"id":"`+r.Member.ID+`"`)) {
			t.Errorf("member id %s not found in the file: the scan does not see what is stored", r.Member.ID)
		}
		for _, uid := range r.Cards {
			forms := map[string][]byte{
				"raw":       uid,
				"lower hex": []byte(hex.EncodeToString(uid)),
				"upper hex": []byte(strings.ToUpper(hex.EncodeToString(uid))),
				"spaced":    []byte(fmt.Sprintf("% x", uid)),
				"colons":    []byte(strings.ReplaceAll(fmt.Sprintf("% X", uid), " ", ":")),
			}
			for form, b := range forms {
				if bytes.Contains(file, b) {
					t.Errorf("card UID of %s found in the file as %s (%q)", r.Member.ID, form, b)
				}
			}
		}
		for _, code := range []string{r.Loyalty, r.List} {
			if code != "" && bytes.Contains(file, []byte(code)) {
				t.Errorf("barcode %s of %s found in the file", code, r.Member.ID)
			}
		}
	}
	// The scan sees PII that is meant to be cached (the sanity check above
	// covers ids; this one covers a field inside the JSON).
	if !bytes.Contains(file, []byte("Camille")) {
		t.Error("first name of m-0001 not found: the scan does not read the member values")
	}
}

func TestOffers(t *testing.T) {
	s, _, _ := newStore(t)
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	offers := []edge.Offer{
		{ID: "o-3", Title: "Cheese", Channels: []edge.Channel{edge.ChannelCheckout}, ValidFrom: from, ValidTo: from.AddDate(0, 1, 0), DiscountPct: 15},
		{ID: "o-1", Title: "Wine", Body: "Two for one", Channels: []edge.Channel{edge.ChannelCheckout, edge.ChannelSignage}, Segments: []string{"foodies"},
			Stages: []edge.Stage{edge.StageActive}, Categories: []string{"wine"}, ValidFrom: from, ValidTo: from.AddDate(0, 0, 7), DiscountPct: 50, CapPerMember: 1},
		{ID: "o-2", Title: "Bread", Channels: []edge.Channel{edge.ChannelSignage}, ValidFrom: from, ValidTo: from.AddDate(0, 0, 1)},
	}
	v0 := s.OffersVersion()
	if err := s.PutOffers(offers); err != nil {
		t.Fatal(err)
	}
	v1 := s.OffersVersion()
	if v1 == v0 {
		t.Error("OffersVersion unchanged by PutOffers")
	}
	got, err := s.Offers()
	if err != nil {
		t.Fatal(err)
	}
	want := []edge.Offer{offers[1], offers[2], offers[0]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Offers() =\n%+v\nwant, ordered by id,\n%+v", got, want)
	}
	assertCount(t, s, store.Counts{Offers: 3})

	// Replacing by id, and a failing batch that changes nothing.
	changed := offers[2]
	changed.Title = "Baguette"
	if err := s.PutOffers([]edge.Offer{changed}); err != nil {
		t.Fatal(err)
	}
	v2 := s.OffersVersion()
	if v2 == v1 {
		t.Error("OffersVersion unchanged by replacing an offer")
	}
	if err := s.PutOffers([]edge.Offer{{ID: "o-4", Title: "New"}, {Title: "no id"}}); err == nil {
		t.Error("PutOffers with an offer without id succeeded")
	}
	if err := s.PutOffers(nil); err != nil {
		t.Errorf("PutOffers(nil) = %v", err)
	}
	if v := s.OffersVersion(); v != v2 {
		t.Errorf("OffersVersion changed from %d to %d though no offer changed", v2, v)
	}
	got, err = s.Offers()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Title != "Baguette" {
		t.Errorf("after replace and failed batch: %+v, want 3 offers with o-2 titled Baguette", got)
	}

	if err := s.DeleteOffer("o-1"); err != nil {
		t.Fatal(err)
	}
	if v := s.OffersVersion(); v == v2 {
		t.Error("OffersVersion unchanged by DeleteOffer")
	}
	if err := s.DeleteOffer("o-404"); err != nil {
		t.Errorf("DeleteOffer of an unknown id = %v, want nil", err)
	}
	got, err = s.Offers()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "o-2" || got[1].ID != "o-3" {
		t.Errorf("after delete: %+v, want o-2, o-3", got)
	}
	assertCount(t, s, store.Counts{Offers: 2})
}

func TestEmpty(t *testing.T) {
	s, _, _ := newStore(t)
	got, err := s.Offers()
	if err != nil || len(got) != 0 {
		t.Errorf("Offers() on an empty store = %v, %v", got, err)
	}
	assertCount(t, s, store.Counts{})
}

// TestConcurrent resolves cards from several goroutines while one writer
// keeps updating the same members. Every update is one transaction, so a
// reader must never miss a card that exists before and after it.
func TestConcurrent(t *testing.T) {
	s, _, _ := newStore(t)
	const n = 50
	uid := func(i int) []byte { return []byte{0x04, 0x10, byte(i), 0x77} }
	spare := func(i int) []byte { return []byte{0x04, 0x20, byte(i), 0x77, 0x01, 0x02, 0x03} }
	batch := func(round int) []edge.MemberRecord {
		recs := make([]edge.MemberRecord, n)
		for i := range recs {
			r := rec(fmt.Sprintf("m-%03d", i), [][]byte{uid(i)}, fmt.Sprintf("L-%03d", i), "")
			r.Member.Tier = fmt.Sprint(round)
			if round%2 == 1 {
				r.Cards = append(r.Cards, spare(i)) // added and removed every other round
			}
			recs[i] = r
		}
		return recs
	}
	if err := s.PutMembers(batch(0)); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				i := (k + r*13) % n
				m, err := s.MemberByCard(uid(i))
				if err != nil || m.ID != fmt.Sprintf("m-%03d", i) {
					errs <- fmt.Errorf("reader %d: card %d resolved to %q, %v", r, i, m.ID, err)
					return
				}
				if _, class, err := s.MemberByBarcode(fmt.Sprintf("L-%03d", i)); err != nil || class != edge.ScanLoyalty {
					errs <- fmt.Errorf("reader %d: barcode %d: %q, %v", r, i, class, err)
					return
				}
				if _, err := s.MemberByCard(spare(i)); err != nil && !errors.Is(err, edge.ErrNotFound) {
					errs <- fmt.Errorf("reader %d: spare card %d: %v", r, i, err)
					return
				}
			}
		})
	}
	for round := 1; round <= 40; round++ {
		if err := s.PutMembers(batch(round)); err != nil {
			t.Error(err)
			break
		}
		if round%10 == 0 {
			if err := s.PutOffers([]edge.Offer{{ID: fmt.Sprint(round), Title: "o"}}); err != nil {
				t.Error(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	m, err := s.MemberByCard(uid(7))
	if err != nil || m.Tier != "40" {
		t.Errorf("after the writer: member %+v, %v; want tier 40", m, err)
	}
	assertCount(t, s, store.Counts{Members: n, Cards: n, Barcodes: n, Offers: 4})
}

func TestReopen(t *testing.T) {
	s, db, path := newStore(t)
	if err := s.PutMembers(members()); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOffers([]edge.Offer{{ID: "o-1", Title: "Wine"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, path)
	s, err := store.Open(db, bytes.Clone(testKey))
	if err != nil {
		t.Fatal(err)
	}
	resolvesTo(t, s, uid4, "m-0001")
	resolvesTo(t, s, uid7, "m-0002")
	resolvesTo(t, s, uid10, "m-0003")
	barcodeResolvesTo(t, s, "LST-0B55D1E8", "m-0002", edge.ScanList)
	m, err := s.Member("m-0001")
	if err != nil || !reflect.DeepEqual(m, members()[0].Member) {
		t.Errorf("Member(m-0001) after reopen = %+v, %v", m, err)
	}
	if o, err := s.Offers(); err != nil || len(o) != 1 || o[0].Title != "Wine" {
		t.Errorf("Offers after reopen = %+v, %v", o, err)
	}
	assertCount(t, s, store.Counts{Members: 3, Cards: 4, Barcodes: 5, Offers: 1})

	// With another key the same file recognises nobody: the pseudonyms
	// really depend on the key.
	other, err := store.Open(db, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	resolvesTo(t, other, uid4, "")
	if _, _, err := other.MemberByBarcode("2900000000017"); !errors.Is(err, edge.ErrNotFound) {
		t.Errorf("barcode with another key: %v, want ErrNotFound", err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := store.Open(ro, testKey); err == nil {
		t.Error("Open on a read-only database without buckets succeeded")
	}
}
