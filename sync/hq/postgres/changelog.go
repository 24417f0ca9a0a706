package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// ChangeLog is the PostgreSQL hq.ChangeLog: tables change_heads, changes,
// members and offers (doc.go). It is safe for concurrent use, also by
// several processes: appends to one tenant serialize on its head row. Get
// it from Open.
type ChangeLog struct {
	db     *DB
	retain int
}

var _ hq.ChangeLog = (*ChangeLog)(nil)

// ErrInvalidChange is wrapped by Append's error for a change that is not
// well formed: an unknown kind, not exactly its kind's payload, an empty
// member or offer id, or text PostgreSQL cannot store (NUL, invalid UTF-8).
// Nothing of such a call is applied.
var ErrInvalidChange = errors.New("invalid change")

// ErrBadCursor is wrapped by Snapshot's error for a cursor it did not make.
var ErrBadCursor = errors.New("malformed snapshot cursor")

// appendPlan is an Append call checked and encoded before its transaction.
type appendPlan struct {
	kinds, payloads, memberOf []string // per change; memberOf "" for offers

	// The erasures of the call, whose member's earlier upserts are scrubbed.
	erasedIDs     []string
	erasedOffsets []int64

	// The resulting current data: the last change to each id wins.
	memberIDs, memberPayloads []string
	memberVersions            []int64 // offset into the call; the head is added
	erased                    []string
	offerIDs, offerPayloads   []string
	offerVersions             []int64
	deleted                   []string
}

func planAppend(changes []wire.Change) (*appendPlan, error) {
	p := &appendPlan{}
	type last struct {
		i      int
		upsert bool
	}
	members, offers := map[string]last{}, map[string]last{}
	for i := range changes {
		ch := changes[i]
		ch.Version = 0
		id, err := checkChange(&ch)
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		b, err := json.Marshal(ch)
		if err == nil {
			err = checkJSONB(b)
		}
		if err != nil {
			return nil, fmt.Errorf("change %d: %w: %v", i, ErrInvalidChange, err)
		}
		p.kinds, p.payloads = append(p.kinds, string(ch.Kind)), append(p.payloads, string(b))
		switch ch.Kind {
		case wire.ChangeMemberUpsert, wire.ChangeMemberErase:
			members[id] = last{i, ch.Kind == wire.ChangeMemberUpsert}
			p.memberOf = append(p.memberOf, id)
			if ch.Kind == wire.ChangeMemberErase {
				p.erasedIDs, p.erasedOffsets = append(p.erasedIDs, id), append(p.erasedOffsets, int64(i))
			}
		default:
			offers[id] = last{i, ch.Kind == wire.ChangeOfferUpsert}
			p.memberOf = append(p.memberOf, "")
		}
	}
	for _, id := range slices.Sorted(mapKeys(members)) {
		l := members[id]
		if !l.upsert {
			p.erased = append(p.erased, id)
			continue
		}
		b, _ := json.Marshal(changes[l.i].Member) // checked above, as part of the change
		p.memberIDs, p.memberPayloads = append(p.memberIDs, id), append(p.memberPayloads, string(b))
		p.memberVersions = append(p.memberVersions, int64(l.i))
	}
	for _, id := range slices.Sorted(mapKeys(offers)) {
		l := offers[id]
		if !l.upsert {
			p.deleted = append(p.deleted, id)
			continue
		}
		b, _ := json.Marshal(changes[l.i].Offer)
		p.offerIDs, p.offerPayloads = append(p.offerIDs, id), append(p.offerPayloads, string(b))
		p.offerVersions = append(p.offerVersions, int64(l.i))
	}
	return p, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Limits of what Append accepts, the same as hq.BoltChangeLog's, so that
// one bad import cannot make rows the stores cannot use.
const (
	maxChangeIDBytes = 64  // member and offer ids (the catalog's limit)
	maxRequestBytes  = 128 // erasure request ids
	maxBarcodeBytes  = 128
	maxCards         = 32
)

// checkChange checks that exactly the payload of the change's kind is set
// and well formed, and returns the member or offer id it concerns.
func checkChange(ch *wire.Change) (string, error) {
	set := 0
	for _, b := range []bool{ch.Member != nil, ch.Erasure != nil, ch.Offer != nil, ch.OfferID != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return "", fmt.Errorf("%w: %.40q with %d payloads, want 1", ErrInvalidChange, ch.Kind, set)
	}
	var id string
	switch ch.Kind {
	case wire.ChangeMemberUpsert:
		if ch.Member == nil {
			return "", fmt.Errorf("%w: member.upsert without member", ErrInvalidChange)
		}
		m := ch.Member
		if len(m.Cards) > maxCards {
			return "", fmt.Errorf("%w: %d cards, at most %d", ErrInvalidChange, len(m.Cards), maxCards)
		}
		for i, c := range m.Cards {
			if _, err := hq.ParseCard(c); err != nil {
				return "", fmt.Errorf("%w: card %d: %v", ErrInvalidChange, i+1, err)
			}
		}
		for _, b := range []string{m.Loyalty, m.List} {
			if len(b) > maxBarcodeBytes || strings.ContainsAny(b, " \t\r\n") {
				return "", fmt.Errorf("%w: barcode: at most %d bytes without spaces", ErrInvalidChange, maxBarcodeBytes)
			}
		}
		id = m.Member.ID
	case wire.ChangeMemberErase:
		if ch.Erasure == nil {
			return "", fmt.Errorf("%w: member.erase without erasure", ErrInvalidChange)
		}
		if r := ch.Erasure.RequestID; len(r) > maxRequestBytes || !utf8.ValidString(r) {
			return "", fmt.Errorf("%w: request id of %d bytes: at most %d of UTF-8", ErrInvalidChange, len(r), maxRequestBytes)
		}
		id = ch.Erasure.MemberID
	case wire.ChangeOfferUpsert:
		if ch.Offer == nil {
			return "", fmt.Errorf("%w: offer.upsert without offer", ErrInvalidChange)
		}
		id = ch.Offer.ID
	case wire.ChangeOfferDelete:
		id = ch.OfferID
	default:
		return "", fmt.Errorf("%w: unknown kind %.40q", ErrInvalidChange, ch.Kind)
	}
	if err := checkChangeID(id); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrInvalidChange, ch.Kind, err)
	}
	return id, nil
}

