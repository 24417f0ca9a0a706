package postgres

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// benchPerMessage is the events per uplink message in the benchmarks, a
// realistic batch (the uplink packs 50–500).
const benchPerMessage = 200

// benchMessage returns one message of mixed kinds, as a store's backlog
// sends them: mostly recognitions and exposures, some footfall, device
// status, redemptions and baskets. Its ids are set by renumber.
func benchMessage(tb testing.TB, tenant, store string) []wire.CloudEvent {
	t := hqtest.T0
	var evs []edge.Event
	for i := range benchPerMessage {
		var e edge.Event
		switch i % 10 {
		case 0, 1, 2, 3:
			e = edge.Event{Kind: edge.KindRecognition, Recognition: &edge.Recognition{MemberID: "m-" + strconv.Itoa(i), Via: edge.ViaCard, Zone: "entrance", NewVisit: i%20 == 0}}
		case 4, 5, 6:
			e = edge.Event{Kind: edge.KindOfferShown, Exposure: &edge.Exposure{OfferID: "o-12", MemberID: "m-" + strconv.Itoa(i), Channel: edge.ChannelSignage, Screen: "zone-3", Rank: 1}}
		case 7:
			e = edge.Event{Kind: edge.KindFootfall, Footfall: &edge.Footfall{Door: "main", Start: t.Add(-15 * time.Minute), End: t, In: 12, Out: 9, Occupancy: 40}}
		case 8:
			e = edge.Event{Kind: edge.KindDeviceStatus, Device: &edge.DeviceStatus{Device: "reader-1", Kind: "mfrc522", State: edge.DeviceUp}}
		}
		if i%10 == 9 {
			continue // added below as raw events of the kinds edge does not have yet
		}
		e.ID, e.Source, e.Time = "x-1", "engine", t
		evs = append(evs, e)
	}
	ces := encode(tb, tenant, store, evs...)
	for i := 0; len(ces) < benchPerMessage; i++ {
		if i%2 == 0 {
			ces = append(ces, raw(tenant, store, "x-1", KindRedeemed, `{"offer_id":"o-12","member_id":"m-4","lane":"l2","basket_id":"b-77","discount":1.25}`))
		} else {
			ces = append(ces, raw(tenant, store, "x-1", KindBasketClosed, `{"basket_id":"b-77","lane":"l2","member_id":"m-4","total":23.40,"items":7,"currency":"EUR"}`))
		}
	}
	return ces
}

// renumber gives a message's events the ids epoch-(next+1) … and returns
// the next free sequence number.
func renumber(evs []wire.CloudEvent, epoch string, next int) int {
	for i := range evs {
		next++
		evs[i].ID = epoch + "-" + strconv.Itoa(next)
	}
	return next
}

// BenchmarkIngestPostgres measures events/s into PostgreSQL through the
// Sink, with messages of 200 new events of mixed kinds from 4 stores: one
// transaction per message (Store, as Ingest does without batching), and
// 50 messages per transaction (StoreBatch, as Ingest batches what waits in
// its queue). Compare with BenchmarkRawCopy, the raw limit.
func BenchmarkIngestPostgres(b *testing.B) {
	for _, perTx := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("messages_per_tx=%d", perTx), func(b *testing.B) {
			db := openDB(b, Options{})
			stores := []string{"s1", "s2", "s3", "s4"}
			msgs := make([][]wire.CloudEvent, perTx)
			for i := range msgs {
				msgs[i] = benchMessage(b, "acme", stores[i%len(stores)])
			}
			next := map[string]int{}
			ctx := context.Background()
			events := 0
			for b.Loop() {
				batches := make([]hq.Batch, perTx)
				for i, evs := range msgs {
					store := stores[i%len(stores)]
					next[store] = renumber(evs, "ep", next[store])
					batches[i] = hq.Batch{Tenant: "acme", Store: store, Events: evs}
				}
				if perTx == 1 {
					ins, _, err := db.Sink.Store(ctx, "acme", batches[0].Store, batches[0].Events)
					if err != nil || ins != benchPerMessage {
						b.Fatalf("Store = %d, %v", ins, err)
					}
				} else {
					res, err := db.Sink.StoreBatch(ctx, batches)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range res {
						if r.Err != nil || r.Inserted != benchPerMessage {
							b.Fatalf("result %+v", r)
						}
					}
				}
				events += perTx * benchPerMessage
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkRawCopy measures the raw limit for BenchmarkIngestPostgres: the
// same rows (the staging table's columns: keys, time, data and typed
// values) copied with pgx.CopyFrom into one plain table without keys or
// deduplication, 50 messages (10 000 events) per transaction.
func BenchmarkRawCopy(b *testing.B) {
	db := openDB(b, Options{})
	ctx := context.Background()
	if _, err := db.pool.Exec(ctx, `CREATE TABLE raw_events (LIKE pg_temp.rc_stage)`); err != nil {
		b.Fatal(err)
	}
	const perTx = 50
	stores := []string{"s1", "s2", "s3", "s4"}
	var rows []stagedRow
	for i := range perTx {
		store := stores[i%len(stores)]
		r, err := stageBatch(int32(i), &hq.Batch{Tenant: "acme", Store: store, Events: benchMessage(b, "acme", store)})
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, r...)
	}
	next := 0
	events := 0
	for b.Loop() {
		vals := make([]any, len(stageColumns))
		src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := &rows[i]
			next++
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5] = r.msg, true, r.tenant, r.store, "ep-"+strconv.Itoa(next), r.kind
			vals[6], vals[7], vals[8], vals[9] = "ep", int64(next), r.ev.Time, []byte(r.ev.Data)
			copy(vals[10:], r.typed[:])
			return vals, nil
		})
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"raw_events"}, stageColumns, src)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		events += len(rows)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
