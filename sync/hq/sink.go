package hq

import (
	"context"
	"errors"

	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Sink is HQ's store of received events.
//
// Store writes the events of one uplink message, all from the store
// tenant/store, and reports how many were new and how many it already held.
// An implementation must:
//
//   - deduplicate by (CloudEvents source, id) in the same transaction as the
//     insert, so at-least-once delivery becomes exactly-once storage even when
//     several workers store the same message concurrently;
//   - be atomic: when it returns an error, nothing of evs was stored;
//   - be safe for concurrent use.
//
// Ingest calls Store only with events that passed its checks: each event's
// source is wire.Source(tenant, store), so (tenant, store, id) identifies an
// event as well as (source, id) does, its id is at most MaxIDBytes long and
// its kind is a KindName. An error wrapping ErrRejected says the batch can
// never be stored; any other error is taken as transient and the message is
// retried.
type Sink interface {
	Store(ctx context.Context, tenant, store string, evs []wire.CloudEvent) (inserted, duplicates int, err error)
}

// ErrRejected is wrapped by Sink errors for a batch that can never be stored
// (as opposed to a sink that is unavailable for now). Ingest acknowledges
// such a message and counts it rejected instead of retrying it forever.
var ErrRejected = errors.New("batch rejected")
