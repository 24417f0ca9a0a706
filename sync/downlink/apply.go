package downlink

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// pendingBatch bounds the erasures finished per outbox purge (and the
// acknowledgements appended per outbox commit).
const pendingBatch = 4096

// tally counts what one transaction applied; it is added to the stats only
// once the transaction committed.
type tally struct {
	members, offers, skipped, superseded uint64
}

func (d *Downlink) count(t tally) {
	d.stats.members.Add(t.members)
	d.stats.offers.Add(t.offers)
	d.stats.skipped.Add(t.skipped)
	d.stats.superseded.Add(t.superseded)
	d.stats.changes.Add(t.members + t.offers)
}

// applyChanges applies a page of changes after the cursor. Erasures go
// first (see erase), then every other change in version order, in short
// transactions, each of which moves the cursor to its last change.
func (d *Downlink) applyChanges(ctx context.Context, changes []wire.Change) error {
	cursor := d.cursor.Load()
	for len(changes) > 0 && changes[0].Version <= cursor {
		changes = changes[1:] // already applied
	}
	if len(changes) == 0 {
		return nil
	}
	lastErase, err := d.eraseFirst(ctx, changes)
	if err != nil {
		return err
	}
	return d.write(changes, 0, lastErase,
		func(tx *bolt.Tx, end int) error { return putCursor(tx, changes[end-1].Version) },
		func(end int) {
			d.cursor.Store(changes[end-1].Version)
			d.stats.lastApply.Store(d.o.Now().UnixNano())
		})
}

// eraseFirst carries out the page's erasures before anything else in it,
// and returns, per erased member, the version of their last erasure in the
// page.
//
// Why this is the same as applying the page in version order: an erasure
// touches only its member, so moving it before the changes of other
// members changes nothing for them. For the erased member M itself, write
// skips every upsert of M older than M's last erasure in the page (applied
// in order, the erasure would have removed it anyway) and applies every
// upsert newer than it, after the erasure, as in version order: a member
// erased and then registered again ends up present with the new data. An
// offer change never names a member. So after the page, the store holds
// exactly what version order gives, and in between no erased member can be
// recognised, even if the page takes several transactions.
func (d *Downlink) eraseFirst(ctx context.Context, changes []wire.Change) (map[string]uint64, error) {
	var (
		lastErase map[string]uint64
		erasures  []*wire.MemberErasure
	)
	for i := range changes {
		c := &changes[i]
		if c.Kind != wire.ChangeMemberErase || checkChange(c) != "" {
			continue
		}
		if lastErase == nil {
			lastErase = map[string]uint64{}
		}
		lastErase[c.Erasure.MemberID] = c.Version
		erasures = append(erasures, c.Erasure)
	}
	if len(erasures) == 0 {
		return nil, nil
	}
	return lastErase, d.erase(ctx, erasures)
}

