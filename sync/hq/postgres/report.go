package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Reports is what a sink gives `redcarpet-hq report`: the stores it holds,
// their events of some kinds over a period, their traffic by trading day,
// and the tenant's current offers. hq.BoltSink and Sink implement it with
// the same answers (TestReportsConformance), except that Sink returns data
// in jsonb's normal form and times with microsecond precision, as Event
// does.
type Reports interface {
	// Stores lists the stores the sink holds events of, in tenant and
	// store order.
	Stores() ([]hq.StoreID, error)

	// Events calls fn with the events of tenant/store of the given kinds
	// whose CloudEvents time is in [from, to), in time order, ties in id
	// order; an event without a time never matches. It stops at fn's
	// first error and returns it.
	Events(tenant, store string, kinds []string, from, to time.Time, fn func(wire.CloudEvent) error) error

	// Traffic calls fn with the traffic.day and traffic.interval events of
	// tenant/store whose trading day (data "day") is in [from, to], days
	// as YYYY-MM-DD: by day, traffic.day first, then by time and id.
	Traffic(tenant, store, from, to string, fn func(wire.CloudEvent) error) error

	// Offers returns the tenant's current offers in the change log, in id
	// order: the offers HQ publishes to its stores (categories, holdout).
	Offers(tenant string) ([]edge.Offer, error)
}

var (
	_ Reports = (*Sink)(nil)
	_ Reports = (*hq.BoltSink)(nil)
)

// Stores lists the stores with stored events (store_counts).
func (s *Sink) Stores() ([]hq.StoreID, error) {
	ctx, cancel := queryContext()
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT tenant, store FROM store_counts
		GROUP BY tenant, store HAVING sum(events) > 0 ORDER BY tenant, store`)
	if err != nil {
		return nil, fmt.Errorf("stores: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hq.StoreID, error) {
		var id hq.StoreID
		err := r.Scan(&id.Tenant, &id.Store)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("stores: %w", err)
	}
	return out, nil
}

// Events reads each kind's table by its (tenant, store, time) index, and
// other_events for kinds without a table of their own.
func (s *Sink) Events(tenant, store string, kinds []string, from, to time.Time, fn func(wire.CloudEvent) error) error {
	var parts []string
	var other []string
	seen := map[string]bool{}
	for _, k := range kinds {
		if seen[k] {
			continue
		}
		seen[k] = true
		if spec := specByKind[k]; spec != nil {
			parts = append(parts, fmt.Sprintf(`SELECT event_id, '%s'::text AS kind, time, data::text FROM %s
				WHERE tenant = $1 AND store = $2 AND time >= $3 AND time < $4`, spec.kind, spec.table))
		} else {
			other = append(other, k)
		}
	}
	args := []any{tenant, store, from, to}
	if len(other) > 0 {
		parts = append(parts, `SELECT event_id, kind::text, time, data::text FROM `+otherTable+`
			WHERE tenant = $1 AND store = $2 AND kind = ANY($5) AND time >= $3 AND time < $4`)
		args = append(args, other)
	}
	if len(parts) == 0 {
		return nil
	}
	sql := strings.Join(parts, " UNION ALL ") + " ORDER BY time, event_id"
	return s.scanEvents("events", tenant, store, sql, args, fn)
}

// Traffic reads traffic_days and traffic_intervals by their (tenant,
// store, trading_day) index.
func (s *Sink) Traffic(tenant, store, from, to string, fn func(wire.CloudEvent) error) error {
	if err := hq.CheckDays(from, to); err != nil {
		return fmt.Errorf("traffic of %s/%s: %w", tenant, store, err)
	}
	f, _ := time.Parse(hq.DayLayout, from)
	t, _ := time.Parse(hq.DayLayout, to)
	sql := fmt.Sprintf(`SELECT event_id, '%s'::text AS kind, time, data::text, trading_day FROM traffic_days
			WHERE tenant = $1 AND store = $2 AND trading_day BETWEEN $3::date AND $4::date
		UNION ALL
		SELECT event_id, '%s'::text, time, data::text, trading_day FROM traffic_intervals
			WHERE tenant = $1 AND store = $2 AND trading_day BETWEEN $3::date AND $4::date
		ORDER BY trading_day, kind, time, event_id`, KindTrafficDay, KindTraffic)
	return s.scanEvents("traffic", tenant, store, sql, []any{tenant, store, f, t}, fn)
}

// scanEvents runs a query whose first four columns are event_id, kind,
// time and data, and calls fn with each row as a CloudEvent (as Event
// builds it). It returns fn's error as is; its own errors name what.
func (s *Sink) scanEvents(what, tenant, store, sql string, args []any, fn func(wire.CloudEvent) error) error {
	ctx, cancel := queryContext()
	defer cancel()
	rows, err := s.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s of %s/%s: %w", what, tenant, store, err)
	}
	defer rows.Close()
	src := wire.Source(tenant, store)
	var buf bytes.Buffer
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("%s of %s/%s: %w", what, tenant, store, err)
		}
		id, _ := vals[0].(string)
		kind, _ := vals[1].(string)
		data, _ := vals[3].(string)
		buf.Reset()
		if err := json.Compact(&buf, []byte(data)); err != nil {
			return fmt.Errorf("%s of %s/%s: event %s: %w", what, tenant, store, id, err)
		}
		ev := wire.CloudEvent{
			SpecVersion: wire.SpecVersion, ID: id, Source: src, Type: wire.Type(edge.Kind(kind)),
			DataContentType: "application/json", Data: bytes.Clone(buf.Bytes()),
		}
		if t, ok := vals[2].(time.Time); ok {
			ev.Time = t.UTC()
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s of %s/%s: %w", what, tenant, store, err)
	}
	return nil
}

// Offers returns the tenant's current offers (table offers).
func (s *Sink) Offers(tenant string) ([]edge.Offer, error) {
	ctx, cancel := queryContext()
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT payload::text FROM offers WHERE tenant = $1 ORDER BY offer_id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("offers of %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (edge.Offer, error) {
		var payload string
		var o edge.Offer
		if err := r.Scan(&payload); err != nil {
			return o, err
		}
		return o, json.Unmarshal([]byte(payload), &o)
	})
	if err != nil {
		return nil, fmt.Errorf("offers of %s: %w", tenant, err)
	}
	return out, nil
}
