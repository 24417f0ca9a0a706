package hq

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Change log layout (see BoltChangeLog):
//
//	hq.changelog/
//	  format → "1"
//	  tenants/
//	    <tenant>/
//	      head   → uint64: the latest version (0: none)
//	      oldest → uint64: the oldest version kept (0: none)
//	      at     → RFC 3339 time of the latest Append
//	      changes/  <version> → Change JSON without its version
//	      members/  <member id> → MemberChange JSON: the current members
//	      offers/   <offer id> → edge.Offer JSON: the current offers
//	      upserts/  <member id> 0x00 <version> → "": the member.upsert
//	                changes still kept, per member, for erasure
var (
	bucketChangeLog = []byte("hq.changelog")
	bucketTenants   = []byte("tenants")
	bucketChanges   = []byte("changes")
	bucketMembers   = []byte("members")
	bucketOffers    = []byte("offers")
	bucketUpserts   = []byte("upserts")
	keyHead         = []byte("head")
	keyOldest       = []byte("oldest")
	keyAt           = []byte("at")
)

// DefaultRetention is how many changes a BoltChangeLog keeps by default.
const DefaultRetention = 100_000

// Limits of what Append accepts, so one bad import cannot make rows the
// stores cannot use.
const (
	maxChangeIDBytes = 64  // member and offer ids (the catalog's limit)
	maxRequestBytes  = 128 // erasure request ids
	maxCards         = 32
)

// ErrNotChangeLog is returned by OpenBoltChangeLog for a bbolt file that
// holds something else (a store gateway's database, for instance).
var ErrNotChangeLog = errors.New("not a redcarpet-hq change log file")

// ChangeLogOpts configures a BoltChangeLog. The zero value takes the
// defaults noted.
type ChangeLogOpts struct {
	// Retention is how many changes are kept per tenant (default
	// DefaultRetention). Older ones are compacted away by Append: Oldest
	// rises, and a store whose cursor is older gets a snapshot.
	Retention int
	// Now is the clock of Head.At; default time.Now.
	Now func() time.Time
}

// BoltChangeLog is the embedded ChangeLog: one bbolt file, either its own
// (OpenBoltChangeLog) or shared with a BoltSink (NewBoltChangeLog,
// BoltSink.ChangeLog), so the demo keeps one HQ file. It is safe for
// concurrent use.
//
// # Guarantees
//
//   - Append is one transaction: the current data, the changes and the head
//     move together, and the call returns once they are on disk.
//   - Versions are consecutive per tenant: 1, 2, 3 … Compaction removes the
//     oldest changes only, so the kept changes are always Oldest..Head with
//     no gap.
//   - Erasing a member removes it from the current data and, so that no
//     change still kept carries their data, rewrites each of their earlier
//     member.upsert changes into a member.erase without a request id (a
//     "scrubbed" change; stores delete the member there and do not
//     acknowledge it). Replaying the log still ends in the same data.
//   - Snapshot pages read the data as of their own transaction; see
//     Snapshot.
type BoltChangeLog struct {
	db        *bolt.DB
	own       bool // Close closes db
	retention uint64
	now       func() time.Time
}

var _ ChangeLog = (*BoltChangeLog)(nil)

// OpenBoltChangeLog opens or creates a change log file at path. It waits up
// to a second for another process to release the file, then fails with an
// error wrapping ErrLocked. A sink file (OpenBolt) is accepted too, but the
// two must not be opened by two handles of one process: use
// BoltSink.ChangeLog for that.
func OpenBoltChangeLog(path string, o *ChangeLogOpts) (*BoltChangeLog, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open change log %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open change log %s: %w", path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketChangeLog) != nil || tx.Bucket(bucketMeta) != nil {
			return nil
		}
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return ErrNotChangeLog
		}
		return nil
	})
	var l *BoltChangeLog
	if err == nil {
		l, err = NewBoltChangeLog(db, o)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open change log %s: %w", path, err)
	}
	l.own = true
	return l, nil
}

