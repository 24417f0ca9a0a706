package postgres

import (
	"context"
	"testing"

	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/pgtest"
)

// openDB opens a DB on a fresh schema (see pgtest.Schema: skipped without
// REDCARPET_TEST_POSTGRES); it is closed when the test ends.
func openDB(tb testing.TB, o Options) *DB {
	tb.Helper()
	db, err := Open(context.Background(), pgtest.Schema(tb), o)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(db.Close)
	return db
}