// checkChangeID applies the catalog's id rule: 1 to 64 bytes of UTF-8
// without white space or control characters.
func checkChangeID(s string) error {
	if s == "" || len(s) > maxChangeIDBytes || !utf8.ValidString(s) {
		return fmt.Errorf("id of %d bytes: want 1 to %d bytes of UTF-8", len(s), maxChangeIDBytes)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return errors.New("id contains white space or a control character")
		}
	}
	return nil
}

// Append applies changes to the tenant's current data and records them
// with the versions after the head, in one transaction, and returns the
// new head. It takes the tenant's head row FOR UPDATE first, so concurrent
// appends (several importers, several processes) serialize. Changes older
// than the last Retain (Options) are deleted in the same transaction, and
// Oldest rises with them. Erasing a member also rewrites their earlier
// member.upsert changes still kept into member.erase changes without a
// request id (stores delete the member there and do not acknowledge it),
// so that the log keeps no personal data of an erased member. Appending no
// changes returns the head.
func (c *ChangeLog) Append(ctx context.Context, tenant string, changes []wire.Change) (uint64, error) {
	if !validID(tenant) {
		return 0, fmt.Errorf("append to change log: tenant %.70q: %w", tenant, ErrInvalidChange)
	}
	if len(changes) == 0 {
		h, err := c.Head(ctx, tenant)
		return h.Version, err
	}
	p, err := planAppend(changes)
	if err != nil {
		return 0, fmt.Errorf("append to change log of %s: %w", tenant, err)
	}
	var head uint64
	err = pgx.BeginFunc(ctx, c.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO change_heads (tenant, version, oldest, at)
			VALUES ($1, 0, 0, now()) ON CONFLICT DO NOTHING`, tenant); err != nil {
			return err
		}
		var version, oldest int64
		if err := tx.QueryRow(ctx, `SELECT version, oldest FROM change_heads WHERE tenant = $1 FOR UPDATE`,
			tenant).Scan(&version, &oldest); err != nil {
			return err
		}
		first := version + 1
		last := version + int64(len(changes))
		oldest = max(oldest, 1, last-int64(c.retain)+1)
		versions := make([]int64, len(changes))
		for i := range versions {
			versions[i] = first + int64(i)
		}
		add := func(offsets []int64) []int64 {
			out := make([]int64, len(offsets))
			for i, o := range offsets {
				out[i] = first + o
			}
			return out
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO changes (tenant, version, kind, payload, member_id, at)
			SELECT $1, v, k, p::jsonb, nullif(m, ''), now() FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(v, k, p, m)`,
			tenant, versions, p.kinds, p.payloads, p.memberOf)
		if len(p.erasedIDs) > 0 {
			// Scrub: the kept upserts of an erased member that precede
			// its erasure become erasures without a request id, as in
			// hq.BoltChangeLog. Replaying the log still ends in the same
			// data, and no kept change carries the member's data.
			b.Queue(`UPDATE changes c SET kind = 'member.erase', payload = jsonb_build_object(
					'kind', 'member.erase', 'erasure', jsonb_build_object('member_id', c.member_id, 'request_id', ''))
				FROM (SELECT m, max(v) AS v FROM unnest($2::text[], $3::bigint[]) AS u(m, v) GROUP BY m) e
				WHERE c.tenant = $1 AND c.kind = 'member.upsert' AND c.member_id = e.m AND c.version < e.v`,
				tenant, p.erasedIDs, add(p.erasedOffsets))
		}
		if len(p.memberIDs) > 0 {
			b.Queue(`INSERT INTO members (tenant, member_id, payload, version)
				SELECT $1, id, p::jsonb, v FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(id, p, v)
				ON CONFLICT (tenant, member_id) DO UPDATE SET payload = excluded.payload, version = excluded.version`,
				tenant, p.memberIDs, p.memberPayloads, add(p.memberVersions))
		}
		if len(p.erased) > 0 {
			b.Queue(`DELETE FROM members WHERE tenant = $1 AND member_id = ANY($2::text[])`, tenant, p.erased)
		}
		if len(p.offerIDs) > 0 {
			b.Queue(`INSERT INTO offers (tenant, offer_id, payload, version)
				SELECT $1, id, p::jsonb, v FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(id, p, v)
				ON CONFLICT (tenant, offer_id) DO UPDATE SET payload = excluded.payload, version = excluded.version`,
				tenant, p.offerIDs, p.offerPayloads, add(p.offerVersions))
		}
		if len(p.deleted) > 0 {
			b.Queue(`DELETE FROM offers WHERE tenant = $1 AND offer_id = ANY($2::text[])`, tenant, p.deleted)
		}
		b.Queue(`DELETE FROM changes WHERE tenant = $1 AND version < $2`, tenant, oldest)
		b.Queue(`UPDATE change_heads SET version = $2, oldest = $3, at = now() WHERE tenant = $1`, tenant, last, oldest)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		head = uint64(last)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("append to change log of %s: %w", tenant, err)
	}
	return head, nil
}