// NewBoltChangeLog keeps a change log in an open bbolt database, next to
// whatever else it holds (its buckets start with "hq.changelog"). Close
// does not close db.
func NewBoltChangeLog(db *bolt.DB, o *ChangeLogOpts) (*BoltChangeLog, error) {
	var opts ChangeLogOpts
	if o != nil {
		opts = *o
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketChangeLog)
		if err != nil {
			return err
		}
		if f := root.Get(keyFormat); f != nil && !bytes.Equal(f, formatV1) {
			return fmt.Errorf("change log format %q, want %q", f, formatV1)
		}
		if err := root.Put(keyFormat, formatV1); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(bucketTenants)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("change log: %w", err)
	}
	return &BoltChangeLog{db: db, retention: uint64(opts.Retention), now: opts.Now}, nil
}

// ChangeLog keeps a change log in the sink's file (see NewBoltChangeLog),
// so one HQ file holds both. Closing the sink closes both.
func (s *BoltSink) ChangeLog(o *ChangeLogOpts) (*BoltChangeLog, error) {
	return NewBoltChangeLog(s.db, o)
}

// Close closes the file when OpenBoltChangeLog opened it; otherwise it does
// nothing (the owner of the database closes it).
func (l *BoltChangeLog) Close() error {
	if l.own {
		return l.db.Close()
	}
	return nil
}

// tenantBucket returns the tenant's bucket, or nil.
func tenantBucket(tx *bolt.Tx, tenant string) *bolt.Bucket {
	root := tx.Bucket(bucketChangeLog)
	if root == nil {
		return nil
	}
	ts := root.Bucket(bucketTenants)
	if ts == nil {
		return nil
	}
	return ts.Bucket([]byte(tenant))
}

// storedChange is a change as kept: its version is the key.
type storedChange struct {
	kind    wire.ChangeKind
	id      string // member or offer id
	value   []byte // the change's JSON (without version)
	current []byte // the current-data value for an upsert
}