// erase removes members and their index entries, records the erasures as
// pending in the same transactions, then finishes them (finishPending):
// the store stops recognising the members at the first commit, and a crash
// before the outbox is purged leaves the purge to the next Run.
func (d *Downlink) erase(ctx context.Context, erasures []*wire.MemberErasure) error {
	for len(erasures) > 0 {
		n := min(len(erasures), d.chunk)
		err := d.update(n, func(tx *store.Tx) error {
			for _, e := range erasures[:n] {
				if _, err := tx.DeleteMember(e.MemberID); err != nil {
					return err
				}
				if err := addPending(tx.Bolt(), e.MemberID, e.RequestID, false); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("erase members: %w", err)
		}
		d.stats.erasures.Add(uint64(n))
		erasures = erasures[n:]
		d.yield()
	}
	return d.finishPending(ctx)
}

// finishPending purges the outbox of every not-yet-sent event naming a
// member with a pending erasure, appends a member.erased acknowledgement
// for each erasure that has a request id (a scrubbed change or a snapshot
// sweep has none), and forgets them. Events purged at a scrubbed change
// are carried over to the acknowledgement of the erasure request that
// follows it in the log, so its count covers every event the store
// removed for the member. A crash in between repeats the purge (harmless)
// and possibly the acknowledgement (HQ keys it by request id).
func (d *Downlink) finishPending(ctx context.Context) error {
	for ctx.Err() == nil {
		batch, err := readPending(d.db, pendingBatch)
		if err != nil || len(batch) == 0 {
			return err
		}
		named := make(map[string]int, len(batch))
		ids := make([]string, 0, len(batch))
		for _, e := range batch {
			named[e.member] = 0
			ids = append(ids, e.member)
		}
		if d.o.OnErase != nil {
			d.o.OnErase(ids) // before the purge: nothing new names them after it
		}
		n, err := d.ob.Purge(func(e edge.Event) bool {
			id := e.Member()
			if _, ok := named[id]; ok && id != "" {
				named[id]++
				return true
			}
			return false
		})
		if err != nil {
			return err
		}
		d.stats.purged.Add(uint64(n))
		carry, err := carried(d.db, named)
		if err != nil {
			return err
		}
		var acks []edge.Event
		now := d.o.Now()
		for _, e := range batch {
			if e.request == "" {
				continue
			}
			acks = append(acks, edge.Event{Kind: edge.KindErased, Source: "downlink", Time: now,
				Erased: &edge.Erased{MemberID: e.member, RequestID: e.request, Events: named[e.member] + carry[e.member]}})
		}
		if len(acks) > 0 {
			if err := d.ob.Append(acks); err != nil {
				return fmt.Errorf("acknowledge erasures: %w", err)
			}
			d.stats.acks.Add(uint64(len(acks)))
		}
		if err := dropPending(d.db, batch, named); err != nil {
			return err
		}
		if len(batch) < pendingBatch {
			return nil
		}
	}
	return ctx.Err()
}

// update runs fn in one store transaction of n changes and sizes the next
// ones from how long it held bbolt's writer.
//
// A commit costs a fixed part (the fsyncs, which every writer pays, the
// engine's outbox commits too) and a part that grows with the pages the
// changes dirtied. update tracks the fixed part as the lowest commit time
// of small transactions (rising slowly, should the disk become slower),
// and adapt keeps
// the rest under TxHold: the changes per transaction are halved after a
// transaction that held the writer longer than that beyond the fixed
// part, and grown by a quarter after one that stayed under half of it.
// So an outbox commit waits at most about one fsync plus TxHold for the
// downlink, on a fast disk as on an SD card.
func (d *Downlink) update(n int, fn func(tx *store.Tx) error) error {
	var start, applied time.Time
	err := d.st.Update(func(tx *store.Tx) error {
		start = time.Now()
		err := fn(tx)
		applied = time.Now()
		return err
	})
	if err != nil || start.IsZero() {
		return err
	}
	end := time.Now()
	// Only small transactions measure the fixed part: a large one's commit
	// also flushes the pages it dirtied, which is exactly what must stay
	// under TxHold, so letting it raise the estimate would let the
	// transactions grow without bound.
	if commit := end.Sub(applied); n <= 4 {
		switch {
		case d.fixed == 0 || commit < d.fixed:
			d.fixed = commit
		default:
			d.fixed += (commit - d.fixed) / 64
		}
	}
	d.adapt(n, end.Sub(start)-d.fixed)
	return nil
}

// adapt sizes the next transactions after one of n changes that held the
// writer for extra beyond the fixed cost of a commit.
func (d *Downlink) adapt(n int, extra time.Duration) {
	switch {
	case extra > d.o.TxHold:
		d.chunk = max(1, min(d.chunk, n)/2)
	case extra < d.o.TxHold/2 && n >= d.chunk:
		d.chunk = min(d.o.TxChanges, d.chunk+d.chunk/4+1)
	}
	d.stats.chunk.Store(int64(d.chunk))
}

// write applies changes in transactions sized by adapt, each also closed
// once its changes took half of TxHold to apply, so the single bbolt
// writer (which the engine's outbox commits wait for) is never held long.
// commit runs last in each transaction with the index after its last
// change; committed runs after each commit.
func (d *Downlink) write(changes []wire.Change, gen uint64, lastErase map[string]uint64,
	commit func(tx *bolt.Tx, end int) error, committed func(end int)) error {
	for i := 0; i < len(changes); {
		var (
			n int
			t tally
		)
		size := min(d.chunk, len(changes)-i)
		err := d.update(size, func(tx *store.Tx) error {
			n, t = 0, tally{}
			start := time.Now()
			for n < size && (n == 0 || time.Since(start) < d.o.TxHold/2) {
				if err := d.apply(tx, &changes[i+n], gen, lastErase, &t); err != nil {
					return err
				}
				n++
			}
			return commit(tx.Bolt(), i+n)
		})
		if err != nil {
			return fmt.Errorf("apply changes: %w", err)
		}
		d.stats.txs.Add(1)
		d.count(t)
		i += n
		committed(i)
		d.yield()
	}
	return nil
}

// yield lets a writer that queued for bbolt's lock during the downlink's
// transaction (the engine's outbox commit) have it before the next one:
// the waiter was woken by the unlock, but without a pause the downlink,
// still running, would usually take the lock again first and make it
// wait a second transaction.
func (d *Downlink) yield() {
	if d.o.TxPause > 0 {
		time.Sleep(d.o.TxPause)
	}
}

// apply applies one change in tx. Erasures were applied before (eraseFirst)
// and are skipped here.
func (d *Downlink) apply(tx *store.Tx, c *wire.Change, gen uint64, lastErase map[string]uint64, t *tally) error {
	if why := checkChange(c); why != "" {
		t.skipped++
		d.log.Warn("change skipped", "version", c.Version, "kind", clip(string(c.Kind), 40), "reason", why)
		return nil
	}
	switch c.Kind {
	case wire.ChangeMemberUpsert:
		if e, ok := lastErase[c.Member.Member.ID]; ok && e > c.Version {
			t.superseded++ // erased later in the page
			return nil
		}
		r := record(c.Member)
		if err := tx.PutMember(&r, gen); err != nil {
			return err
		}
		t.members++
	case wire.ChangeOfferUpsert:
		if err := tx.PutOffer(c.Offer, gen); err != nil {
			return err
		}
		t.offers++
	case wire.ChangeOfferDelete:
		if err := tx.DeleteOffer(c.OfferID); err != nil {
			return err
		}
		t.offers++
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// applySnapshotPage applies a page of a snapshot: a new snapshot when it is
// HQ's answer to "since cursor" (or HQ restarted the one in progress),
// else the next page of the current one. Every member and offer in it is
// marked with the snapshot's generation; the progress (HQ's cursor of the
// next page) moves in the transaction of the page's last change. After the
// last page, sweep completes the snapshot.
func (d *Downlink) applySnapshotPage(ctx context.Context, p *wire.ChangePage) error {
	sp := p.Snapshot
	if d.snap == nil || d.snap.ID != sp.ID || d.snap.Phase != phasePages {
		fresh := &progress{ID: sp.ID, Version: sp.Version, Phase: phasePages}
		err := d.db.Update(func(tx *bolt.Tx) error {
			g, err := nextGen(tx)
			if err != nil {
				return err
			}
			fresh.Gen = g
			return putProgress(tx, fresh)
		})
		if err != nil {
			return fmt.Errorf("start snapshot: %w", err)
		}
		d.setSnap(fresh)
		d.stats.snapshots.Add(1)
		d.log.Info("snapshot started", "version", sp.Version, "cursor", d.cursor.Load())
	}
	next := *d.snap
	next.Next = sp.Next
	next.Pages++
	if sp.Next == "" {
		next.Phase, next.From = phaseSweep, ""
	}
	// A snapshot holds no erasures; should one come, it goes first as in
	// a page of changes.
	lastErase, err := d.eraseFirst(ctx, p.Changes)
	if err != nil {
		return err
	}
	commit := func(tx *bolt.Tx, end int) error {
		if end < len(p.Changes) {
			return nil
		}
		return putProgress(tx, &next)
	}
	if len(p.Changes) == 0 {
		err = d.db.Update(func(tx *bolt.Tx) error { return commit(tx, 0) })
	} else {
		err = d.write(p.Changes, d.snap.Gen, lastErase, commit, func(int) {})
	}
	if err != nil {
		return err
	}
	d.setSnap(&next)
	d.stats.pages.Add(1)
	if next.Phase == phaseSweep {
		return d.sweep(ctx)
	}
	return nil
}

// sweep completes a snapshot whose pages are all applied: it deletes, in
// short transactions, the members and offers the snapshot did not mark
// (recording the swept members as pending erasures without a request id,
// so their queued events are purged too), then sets the cursor to the
// snapshot's version. It resumes where it stopped.
func (d *Downlink) sweep(ctx context.Context) error {
	for d.snap.Phase == phaseSweep {
		if err := ctx.Err(); err != nil {
			return err
		}
		next := *d.snap
		var swept int
		opts := store.Sweep{MaxScan: 2048, MaxDelete: d.chunk}
		err := d.update(d.chunk, func(tx *store.Tx) error {
			deleted, from, err := tx.SweepMembers(next.Gen, next.From, opts)
			if err != nil {
				return err
			}
			for _, id := range deleted {
				if err := addPending(tx.Bolt(), id, "", true); err != nil {
					return err
				}
			}
			swept = len(deleted)
			next.From = from
			if from == "" {
				next.Phase = phaseOffers
			}
			return putProgress(tx.Bolt(), &next)
		})
		if err != nil {
			return fmt.Errorf("sweep members: %w", err)
		}
		d.stats.swept.Add(uint64(swept))
		d.setSnap(&next)
		d.yield()
	}
	for more := true; more; {
		if err := ctx.Err(); err != nil {
			return err
		}
		var n int
		err := d.st.Update(func(tx *store.Tx) error {
			var err error
			n, more, err = tx.SweepOffers(d.snap.Gen, store.Sweep{MaxDelete: d.chunk})
			return err
		})
		if err != nil {
			return fmt.Errorf("sweep offers: %w", err)
		}
		d.stats.offers.Add(uint64(n))
	}
	version := d.snap.Version
	err := d.db.Update(func(tx *bolt.Tx) error {
		if err := putCursor(tx, version); err != nil {
			return err
		}
		return putProgress(tx, nil)
	})
	if err != nil {
		return fmt.Errorf("complete snapshot: %w", err)
	}
	d.cursor.Store(version)
	d.setSnap(nil)
	d.stats.snapshotsDone.Add(1)
	d.stats.lastApply.Store(d.o.Now().UnixNano())
	d.log.Info("snapshot complete", "version", version, "swept", d.stats.swept.Load())
	return d.finishPending(ctx)
}
