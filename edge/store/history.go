package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
)

var _ edge.PurchaseHistory = (*Store)(nil)

// RecordPurchase updates a member's purchase history after a basket, so
// the next visit already reflects it: each category's cycle moves its last
// purchase to at and, when the previous purchase was at least a day
// before, folds the gap into the mean days between purchases (a running
// mean over Count purchases); each redeemed offer id adds one to the
// member's redemption count (the per-member caps). A zero at records
// redemptions only. HQ's next upsert of the member replaces all of it with
// HQ's own figures, which include the basket by then.
func (s *Store) RecordPurchase(memberID string, at time.Time, categories []string, redeemed []string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMembers)
		v := b.Get([]byte(memberID))
		if v == nil {
			return ErrNotFound
		}
		var mv memberValue
		if err := json.Unmarshal(v, &mv); err != nil {
			return fmt.Errorf("decode member %s: %w", memberID, err)
		}
		m := &mv.Member
		if !at.IsZero() {
			for _, c := range categories {
				if m.Cycles == nil {
					m.Cycles = map[string]edge.Cycle{}
				}
				m.Cycles[c] = nextCycle(m.Cycles[c], at)
			}
		}
		for _, id := range redeemed {
			if m.Redeemed == nil {
				m.Redeemed = map[string]int{}
			}
			m.Redeemed[id]++
		}
		nv, err := s.encodeMember(&mv)
		if err != nil {
			return err
		}
		return b.Put([]byte(memberID), nv)
	})
	if err != nil && err != ErrNotFound {
		return fmt.Errorf("record purchase: %w", err)
	}
	return err
}

// nextCycle folds a purchase at t into c.
func nextCycle(c edge.Cycle, t time.Time) edge.Cycle {
	if c.Last.IsZero() {
		return edge.Cycle{MeanDays: c.MeanDays, Last: t, Count: max(c.Count, 0) + 1}
	}
	gap := t.Sub(c.Last).Hours() / 24
	if gap < 1 {
		// The same day (or a clock behind): one purchase occasion.
		if t.After(c.Last) {
			c.Last = t
		}
		return c
	}
	// Count purchases make Count-1 gaps whose mean is MeanDays; a mean
	// without a count (HQ's figure alone) weighs as one gap.
	gaps := float64(max(c.Count-1, 0))
	switch {
	case c.MeanDays <= 0:
		gaps = 0
	case gaps == 0:
		gaps = 1
	}
	c.MeanDays = (c.MeanDays*gaps + gap) / (gaps + 1)
	c.Last = t
	c.Count = max(c.Count, 1) + 1
	return c
}