// Head returns the tenant's head; the zero Head when it has no changes.
func (c *ChangeLog) Head(ctx context.Context, tenant string) (wire.Head, error) {
	var version, oldest int64
	var at time.Time
	err := c.db.pool.QueryRow(ctx, `SELECT version, oldest, at FROM change_heads WHERE tenant = $1`,
		tenant).Scan(&version, &oldest, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return wire.Head{}, nil
	}
	if err != nil {
		return wire.Head{}, fmt.Errorf("change log head of %s: %w", tenant, err)
	}
	if version == 0 {
		return wire.Head{}, nil
	}
	return wire.Head{Version: uint64(version), Oldest: uint64(oldest), At: at.UTC()}, nil
}

// Since returns up to limit changes after the version after, in version
// order; a limit below 1 counts as 1. It returns hq.ErrTooOld when the
// change after after is no longer kept (after < Oldest-1), and no changes
// when after is at or beyond the head. The head and the changes are read
// in one statement, so they agree.
func (c *ChangeLog) Since(ctx context.Context, tenant string, after uint64, limit int) ([]wire.Change, error) {
	limit = max(limit, 1)
	from := int64(min(after, math.MaxInt64))
	rows, err := c.db.pool.Query(ctx, `SELECT h.oldest, c.version, c.payload
		FROM change_heads h LEFT JOIN LATERAL (
			SELECT version, payload FROM changes
			WHERE tenant = h.tenant AND version > $2 ORDER BY version LIMIT $3) c ON true
		WHERE h.tenant = $1`, tenant, from, limit)
	if err != nil {
		return nil, fmt.Errorf("changes of %s since %d: %w", tenant, after, err)
	}
	var (
		out     []wire.Change
		oldest  int64
		version *int64
		payload []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&oldest, &version, &payload}, func() error {
		if oldest > 0 && from < oldest-1 {
			return hq.ErrTooOld
		}
		if version == nil {
			return nil
		}
		var ch wire.Change
		if err := json.Unmarshal(payload, &ch); err != nil {
			return fmt.Errorf("change %d: %w", *version, err)
		}
		ch.Version = uint64(*version)
		out = append(out, ch)
		return nil
	})
	if errors.Is(err, hq.ErrTooOld) {
		return nil, fmt.Errorf("changes of %s since %d (oldest kept %d): %w", tenant, after, oldest, hq.ErrTooOld)
	}
	if err != nil {
		return nil, fmt.Errorf("changes of %s since %d: %w", tenant, after, err)
	}
	return out, nil
}

