package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Sink is the PostgreSQL hq.Sink. It also implements hq.BatchSink, which
// Ingest uses to store several messages in one transaction. It is safe for
// concurrent use; get it from Open.
type Sink struct {
	db *DB
}

var (
	_ hq.Sink      = (*Sink)(nil)
	_ hq.BatchSink = (*Sink)(nil)
)

// stageTable is the session's staging table, created by every new pool
// connection (DB.afterConnect). ON COMMIT DELETE ROWS empties it at every
// commit; what an aborted transaction copied into it is invisible anyway.
const stageTable = "pg_temp.rc_stage"

var stageDDL = func() string {
	var b strings.Builder
	b.WriteString(`CREATE TEMP TABLE IF NOT EXISTS rc_stage (
	msg integer NOT NULL, first boolean NOT NULL,
	tenant text COLLATE "C" NOT NULL, store text COLLATE "C" NOT NULL, event_id text COLLATE "C" NOT NULL,
	kind text COLLATE "C" NOT NULL, epoch text COLLATE "C", seq bigint, time timestamptz, data jsonb`)
	for i, name := range slotNames {
		b.WriteString(", " + name + " " + slotTypes[i])
	}
	b.WriteString(") ON COMMIT DELETE ROWS")
	return b.String()
}()

// stageColumns is the COPY column list, in the order of stagedRow.values.
var stageColumns = append([]string{"msg", "first", "tenant", "store", "event_id", "kind", "epoch", "seq", "time", "data"}, slotNames[:]...)

// storeSQL is the statement that moves the staged rows into the event
// tables; lockSQL takes the epochs' advisory locks before it. See doc.go.
var storeSQL = buildStoreSQL()

const lockSQL = `SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, i) ORDER BY i) s`

