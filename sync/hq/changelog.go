package hq

import (
	"context"
	"errors"

	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// ChangeLog is HQ's member and offer data and the versioned log of its
// changes, per tenant: what the downlink serves to stores (see package
// wire). The embedded store (bbolt) and PostgreSQL implement it.
// Implementations are safe for concurrent use.
type ChangeLog interface {
	// Append applies changes to the current data and records them, giving
	// them consecutive versions after the head, in one transaction. It
	// returns the new head. Change.Version is ignored on input.
	Append(ctx context.Context, tenant string, changes []wire.Change) (uint64, error)

	// Head returns the tenant's head: the latest version and the oldest
	// version still kept (older cursors get a snapshot).
	Head(ctx context.Context, tenant string) (wire.Head, error)

	// Since returns up to limit changes with versions after after, in
	// version order. It returns ErrTooOld when after is older than the
	// oldest change kept: the store needs a snapshot.
	Since(ctx context.Context, tenant string, after uint64, limit int) ([]wire.Change, error)

	// Snapshot returns up to limit upserts of the current data after
	// cursor ("" starts: members, then offers), the cursor of the next page
	// ("" after the last), and the version the data reflects. Erased
	// members are not in it.
	Snapshot(ctx context.Context, tenant, cursor string, limit int) (changes []wire.Change, next string, version uint64, err error)
}

// ErrTooOld is returned by ChangeLog.Since for a cursor older than the
// oldest change kept.
var ErrTooOld = errors.New("cursor older than the change log: a snapshot is needed")