// Snapshot returns up to limit upserts of the tenant's current members (by
// member id), then offers (by offer id), after cursor; a limit below 1
// counts as 1. The first page (cursor "") reads the head and the data in
// one transaction; its head is the snapshot's version, carried in the
// cursor to every later page. Later pages read the data as it is then,
// which may already include changes after that version: replaying those
// changes from the version is harmless, because applying a change twice
// is. Erased members and deleted offers are not in it.
func (c *ChangeLog) Snapshot(ctx context.Context, tenant, cursor string, limit int) ([]wire.Change, string, uint64, error) {
	limit = max(limit, 1)
	var (
		version uint64
		section = 0 // 0: members, 1: offers
		afterID string
	)
	if cursor != "" {
		var err error
		if version, section, afterID, err = parseCursor(cursor); err != nil {
			return nil, "", 0, fmt.Errorf("snapshot of %s: %w", tenant, err)
		}
	}
	var page []wire.Change
	var ids []string
	var sections []int
	err := pgx.BeginTxFunc(ctx, c.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if cursor == "" {
			var v int64
			err := tx.QueryRow(ctx, `SELECT version FROM change_heads WHERE tenant = $1`, tenant).Scan(&v)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			version = uint64(v)
		}
		memberAfter, offerAfter := afterID, ""
		if section == 1 {
			memberAfter, offerAfter = "", afterID
		}
		rows, err := tx.Query(ctx, `SELECT sec, id, payload FROM (
				(SELECT 0 AS sec, member_id AS id, payload FROM members
				 WHERE tenant = $1 AND $2 = 0 AND member_id > $3 ORDER BY member_id LIMIT $5)
				UNION ALL
				(SELECT 1, offer_id, payload FROM offers
				 WHERE tenant = $1 AND offer_id > $4 ORDER BY offer_id LIMIT $5)) p
			ORDER BY sec, id LIMIT $5`, tenant, section, memberAfter, offerAfter, limit+1)
		if err != nil {
			return err
		}
		var sec int
		var id string
		var payload []byte
		_, err = pgx.ForEachRow(rows, []any{&sec, &id, &payload}, func() error {
			ch := wire.Change{}
			if sec == 0 {
				ch.Kind, ch.Member = wire.ChangeMemberUpsert, new(wire.MemberChange)
				if err := json.Unmarshal(payload, ch.Member); err != nil {
					return fmt.Errorf("member: %w", err)
				}
			} else {
				ch.Kind, ch.Offer = wire.ChangeOfferUpsert, new(edge.Offer)
				if err := json.Unmarshal(payload, ch.Offer); err != nil {
					return fmt.Errorf("offer: %w", err)
				}
			}
			page, ids, sections = append(page, ch), append(ids, id), append(sections, sec)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, "", 0, fmt.Errorf("snapshot of %s: %w", tenant, err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = makeCursor(version, sections[limit-1], ids[limit-1])
	}
	return page, next, version, nil
}

// makeCursor encodes a snapshot position: "<version>.<m|o>.<id>", the id
// being the last one returned.
func makeCursor(version uint64, section int, id string) string {
	s := "m"
	if section == 1 {
		s = "o"
	}
	return strconv.FormatUint(version, 10) + "." + s + "." + id
}

func parseCursor(cursor string) (version uint64, section int, id string, err error) {
	v, rest, ok := strings.Cut(cursor, ".")
	if ok {
		version, err = strconv.ParseUint(v, 10, 64)
	}
	switch {
	case !ok || err != nil || len(rest) < 2 || rest[1] != '.' || !validText(rest[2:]):
		return 0, 0, "", ErrBadCursor
	case rest[0] == 'm':
		return version, 0, rest[2:], nil
	case rest[0] == 'o':
		return version, 1, rest[2:], nil
	}
	return 0, 0, "", ErrBadCursor
}