// buildStoreSQL writes one statement that, from the staged rows:
//
//   - records new unsequenced ids in unsequenced_ids (u);
//   - inserts into each kind table the first occurrence of every id that is
//     new: a sequenced id whose seq no range of its epoch holds, an
//     unsequenced id that u just recorded; ON CONFLICT DO NOTHING on the
//     table's key (k_*);
//   - merges the seqs of the inserted ids into sequence_ranges: islands of
//     consecutive new seqs, plus the old ranges that end just below or
//     start just above one (new seqs are never inside an old range), merged
//     where they touch (isl, old, cov);
//   - adds the counts per store and kind to store_counts (cnt);
//   - returns the number of inserted events per message.
func buildStoreSQL() string {
	var b strings.Builder
	b.WriteString("WITH u AS (INSERT INTO unsequenced_ids (tenant, store, event_id, kind)\n")
	b.WriteString("  SELECT tenant, store, event_id, kind FROM " + stageTable + " WHERE first AND seq IS NULL\n")
	b.WriteString("  ORDER BY tenant, store, event_id ON CONFLICT DO NOTHING RETURNING tenant, store, event_id)")
	newRow := `s.first AND CASE WHEN s.seq IS NULL
      THEN (s.tenant, s.store, s.event_id) IN (SELECT tenant, store, event_id FROM u)
      ELSE NOT EXISTS (SELECT 1 FROM (SELECT r.hi FROM sequence_ranges r
        WHERE r.tenant = s.tenant AND r.store = s.store AND r.epoch = s.epoch AND r.lo <= s.seq
        ORDER BY r.lo DESC LIMIT 1) p WHERE p.hi >= s.seq) END`
	known := make([]string, len(kindSpecs))
	var ins []string
	for i, k := range kindSpecs {
		known[i] = "'" + k.kind + "'"
		names, slots := []string{"tenant", "store", "event_id", "time"}, []string{"s.tenant", "s.store", "s.event_id", "s.time"}
		for _, c := range k.cols {
			names = append(names, c.name)
			slots = append(slots, "s."+slotNames[c.slot])
		}
		names, slots = append(names, "data"), append(slots, "s.data")
		cte := fmt.Sprintf("k%d", i)
		ins = append(ins, cte)
		fmt.Fprintf(&b, ",\n%s AS (INSERT INTO %s (%s)\n  SELECT %s FROM %s s\n  WHERE s.kind = '%s' AND %s\n  ORDER BY s.tenant, s.store, s.event_id ON CONFLICT DO NOTHING RETURNING tenant, store, event_id)",
			cte, k.table, strings.Join(names, ", "), strings.Join(slots, ", "), stageTable, k.kind, newRow)
	}
	fmt.Fprintf(&b, ",\nko AS (INSERT INTO %s (tenant, store, event_id, kind, time, data)\n  SELECT s.tenant, s.store, s.event_id, s.kind, s.time, s.data FROM %s s\n  WHERE s.kind NOT IN (%s) AND %s\n  ORDER BY s.tenant, s.store, s.event_id ON CONFLICT DO NOTHING RETURNING tenant, store, event_id)",
		otherTable, stageTable, strings.Join(known, ", "), newRow)
	ins = append(ins, "ko")
	b.WriteString(",\nins AS (")
	for i, c := range ins {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT * FROM " + c)
	}
	b.WriteString(")")
	b.WriteString(`,
hit AS (SELECT s.msg, s.tenant, s.store, s.kind, s.epoch, s.seq FROM ins
  JOIN ` + stageTable + ` s ON s.first AND s.tenant = ins.tenant AND s.store = ins.store AND s.event_id = ins.event_id),
isl AS (SELECT tenant, store, epoch, min(seq) AS lo, max(seq) AS hi
  FROM (SELECT tenant, store, epoch, seq, seq - row_number() OVER (PARTITION BY tenant, store, epoch ORDER BY seq) AS g
        FROM hit WHERE seq IS NOT NULL) x
  GROUP BY tenant, store, epoch, g),
old AS (DELETE FROM sequence_ranges r USING isl
  WHERE r.tenant = isl.tenant AND r.store = isl.store AND r.epoch = isl.epoch AND (r.hi = isl.lo - 1 OR r.lo = isl.hi + 1)
  RETURNING r.tenant, r.store, r.epoch, r.lo, r.hi),
allr AS (SELECT tenant, store, epoch, lo, hi,
    CASE WHEN lo = lag(hi) OVER w + 1 THEN 0 ELSE 1 END AS brk
  FROM (SELECT tenant, store, epoch, lo, hi FROM isl UNION ALL SELECT tenant, store, epoch, lo, hi FROM old) a
  WINDOW w AS (PARTITION BY tenant, store, epoch ORDER BY lo)),
cov AS (INSERT INTO sequence_ranges (tenant, store, epoch, lo, hi)
  SELECT tenant, store, epoch, min(lo), max(hi)
  FROM (SELECT tenant, store, epoch, lo, hi, sum(brk) OVER (PARTITION BY tenant, store, epoch ORDER BY lo) AS grp FROM allr) m
  GROUP BY tenant, store, epoch, grp),
tot AS (SELECT tenant, store, kind, count(*) AS n FROM ` + stageTable + ` GROUP BY tenant, store, kind),
got AS (SELECT tenant, store, kind, count(*) AS n, count(*) FILTER (WHERE seq IS NULL) AS u FROM hit GROUP BY tenant, store, kind),
cnt AS (INSERT INTO store_counts AS c (tenant, store, kind, events, duplicates, unsequenced)
  SELECT t.tenant, t.store, t.kind, coalesce(g.n, 0), t.n - coalesce(g.n, 0), coalesce(g.u, 0)
  FROM tot t LEFT JOIN got g ON g.tenant = t.tenant AND g.store = t.store AND g.kind = t.kind
  ORDER BY t.tenant, t.store, t.kind
  ON CONFLICT (tenant, store, kind) DO UPDATE SET events = c.events + excluded.events,
    duplicates = c.duplicates + excluded.duplicates, unsequenced = c.unsequenced + excluded.unsequenced)
SELECT msg, count(*) FROM hit GROUP BY msg`)
	return b.String()
}

// stagedRow is one event on its way into the staging table.
type stagedRow struct {
	msg           int32
	first         bool // the batch's first event with this (tenant, store, id)
	kind          string
	epoch         string // "" for an unsequenced id
	seq           int64  // 0 for an unsequenced id
	tenant, store string
	ev            *wire.CloudEvent
	typed         [numSlots]any
}

