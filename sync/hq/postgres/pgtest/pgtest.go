// Package pgtest gives tests of HQ's PostgreSQL code a schema of their own
// in the test database that REDCARPET_TEST_POSTGRES names (CI sets it).
// Unset, the tests that need PostgreSQL skip; set, the database must
// answer, and a test fails when it does not.
//
// Each Schema is created with a random name and dropped, with everything
// in it, when the test ends, so tests run in parallel and against a shared
// database without seeing each other's data.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Env names the environment variable that holds the test database's DSN,
// e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const Env = "REDCARPET_TEST_POSTGRES"

// DSN returns the test database's DSN. It skips the test when Env is
// unset.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		tb.Skip(Env + " is not set (a PostgreSQL DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable; CI sets it)")
	}
	return dsn
}

// Schema creates a schema of the test's own in the test database and
// returns a DSN whose search_path selects it. It skips the test when Env
// is unset and fails it when the database does not answer. The schema is
// dropped when the test ends, after everything the test registered later
// with tb.Cleanup (a pool on the DSN, say) is closed.
func Schema(tb testing.TB) string {
	tb.Helper()
	dsn := DSN(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("%s is set but PostgreSQL is unreachable: %v", Env, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rc_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(tb, dsn, schema)
}

// withSearchPath adds a search_path run-time parameter to a DSN, in URL or
// keyword/value form.
func withSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("%s: malformed URL", Env) // url's error quotes it, password included
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
