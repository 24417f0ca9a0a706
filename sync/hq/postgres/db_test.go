package postgres

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/pgtest"
)

func TestMigrations(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 2 || ms[0].name != "0001_events" {
		t.Fatalf("migrations = %+v", ms)
	}
}

// TestOpenConcurrently starts several workers on one empty schema at once:
// each migration is applied once and every Open succeeds.
func TestOpenConcurrently(t *testing.T) {
	dsn := pgtest.Schema(t)
	const workers = 4
	dbs := make([]*DB, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			db, err := Open(context.Background(), dsn, Options{MaxConns: 2})
			if err != nil {
				t.Error(err)
				return
			}
			dbs[i] = db
		})
	}
	wg.Wait()
	for _, db := range dbs {
		if db != nil {
			defer db.Close()
		}
	}
	if t.Failed() {
		return
	}
	ms, _ := migrations()
	var n, max int
	err := dbs[0].pool.QueryRow(context.Background(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &max)
	if err != nil || n != len(ms) || max != len(ms) {
		t.Errorf("schema_migrations: %d rows up to %d, %v; want %d", n, max, err, len(ms))
	}
	// Reopening applies nothing and keeps the data.
	mustStore(t, dbs[1].Sink, "acme", "s1", footfalls(t, "acme", "s1", "ep", 1, 2))
	db, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st, _ := db.Sink.Stats(); st.Events != 2 {
		t.Errorf("after reopening: %d events, want 2", st.Events)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:s3cret@127.0.0.1:1/x?connect_timeout=1&bad_sslmode=%zz", Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(malformed DSN) = %v; want an error without the password", err)
	}
	_, err = Open(context.Background(), "postgres://user:s3cret@127.0.0.1:1/x?connect_timeout=1&sslmode=disable", Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(unreachable) = %v; want an error without the password", err)
	}
}