// Store writes evs, the events of one uplink message of tenant/store, in
// one transaction and reports how many were new and how many the sink
// already held (or that repeat an id of evs). An error wrapping
// hq.ErrRejected means the events can never be stored (see StoreBatch);
// any other error is transient and nothing was stored.
func (s *Sink) Store(ctx context.Context, tenant, store string, evs []wire.CloudEvent) (inserted, duplicates int, err error) {
	res, err := s.StoreBatch(ctx, []hq.Batch{{Tenant: tenant, Store: store, Events: evs}})
	if err != nil {
		return 0, 0, err
	}
	return res[0].Inserted, res[0].Duplicates, res[0].Err
}

// StoreBatch stores the events of several uplink messages in one
// transaction: one COPY into the session's staging table, then one
// statement that deduplicates and inserts them into the event tables and
// updates the coverage and the counters (doc.go).
//
// Each batch is checked before the transaction, and a batch that can never
// be stored gets a Result whose Err wraps hq.ErrRejected, without keeping
// the others from being stored: a tenant or store id that is not a valid
// id, an event whose id is empty or longer than hq.MaxIDBytes, whose source
// is not the store's, whose kind is malformed or a raw device kind, or
// whose data does not fit its kind (decodeData). Should PostgreSQL refuse
// data all the same (a data exception), every batch is retried in a
// transaction of its own, and the one refused is rejected.
//
// A returned error is transient (the database is unreachable, ctx ended,
// a serialization failure …): nothing was stored, and the caller retries.
// After a data exception, a transient error of one batch's own transaction
// is returned in its Result instead.
func (s *Sink) StoreBatch(ctx context.Context, batches []hq.Batch) ([]hq.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]hq.Result, len(batches))
	var rows []stagedRow
	var accepted []int
	for i := range batches {
		r, err := stageBatch(int32(i), &batches[i])
		if err != nil {
			results[i].Err = fmt.Errorf("store %s/%s: %w: %w", batches[i].Tenant, batches[i].Store, err, hq.ErrRejected)
			continue
		}
		rows = append(rows, r...)
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		return results, nil
	}
	markFirst(rows)
	inserted, err := s.store(ctx, rows)
	if isDataError(err) {
		if len(accepted) == 1 {
			i := accepted[0]
			results[i].Err = fmt.Errorf("store %s/%s: %w: %w", batches[i].Tenant, batches[i].Store, err, hq.ErrRejected)
			return results, nil
		}
		s.db.log.Warn("database refused a batch's data; storing its messages one by one",
			"messages", len(accepted), "err", err)
		return s.storeEach(ctx, batches, accepted, results)
	}
	if err != nil {
		return nil, err
	}
	for _, i := range accepted {
		results[i].Inserted = inserted[int32(i)]
		results[i].Duplicates = len(batches[i].Events) - results[i].Inserted
	}
	return results, nil
}

// storeEach stores the accepted batches one transaction each, after the
// database refused them together.
func (s *Sink) storeEach(ctx context.Context, batches []hq.Batch, accepted []int, results []hq.Result) ([]hq.Result, error) {
	// Each is committed on its own, so a transient error is reported in
	// the Result of its batch alone (hq.BatchSink: that batch is offered
	// again), never for the call, some of which is already stored.
	for _, i := range accepted {
		r, err := s.StoreBatch(ctx, batches[i:i+1])
		if err != nil {
			results[i].Err = fmt.Errorf("store %s/%s: %w", batches[i].Tenant, batches[i].Store, err)
			continue
		}
		results[i] = r[0]
	}
	return results, nil
}

