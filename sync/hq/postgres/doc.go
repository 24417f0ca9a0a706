// Package postgres is HQ's PostgreSQL storage: a Sink (hq.Sink and
// hq.BatchSink) that stores the stores' events deduplicated, with the same
// queries as the embedded hq.BoltSink (Queries, and Reports for
// `redcarpet-hq report`), and a ChangeLog
// (hq.ChangeLog) for the downlink. Open connects one pgx pool that both
// share and applies the schema's migrations.
//
// # Schema
//
// The migrations (migrations/*.sql, embedded) are applied in order by Open,
// each in a transaction together with its row in schema_migrations
// (version, name, applied_at), under a session advisory lock keyed by the
// schema's name, so that workers starting at once apply each migration
// once. The tables are created in the first schema of the search_path
// (set it with a search_path parameter in the DSN). Identifiers (tenant,
// store, event and member ids) use the "C" collation: byte order.
//
// Events, one table per kind, each keyed by (tenant, store, event_id) and
// holding the event's CloudEvents time (timestamptz, NULL when absent), its
// data as received (data jsonb) and received_at, plus the payload's fields
// typed:
//
//	footfall_intervals  footfall.interval  door, interval_start, interval_end (timestamptz),
//	                                       people_in, people_out, occupancy, staff_in, staff_out (integer)
//	recognitions        member.recognised  member_id, via, zone, lane, door, new_visit (boolean)
//	                                       (view visits: the recognitions with new_visit)
//	exposures           offer.shown        offer_id, member_id, channel, screen, rank (integer),
//	                                       discount_pct (numeric), cell
//	redemptions         offer.redeemed     offer_id, member_id, lane, basket_id, discount (numeric)
//	baskets             basket.closed      basket_id, lane, member_id (NULL when absent), total (numeric),
//	                                       items (integer: a count, or the length of an items array),
//	                                       currency
//	device_status       device.status      device, device_kind, state, detail
//	erasures_applied    member.erased      member_id, request_id, events_removed (integer)
//	traffic_intervals   traffic.interval   interval_start, interval_end, trading_day (date), people_in,
//	                                       people_out, staff_in, staff_out, visitors, occupancy, peak,
//	                                       clamped, reset (NULL: no closing reset in the interval),
//	                                       member_visits, baskets, member_baskets, spend, member_spend
//	                                       (numeric), currency, offers_shown, offers_redeemed,
//	                                       offers_withheld
//	traffic_days        traffic.day        trading_day (date), day_start, day_end, peak_at (timestamptz),
//	                                       people_in, people_out, staff_in, staff_out, visitors, peak,
//	                                       mismatch, clamped, dwell_s, members, member_visits,
//	                                       member_dwell_s, baskets, member_baskets, spend, member_spend,
//	                                       currency, offers_shown, offers_redeemed, offers_withheld; the
//	                                       per-door counts and per-zone dwell stay in data
//	member_visits       visit.closed       member_id, visit_start, visit_end, dwell_s, entry_door, exit_door,
//	                                       baskets, spend (numeric), ended; zones and lanes stay in data
//	withheld_offers     offer.withheld     the columns of exposures
//	other_events        any other kind     kind, and the data only: a kind this build does not
//	                                       know is kept, not lost
//
// A payload field that is absent is stored as its zero value ("" or 0; NULL
// for timestamps, dates and numeric amounts); fields the table has no
// column for stay in data. A trading day that is not a date (YYYY-MM-DD),
// or a dwell beyond an integer's range, does not fit its kind.
//
// Indexes for reading a period (Reports): (tenant, store, time) on
// exposures, withheld_offers, redemptions, baskets and member_visits,
// (tenant, store, kind, time) on other_events, and (tenant, store,
// trading_day) on traffic_intervals and traffic_days.
//
// When a build adds a table for a kind, the events of that kind an older
// build kept in other_events (from stores upgraded before HQ) move to it in
// the transaction of the build's last migration, decoded as StoreBatch
// decodes them; one that does not fit its kind stays in other_events.
// Migration 0003 also fills the new columns of exposures and
// footfall_intervals from the data of the rows already stored. It builds
// its indexes without CONCURRENTLY (migrations run in a transaction), so
// writers of those tables wait while it runs.
//
// Sequence coverage, the equivalent of BoltSink.Coverage and Missing:
//
//	sequence_ranges     (tenant, store, epoch, lo, hi): the held sequence numbers of each epoch
//	                    ("<epoch>-<seq>" ids, outbox.ParseID) as maximal ranges, which never
//	                    overlap or touch
//	sequence_coverage   view: per epoch count, max_seq, watermark (1..watermark all held) and
//	                    gaps (missing below max_seq)
//	sequence_gaps       view: the missing ranges first_missing..last_missing of each epoch
//
// Deduplication and counters:
//
//	unsequenced_ids     (tenant, store, event_id, kind): ids that are not canonical
//	                    "<epoch>-<seq>" ("ep-05", "plain", seq 0 or above 2^62), which
//	                    sequence_ranges cannot hold
//	store_counts        (tenant, store, kind): events stored, duplicates dropped, stored
//	                    events with unsequenced ids (Stats)
//
// Downlink change log (ChangeLog):
//
//	change_heads        (tenant): version (the latest change, 0 when none), oldest (the
//	                    oldest change kept, 0 when none), at (of the latest append)
//	changes             (tenant, version): kind, payload (the wire.Change as JSON, without
//	                    its version), at; the last Options.Retain per tenant
//	members             (tenant, member_id): payload (wire.MemberChange), version
//	offers              (tenant, offer_id): payload (edge.Offer), version
//
// # Storing events
//
// StoreBatch (and Store, a batch of one message) checks and decodes every
// event before its transaction, so that a message that can never be stored
// is rejected (hq.ErrRejected) alone: a malformed tenant, store, id or type,
// a raw device kind, an event from another store, data that is not JSON
// PostgreSQL's jsonb accepts (\u0000, unpaired surrogates, invalid UTF-8,
// numbers beyond numeric, nesting beyond 512) or that does not decode into
// its kind's payload (a field of the wrong type, an integer beyond
// PostgreSQL's integer, an amount beyond 100 digits). Repeats of an id
// within the call are marked as duplicates there. Then, in one transaction:
//
//  1. pg_advisory_xact_lock on a 64-bit hash of every (tenant, store, epoch)
//     written (an unsequenced id locks the epoch ""), in ascending order:
//     transactions writing the same epoch serialize, so the duplicate check
//     and the range merge below see each other's results, and rows with one
//     key are never inserted by two transactions at once; the fixed order
//     and the sorted counter updates keep them from deadlocking;
//  2. one binary COPY of all rows into the session's temporary staging table
//     (created by each new connection, ON COMMIT DELETE ROWS);
//  3. one statement that inserts the staged rows into the kind tables with
//     INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING, skipping ids
//     already held whatever their kind (a sequenced id whose seq a range of
//     its epoch holds, an unsequenced id already in unsequenced_ids), merges
//     the inserted seqs into sequence_ranges, adds to store_counts, and
//     returns the inserted count per message;
//  4. COMMIT. Only then does Ingest acknowledge the messages.
//
// So deduplication is atomic with the insert: a message stored twice, by
// one worker or by two at once, is held once, and its second copy counts as
// duplicates. If PostgreSQL refuses data all the same (SQLSTATE class 22 or
// 54), the messages are stored one transaction each, and the refused one is
// rejected; every other error is returned as is and is transient for the
// caller (nothing was stored). Store and StoreBatch do not retry.
//
// One transaction per MQTT message costs a commit (a WAL flush) per ~200
// events; Ingest's batching of the messages waiting in its queue (Options.
// BatchMessages) shares it among up to 50 messages. BenchmarkIngestPostgres
// and BenchmarkRawCopy measure both against a plain COPY of the same rows.
//
// # Differences from BoltSink
//
// Event, Events and Traffic return data as jsonb gives it back (keys
// reordered, compacted, numbers as written), the time with microsecond
// precision and datacontenttype application/json. The embedded sink stores
// any well-formed event of any kind as it came; PostgreSQL rejects one whose
// data does not fit its kind (above), so a traffic event with a malformed
// day is held by the one and not the other.
// Sequence numbers above 2^62 are not tracked (stored as unsequenced). The
// query methods take no context, as BoltSink's do; each is bounded to a
// minute. Sessions run with jit off: the store statement's cost estimate
// invites JIT compilation that costs more than the statement.
package postgres
