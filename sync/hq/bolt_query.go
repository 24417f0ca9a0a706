package hq

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// StoreID names a store.
type StoreID struct {
	Tenant string `json:"tenant"`
	Store  string `json:"store"`
}

// String is "tenant/store".
func (s StoreID) String() string { return s.Tenant + "/" + s.Store }

// ParseStoreID reads "tenant/store", both ids of the shape configs require.
func ParseStoreID(s string) (StoreID, error) {
	t, st, ok := strings.Cut(s, "/")
	if !ok || !validID(t) || !validID(st) {
		return StoreID{}, fmt.Errorf("store %q is not tenant/store (ids of a-z, 0-9 and -)", clip(s, 140))
	}
	return StoreID{Tenant: t, Store: st}, nil
}

// DayLayout is the layout of a trading day: "2026-03-02".
const DayLayout = "2006-01-02"

// CheckDays checks that from and to are trading days (YYYY-MM-DD) with
// from not after to.
func CheckDays(from, to string) error {
	f, err := time.Parse(DayLayout, from)
	if err != nil {
		return fmt.Errorf("day %q is not YYYY-MM-DD", clip(from, 40))
	}
	t, err := time.Parse(DayLayout, to)
	if err != nil {
		return fmt.Errorf("day %q is not YYYY-MM-DD", clip(to, 40))
	}
	if f.After(t) {
		return fmt.Errorf("day %s is after %s", from, to)
	}
	return nil
}

// Stores lists the stores the sink holds events of, in tenant and store
// order.
func (s *BoltSink) Stores() ([]StoreID, error) {
	var out []StoreID
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketStores)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(k []byte) error {
			c := root.Bucket(k).Bucket(bucketCounts)
			if c == nil || getU64(c, keyEvents) == 0 {
				return nil
			}
			t, st, _ := strings.Cut(string(k), "/")
			out = append(out, StoreID{Tenant: t, Store: st})
			return nil
		})
	})
	return out, err
}

// Events calls fn with the stored events of tenant/store of the given
// kinds whose CloudEvents time is in [from, to), in time order, ties in id
// order. An event without a time never matches. It stops at fn's first
// error and returns it.
//
// The embedded sink has no index by time: Events reads every event of the
// store's kinds, keeps the matching ones in memory, and calls fn after its
// read transaction ended.
func (s *BoltSink) Events(tenant, store string, kinds []string, from, to time.Time, fn func(wire.CloudEvent) error) error {
	var out []wire.CloudEvent
	err := s.db.View(func(tx *bolt.Tx) error {
		return s.eachEvent(tx, tenant, store, kinds, func(v []byte) error {
			var head struct {
				Time time.Time `json:"time"`
			}
			if err := json.Unmarshal(v, &head); err != nil {
				return err
			}
			if head.Time.IsZero() || head.Time.Before(from) || !head.Time.Before(to) {
				return nil
			}
			var ev wire.CloudEvent
			if err := json.Unmarshal(v, &ev); err != nil { // copies out of the mmap
				return err
			}
			out = append(out, ev)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("events of %s/%s: %w", tenant, store, err)
	}
	slices.SortStableFunc(out, func(a, b wire.CloudEvent) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
	})
	for _, ev := range out {
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// Traffic calls fn with the traffic.day and traffic.interval events of
// tenant/store whose trading day (their data's "day") is in [from, to],
// days as YYYY-MM-DD: ordered by day, traffic.day before traffic.interval,
// then by time and id. It stops at fn's first error and returns it.
//
// Like Events, it reads every traffic event of the store.
func (s *BoltSink) Traffic(tenant, store, from, to string, fn func(wire.CloudEvent) error) error {
	if err := CheckDays(from, to); err != nil {
		return fmt.Errorf("traffic of %s/%s: %w", tenant, store, err)
	}
	type dayEvent struct {
		day string
		ev  wire.CloudEvent
	}
	var out []dayEvent
	kinds := []string{string(edge.KindTrafficDay), string(edge.KindTraffic)}
	err := s.db.View(func(tx *bolt.Tx) error {
		return s.eachEvent(tx, tenant, store, kinds, func(v []byte) error {
			var head struct {
				Data struct {
					Day string `json:"day"`
				} `json:"data"`
			}
			if json.Unmarshal(v, &head) != nil {
				return nil // data of another shape has no trading day
			}
			d := head.Data.Day
			if d < from || d > to {
				return nil
			}
			if _, err := time.Parse(DayLayout, d); err != nil {
				return nil // PostgreSQL refuses such an event: it has no trading day
			}
			var ev wire.CloudEvent
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			out = append(out, dayEvent{d, ev})
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("traffic of %s/%s: %w", tenant, store, err)
	}
	slices.SortStableFunc(out, func(a, b dayEvent) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(a.ev.Type, b.ev.Type),
			a.ev.Time.Compare(b.ev.Time), strings.Compare(a.ev.ID, b.ev.ID))
	})
	for _, d := range out {
		if err := fn(d.ev); err != nil {
			return err
		}
	}
	return nil
}

// eachEvent calls fn with the stored JSON of every event of tenant/store of
// the given kinds. v dies with the transaction.
func (s *BoltSink) eachEvent(tx *bolt.Tx, tenant, store string, kinds []string, fn func(v []byte) error) error {
	root := tx.Bucket(bucketEvents)
	if root == nil {
		return nil
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(kinds))) {
		kb := root.Bucket([]byte(k))
		if kb == nil {
			continue
		}
		b := kb.Bucket(storeKey(tenant, store))
		if b == nil {
			continue
		}
		if err := b.ForEach(func(_, v []byte) error { return fn(v) }); err != nil {
			return err
		}
	}
	return nil
}

// Offers returns the tenant's current offers, as the change log in the
// sink's file holds them (BoltSink.ChangeLog), in id order: none when the
// file has no change log. It works on a file opened read-only.
func (s *BoltSink) Offers(tenant string) ([]edge.Offer, error) {
	var out []edge.Offer
	err := s.db.View(func(tx *bolt.Tx) error {
		tb := tenantBucket(tx, tenant)
		if tb == nil {
			return nil
		}
		ob := tb.Bucket(bucketOffers)
		if ob == nil {
			return nil
		}
		return ob.ForEach(func(k, v []byte) error {
			var o edge.Offer
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode offer %q: %w", clip(string(k), 64), err)
			}
			out = append(out, o)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("offers of %s: %w", tenant, err)
	}
	return out, nil
}