// Append applies changes to the tenant's data and records them with the
// next versions, in one transaction, and returns the new head. Each change
// must carry exactly the payload of its kind, with ids of 1 to 64 bytes
// without white space or control characters, and cards in hex (3 to 10
// bytes, at most 32); otherwise nothing is appended. Appending no changes
// returns the head.
func (l *BoltChangeLog) Append(ctx context.Context, tenant string, changes []wire.Change) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !validID(tenant) {
		return 0, fmt.Errorf("append: malformed tenant id %q", tenant)
	}
	if len(changes) == 0 {
		h, err := l.Head(ctx, tenant)
		return h.Version, err
	}
	// Check and marshal outside the write lock.
	recs := make([]storedChange, len(changes))
	for i := range changes {
		r, err := prepare(&changes[i])
		if err != nil {
			return 0, fmt.Errorf("append: change %d: %w", i, err)
		}
		recs[i] = r
	}
	var head uint64
	err := l.db.Update(func(tx *bolt.Tx) error {
		tb, err := tx.Bucket(bucketChangeLog).Bucket(bucketTenants).CreateBucketIfNotExists([]byte(tenant))
		if err != nil {
			return err
		}
		var bs [4]*bolt.Bucket
		for i, name := range [][]byte{bucketChanges, bucketMembers, bucketOffers, bucketUpserts} {
			if bs[i], err = tb.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		chs, members, offers, upserts := bs[0], bs[1], bs[2], bs[3]
		chs.FillPercent = 0.9 // append-only keys
		head = getU64(tb, keyHead)
		oldest := getU64(tb, keyOldest)
		if oldest == 0 {
			oldest = head + 1
		}
		for _, r := range recs {
			head++
			v := u64(head)
			if err := chs.Put(v, r.value); err != nil {
				return err
			}
			switch r.kind {
			case wire.ChangeMemberUpsert:
				if err := members.Put([]byte(r.id), r.current); err != nil {
					return err
				}
				if err := upserts.Put(upsertKey(r.id, head), nil); err != nil {
					return err
				}
			case wire.ChangeMemberErase:
				if err := members.Delete([]byte(r.id)); err != nil {
					return err
				}
				if err := scrub(chs, upserts, r.id); err != nil {
					return err
				}
			case wire.ChangeOfferUpsert:
				if err := offers.Put([]byte(r.id), r.current); err != nil {
					return err
				}
			case wire.ChangeOfferDelete:
				if err := offers.Delete([]byte(r.id)); err != nil {
					return err
				}
			}
		}
		// Compact: keep the last Retention changes. Each Append removes at
		// most a bounded number more than it adds, so lowering Retention
		// on a large log catches up over several Appends instead of one
		// huge transaction.
		budget := len(recs) + 10_000
		for ; head-oldest+1 > l.retention && budget > 0; budget-- {
			if err := compact(chs, upserts, oldest); err != nil {
				return err
			}
			oldest++
		}
		if err := tb.Put(keyHead, u64(head)); err != nil {
			return err
		}
		if err := tb.Put(keyOldest, u64(oldest)); err != nil {
			return err
		}
		return tb.Put(keyAt, []byte(l.now().UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", tenant, err)
	}
	return head, nil
}

// prepare checks a change and marshals what Append stores.
func prepare(c *wire.Change) (storedChange, error) {
	n := 0
	for _, set := range []bool{c.Member != nil, c.Erasure != nil, c.Offer != nil, c.OfferID != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return storedChange{}, fmt.Errorf("%s with %d payloads, want 1", clip(string(c.Kind), 40), n)
	}
	r := storedChange{kind: c.Kind}
	switch c.Kind {
	case wire.ChangeMemberUpsert:
		if c.Member == nil {
			return r, errors.New("member.upsert without member")
		}
		if err := checkMember(c.Member); err != nil {
			return r, err
		}
		r.id = c.Member.Member.ID
	case wire.ChangeMemberErase:
		if c.Erasure == nil {
			return r, errors.New("member.erase without erasure")
		}
		if err := checkChangeID("member id", c.Erasure.MemberID); err != nil {
			return r, err
		}
		if len(c.Erasure.RequestID) > maxRequestBytes || !utf8.ValidString(c.Erasure.RequestID) {
			return r, fmt.Errorf("request id of %d bytes: at most %d of UTF-8", len(c.Erasure.RequestID), maxRequestBytes)
		}
		r.id = c.Erasure.MemberID
	case wire.ChangeOfferUpsert:
		if c.Offer == nil {
			return r, errors.New("offer.upsert without offer")
		}
		if err := checkChangeID("offer id", c.Offer.ID); err != nil {
			return r, err
		}
		r.id = c.Offer.ID
	case wire.ChangeOfferDelete:
		if err := checkChangeID("offer id", c.OfferID); err != nil {
			return r, err
		}
		r.id = c.OfferID
	default:
		return r, fmt.Errorf("unknown kind %q", clip(string(c.Kind), 40))
	}
	stored := *c
	stored.Version = 0
	var err error
	if r.value, err = json.Marshal(&stored); err != nil {
		return r, err
	}
	switch c.Kind {
	case wire.ChangeMemberUpsert:
		r.current, err = json.Marshal(c.Member)
	case wire.ChangeOfferUpsert:
		r.current, err = json.Marshal(c.Offer)
	}
	return r, err
}

// checkChangeID applies the catalog's id rule: 1 to 64 bytes of UTF-8
// without white space or control characters.
func checkChangeID(what, s string) error {
	if s == "" || len(s) > maxChangeIDBytes || !utf8.ValidString(s) {
		return fmt.Errorf("%s of %d bytes: want 1 to %d bytes of UTF-8", what, len(s), maxChangeIDBytes)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return fmt.Errorf("%s contains white space or a control character", what)
		}
	}
	return nil
}

// checkMember checks a member change's ids and cards. It never quotes
// identifiers.
func checkMember(m *wire.MemberChange) error {
	if err := checkChangeID("member id", m.Member.ID); err != nil {
		return err
	}
	if len(m.Cards) > maxCards {
		return fmt.Errorf("%d cards, at most %d", len(m.Cards), maxCards)
	}
	for i, c := range m.Cards {
		if _, err := ParseCard(c); err != nil {
			return fmt.Errorf("card %d: %w", i+1, err)
		}
	}
	for _, b := range []string{m.Loyalty, m.List} {
		if len(b) > 128 || strings.ContainsAny(b, " \t\r\n") {
			return errors.New("barcode: at most 128 bytes without spaces")
		}
	}
	return nil
}

// ParseCard decodes a card id as MemberChange carries it: 3 to 10 bytes in
// hex (either case).
func ParseCard(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 3 || len(b) > 10 {
		return nil, errors.New("not 3 to 10 bytes of hex")
	}
	return b, nil
}

// upsertKey is the upserts index key of a member's change.
func upsertKey(id string, version uint64) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	return append(k, u64(version)...)
}

// scrub rewrites the kept member.upsert changes of member id into
// member.erase changes without a request id, and forgets them in the
// index.
func scrub(chs, upserts *bolt.Bucket, id string) error {
	prefix := append([]byte(id), 0)
	var versions [][]byte
	c := upserts.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		versions = append(versions, append([]byte(nil), k...))
	}
	if len(versions) == 0 {
		return nil
	}
	tomb, err := json.Marshal(&wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: id}})
	if err != nil {
		return err
	}
	for _, k := range versions {
		v := k[len(prefix):]
		if chs.Get(v) != nil {
			if err := chs.Put(v, tomb); err != nil {
				return err
			}
		}
		if err := upserts.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// compact removes the change at version and its upserts index entry.
func compact(chs, upserts *bolt.Bucket, version uint64) error {
	k := u64(version)
	v := chs.Get(k)
	if v == nil {
		return nil
	}
	var c struct {
		Kind   wire.ChangeKind `json:"kind"`
		Member *struct {
			Member struct {
				ID string `json:"id"`
			} `json:"member"`
		} `json:"member"`
	}
	if err := json.Unmarshal(v, &c); err == nil && c.Kind == wire.ChangeMemberUpsert && c.Member != nil {
		if err := upserts.Delete(upsertKey(c.Member.Member.ID, version)); err != nil {
			return err
		}
	}
	return chs.Delete(k)
}

// Head returns the tenant's head; a tenant with no changes has version 0.
func (l *BoltChangeLog) Head(ctx context.Context, tenant string) (wire.Head, error) {
	if err := ctx.Err(); err != nil {
		return wire.Head{}, err
	}
	var h wire.Head
	err := l.db.View(func(tx *bolt.Tx) error {
		tb := tenantBucket(tx, tenant)
		if tb == nil {
			return nil
		}
		h = readHead(tb)
		return nil
	})
	return h, err
}

func readHead(tb *bolt.Bucket) wire.Head {
	h := wire.Head{Version: getU64(tb, keyHead), Oldest: getU64(tb, keyOldest)}
	if at := tb.Get(keyAt); at != nil {
		h.At, _ = time.Parse(time.RFC3339Nano, string(at))
	}
	return h
}

// Since returns up to limit changes after version after, in version order.
// It returns ErrTooOld when changes after after were compacted away. A
// cursor at or beyond the head gets no changes.
func (l *BoltChangeLog) Since(ctx context.Context, tenant string, after uint64, limit int) ([]wire.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit = max(limit, 1)
	var out []wire.Change
	err := l.db.View(func(tx *bolt.Tx) error {
		tb := tenantBucket(tx, tenant)
		if tb == nil {
			return nil
		}
		h := readHead(tb)
		if after >= h.Version {
			return nil
		}
		if after+1 < h.Oldest {
			return ErrTooOld
		}
		c := tb.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var ch wire.Change
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("decode change %d: %w", decodeU64(k), err)
			}
			ch.Version = decodeU64(k)
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrTooOld) {
			return nil, err
		}
		return nil, fmt.Errorf("changes of %s since %d: %w", tenant, after, err)
	}
	return out, nil
}

