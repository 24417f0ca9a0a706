package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Queries is what a sink reports about what it holds: the method set of
// hq.BoltSink that Sink mirrors, so that tests and `redcarpet-hq stats`
// work with either.
type Queries interface {
	Stats() (hq.SinkStats, error)
	Coverage(tenant, store string) (map[string]hq.Coverage, error)
	Missing(tenant, store, epoch string, limit int) ([]uint64, error)
	IDs(tenant, store string) ([]string, error)
	Event(tenant, store, id string) (wire.CloudEvent, bool, error)
}

var (
	_ Queries = (*Sink)(nil)
	_ Queries = (*hq.BoltSink)(nil)
)

// queryTimeout bounds each query method (they take no context, as
// BoltSink's do).
const queryTimeout = time.Minute

func queryContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), queryTimeout)
}

// Stats reports the stored and duplicate counts, per store in tenant and
// store order, from store_counts.
func (s *Sink) Stats() (hq.SinkStats, error) {
	ctx, cancel := queryContext()
	defer cancel()
	var st hq.SinkStats
	rows, err := s.db.pool.Query(ctx, `SELECT tenant, store, kind, events, duplicates, unsequenced
		FROM store_counts ORDER BY tenant, store, kind`)
	if err != nil {
		return st, fmt.Errorf("sink stats: %w", err)
	}
	var tenant, store, kind string
	var events, dups, unseq int64
	_, err = pgx.ForEachRow(rows, []any{&tenant, &store, &kind, &events, &dups, &unseq}, func() error {
		n := len(st.Stores)
		if n == 0 || st.Stores[n-1].Tenant != tenant || st.Stores[n-1].Store != store {
			st.Stores = append(st.Stores, hq.StoreStats{Tenant: tenant, Store: store, Kinds: map[string]uint64{}})
			n++
		}
		ss := &st.Stores[n-1]
		ss.Events += uint64(events)
		ss.Duplicates += uint64(dups)
		ss.Unsequenced += uint64(unseq)
		if events > 0 {
			ss.Kinds[kind] = uint64(events)
		}
		st.Events += uint64(events)
		st.Duplicates += uint64(dups)
		return nil
	})
	if err != nil {
		return hq.SinkStats{}, fmt.Errorf("sink stats: %w", err)
	}
	return st, nil
}

// Coverage reports, per epoch, which sequence numbers of the store's events
// the sink holds (the view sequence_coverage).
func (s *Sink) Coverage(tenant, store string) (map[string]hq.Coverage, error) {
	ctx, cancel := queryContext()
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT epoch, count, max_seq, watermark
		FROM sequence_coverage WHERE tenant = $1 AND store = $2`, tenant, store)
	if err != nil {
		return nil, fmt.Errorf("coverage of %s/%s: %w", tenant, store, err)
	}
	out := map[string]hq.Coverage{}
	var epoch string
	var count, maxSeq, wm int64
	_, err = pgx.ForEachRow(rows, []any{&epoch, &count, &maxSeq, &wm}, func() error {
		out[epoch] = hq.Coverage{Count: uint64(count), MaxSeq: uint64(maxSeq), Watermark: uint64(wm), Gaps: uint64(maxSeq - count)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("coverage of %s/%s: %w", tenant, store, err)
	}
	return out, nil
}

// Missing lists up to limit sequence numbers of epoch in 1..MaxSeq that the
// sink does not hold, lowest first (from the view sequence_gaps).
func (s *Sink) Missing(tenant, store, epoch string, limit int) ([]uint64, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := queryContext()
	defer cancel()
	// Every gap holds at least one sequence number: limit gaps suffice.
	rows, err := s.db.pool.Query(ctx, `SELECT first_missing, last_missing FROM sequence_gaps
		WHERE tenant = $1 AND store = $2 AND epoch = $3 ORDER BY first_missing LIMIT $4`, tenant, store, epoch, limit)
	if err != nil {
		return nil, fmt.Errorf("missing of %s/%s %s: %w", tenant, store, epoch, err)
	}
	var out []uint64
	var lo, hi int64
	_, err = pgx.ForEachRow(rows, []any{&lo, &hi}, func() error {
		for seq := lo; seq <= hi && len(out) < limit; seq++ {
			out = append(out, uint64(seq))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("missing of %s/%s %s: %w", tenant, store, epoch, err)
	}
	return out, nil
}

// eventTables is every event table with the SQL expression of its kind.
func eventTables() [][2]string {
	out := make([][2]string, 0, len(kindSpecs)+1)
	for _, k := range kindSpecs {
		out = append(out, [2]string{k.table, "'" + k.kind + "'"})
	}
	return append(out, [2]string{otherTable, "kind"})
}

var (
	idsSQL   = unionSQL("SELECT event_id FROM %[1]s WHERE tenant = $1 AND store = $2") + " ORDER BY 1"
	eventSQL = unionSQL("SELECT %[2]s::text, time, data::text FROM %[1]s WHERE tenant = $1 AND store = $2 AND event_id = $3") + " LIMIT 1"
)

func unionSQL(format string) string {
	var parts []string
	for _, t := range eventTables() {
		parts = append(parts, fmt.Sprintf(format, t[0], t[1]))
	}
	return strings.Join(parts, " UNION ALL ")
}

// IDs returns the ids the sink holds of a store, in byte order.
func (s *Sink) IDs(tenant, store string) ([]string, error) {
	ctx, cancel := queryContext()
	defer cancel()
	rows, err := s.db.pool.Query(ctx, idsSQL, tenant, store)
	if err != nil {
		return nil, fmt.Errorf("ids of %s/%s: %w", tenant, store, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("ids of %s/%s: %w", tenant, store, err)
	}
	return ids, nil
}

// Event returns the stored event of a store with the given id. Its data is
// the stored JSON in jsonb's normal form (keys sorted, compacted), its
// time has microsecond precision, and its datacontenttype is
// application/json.
func (s *Sink) Event(tenant, store, id string) (wire.CloudEvent, bool, error) {
	ctx, cancel := queryContext()
	defer cancel()
	var (
		kind, data string
		t          *time.Time
	)
	err := s.db.pool.QueryRow(ctx, eventSQL, tenant, store, id).Scan(&kind, &t, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return wire.CloudEvent{}, false, nil
	}
	if err != nil {
		return wire.CloudEvent{}, false, fmt.Errorf("event %s of %s/%s: %w", id, tenant, store, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(data)); err != nil {
		return wire.CloudEvent{}, false, fmt.Errorf("event %s of %s/%s: %w", id, tenant, store, err)
	}
	ev := wire.CloudEvent{
		SpecVersion: wire.SpecVersion, ID: id, Source: wire.Source(tenant, store), Type: wire.Type(edge.Kind(kind)),
		DataContentType: "application/json", Data: buf.Bytes(),
	}
	if t != nil {
		ev.Time = t.UTC()
	}
	return ev, true, nil
}