// stageBatch checks a batch and converts its events to staged rows.
func stageBatch(msg int32, b *hq.Batch) ([]stagedRow, error) {
	if !validID(b.Tenant) || !validID(b.Store) {
		return nil, errors.New("malformed tenant or store id")
	}
	src := wire.Source(b.Tenant, b.Store)
	rows := make([]stagedRow, len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		k, ok := wire.KindOf(e.Type)
		switch {
		case e.ID == "" || len(e.ID) > hq.MaxIDBytes:
			return nil, fmt.Errorf("event %d: id of %d bytes", i, len(e.ID))
		case e.Source != src:
			return nil, fmt.Errorf("event %d: source is not %s", i, src)
		case !ok || !hq.KindName(string(k)):
			return nil, fmt.Errorf("event %d: malformed type", i)
		case k.Local():
			return nil, fmt.Errorf("event %d: raw device kind %s", i, k)
		case !validText(e.ID):
			return nil, fmt.Errorf("event %d: id is not UTF-8 text", i)
		}
		r := &rows[i]
		r.msg, r.kind, r.tenant, r.store, r.ev = msg, string(k), b.Tenant, b.Store, e
		r.epoch, r.seq, _ = parseSeq(e.ID)
		if err := decodeData(r.kind, e.Data, &r.typed); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return rows, nil
}

// markFirst marks the first row of every (tenant, store, id): the others
// are duplicates within the batch and are not inserted.
func markFirst(rows []stagedRow) {
	seen := make(map[[3]string]struct{}, len(rows))
	for i := range rows {
		k := [3]string{rows[i].tenant, rows[i].store, rows[i].ev.ID}
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			rows[i].first = true
		}
	}
}

// lockKeys returns the advisory lock keys of the epochs the rows write,
// sorted, so that transactions take them in one order and cannot deadlock.
// An unsequenced id locks its store's pseudo-epoch "".
func lockKeys(rows []stagedRow) []int64 {
	var keys []int64
	seen := map[[3]string]bool{}
	for i := range rows {
		r := &rows[i]
		k := [3]string{r.tenant, r.store, r.epoch}
		if !r.first || seen[k] {
			continue
		}
		seen[k] = true
		h := fnv.New64a()
		h.Write([]byte("redcarpet.epoch\x00" + r.tenant + "\x00" + r.store + "\x00" + r.epoch))
		keys = append(keys, int64(h.Sum64()))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// store runs the transaction and returns the inserted count per message.
func (s *Sink) store(ctx context.Context, rows []stagedRow) (map[int32]int, error) {
	start := time.Now()
	inserted := map[int32]int{}
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		// The locks serialise the transactions that write the same epoch:
		// the duplicate check against sequence_ranges and the range merge
		// need it, and rows with the same key are then never inserted
		// concurrently. The next statement's snapshot sees what the
		// previous holder committed.
		if _, err := tx.Exec(ctx, lockSQL, lockKeys(rows)); err != nil {
			return fmt.Errorf("lock epochs: %w", err)
		}
		vals := make([]any, len(stageColumns))
		src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := &rows[i]
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5] = r.msg, r.first, r.tenant, r.store, r.ev.ID, r.kind
			vals[6], vals[7], vals[8], vals[9] = nil, nil, nil, nil
			if r.seq > 0 {
				vals[6], vals[7] = r.epoch, r.seq
			}
			if r.first {
				vals[8] = timeOrNil(r.ev.Time)
				vals[9] = []byte(r.ev.Data)
				copy(vals[10:], r.typed[:])
			} else {
				clear(vals[10:])
			}
			return vals, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "rc_stage"}, stageColumns, src); err != nil {
			return fmt.Errorf("copy to staging: %w", err)
		}
		res, err := tx.Query(ctx, storeSQL)
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		var msg int32
		var n int64
		_, err = pgx.ForEachRow(res, []any{&msg, &n}, func() error {
			inserted[msg] = int(n)
			return nil
		})
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.db.log.Enabled(ctx, slog.LevelDebug) {
		s.db.log.Debug("stored", "events", len(rows), "took", time.Since(start))
	}
	return inserted, nil
}

// isDataError reports whether err is PostgreSQL refusing the data itself
// (SQLSTATE class 22, data exception, or 54, program limit exceeded),
// which no retry can cure.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54"))
}

// validText reports whether s can be a PostgreSQL text value.
func validText(s string) bool {
	return !strings.ContainsRune(s, 0) && utf8.ValidString(s)
}