// Snapshot cursors: "m:<member id>" continues after that member,
// "o:<offer id>" after that offer, "o:" starts the offers.
const (
	cursorMembers = "m:"
	cursorOffers  = "o:"
)

// ErrBadCursor is wrapped by Snapshot's error for a cursor it did not
// write.
var ErrBadCursor = errors.New("malformed snapshot cursor")

// Snapshot returns up to limit upserts of the current data after cursor:
// members in id order, then offers in id order, and the cursor of the next
// page ("" after the last). version is the head when the page was read:
// each page is consistent in itself, and a page read after more Appends
// reflects them (see package wire: the store replays the changes after the
// first page's version, which makes the whole consistent).
func (l *BoltChangeLog) Snapshot(ctx context.Context, tenant, cursor string, limit int) ([]wire.Change, string, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", 0, err
	}
	limit = max(limit, 1)
	var (
		section = cursorMembers
		after   []byte
	)
	switch {
	case cursor == "":
	case strings.HasPrefix(cursor, cursorMembers):
		after = []byte(cursor[len(cursorMembers):])
	case strings.HasPrefix(cursor, cursorOffers):
		section, after = cursorOffers, []byte(cursor[len(cursorOffers):])
	default:
		return nil, "", 0, fmt.Errorf("snapshot of %s: %w", tenant, ErrBadCursor)
	}
	var (
		out     []wire.Change
		next    string
		version uint64
	)
	err := l.db.View(func(tx *bolt.Tx) error {
		tb := tenantBucket(tx, tenant)
		if tb == nil {
			return nil
		}
		version = getU64(tb, keyHead)
		// seek positions c after the key after ("" or nil: the first).
		seek := func(c *bolt.Cursor) ([]byte, []byte) {
			if len(after) == 0 {
				return c.First()
			}
			k, v := c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
			return k, v
		}
		if section == cursorMembers {
			if mb := tb.Bucket(bucketMembers); mb != nil {
				c := mb.Cursor()
				for k, v := seek(c); k != nil; k, v = c.Next() {
					if len(out) >= limit {
						next = cursorMembers + string(out[len(out)-1].Member.Member.ID)
						return nil
					}
					var m wire.MemberChange
					if err := json.Unmarshal(v, &m); err != nil {
						return fmt.Errorf("decode member: %w", err)
					}
					out = append(out, wire.Change{Kind: wire.ChangeMemberUpsert, Member: &m})
				}
			}
			section, after = cursorOffers, nil
		}
		ob := tb.Bucket(bucketOffers)
		if ob == nil {
			return nil
		}
		c := ob.Cursor()
		k, v := seek(c)
		if k != nil && len(out) >= limit {
			next = cursorOffers // members filled the page exactly
			return nil
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) >= limit {
				next = cursorOffers + out[len(out)-1].Offer.ID
				return nil
			}
			var o edge.Offer
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode offer: %w", err)
			}
			out = append(out, wire.Change{Kind: wire.ChangeOfferUpsert, Offer: &o})
		}
		return nil
	})
	if err != nil {
		return nil, "", 0, fmt.Errorf("snapshot of %s: %w", tenant, err)
	}
	return out, next, version, nil
}

// Tenants returns the tenants that have a change log, in byte order.
func (l *BoltChangeLog) Tenants() ([]string, error) {
	var out []string
	err := l.db.View(func(tx *bolt.Tx) error {
		ts := tx.Bucket(bucketChangeLog).Bucket(bucketTenants)
		return ts.ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}
