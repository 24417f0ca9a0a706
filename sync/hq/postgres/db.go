package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configures Open. Zero values take the defaults noted.
type Options struct {
	// MaxConns bounds the pool's connections, shared by the Sink and the
	// ChangeLog; default 4. Each Ingest worker holds one while it stores.
	MaxConns int32

	// Retain is how many changes the ChangeLog keeps per tenant; older
	// ones are deleted as new ones are appended, and a store whose cursor
	// is older gets a snapshot. Default 100000.
	Retain int

	Logger *slog.Logger // default: discard
}

func (o *Options) defaults() {
	if o.MaxConns <= 0 {
		o.MaxConns = 4
	}
	if o.Retain <= 0 {
		o.Retain = 100000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// DB is HQ's PostgreSQL database: one connection pool shared by the event
// Sink and the downlink ChangeLog.
type DB struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	o    Options

	Sink      *Sink
	ChangeLog *ChangeLog
}

// Open connects to the database named by dsn (a PostgreSQL URL or
// keyword/value string, as pgx reads it; a search_path parameter selects
// the schema), applies the migrations this build has and the database
// lacks, and returns the DB. Several workers may Open the same database at
// once: migrations are applied under an advisory lock, each in its own
// transaction.
func Open(ctx context.Context, dsn string, o Options) (*DB, error) {
	o.defaults()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("open hq database: malformed DSN")
	}
	cfg.MaxConns = o.MaxConns
	// The store statement's estimated cost crosses jit_above_cost, and
	// compiling it takes longer (0.2–0.4 s) than running it on 10 000 rows.
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, stageDDL)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open hq database %s: %w", target(cfg), err)
	}
	db := &DB{pool: pool, log: o.Logger.With("component", "hq_postgres"), o: o}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open hq database %s: %w", target(cfg), err)
	}
	db.Sink = &Sink{db: db}
	db.ChangeLog = &ChangeLog{db: db, retain: o.Retain}
	return db, nil
}

// target names the database for errors and logs, without credentials.
func target(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Close closes the pool, waiting for connections in use to be released.
func (db *DB) Close() { db.pool.Close() }

// Pool is the connection pool, for queries of the schema doc.go describes.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded SQL file, "NNNN_name.sql".
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Versions
// must be 1, 2, 3 …: a gap or a repeat is a build error (TestMigrations).
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files { // Glob sorts
		name := path.Base(f)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(out)+1 {
			return nil, fmt.Errorf("migration %s: want version %d", name, len(out)+1)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	return out, nil
}

// migrationLock is the advisory lock key under which migrations run (with
// the schema's name, so that schemas of one database migrate
// independently).
const migrationLock = "redcarpet.hq.migrate"

// migrate applies the missing migrations, each in a transaction with its
// row in schema_migrations, holding a session advisory lock so that
// workers starting together apply each migration once.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var key string
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	locked := false
	defer func() {
		if locked {
			_, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
			if err != nil {
				// The lock lasts as long as the session: never hand the
				// connection out again.
				conn.Hijack().Close(context.Background())
				return
			}
		}
		conn.Release()
	}()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	if schema == "" {
		return errors.New("no schema to create tables in: check search_path")
	}
	key = migrationLock + ":" + schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", key); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	locked = true
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	if have > len(ms) {
		db.log.Warn("database has migrations this build does not know; continuing",
			"database_version", have, "build_version", len(ms))
	}
	for _, m := range ms[min(have, len(ms)):] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// Simple protocol: a file holds several statements.
			if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			if m.version == len(ms) {
				// Every table of this build exists now.
				if err := db.retype(ctx, tx); err != nil {
					return fmt.Errorf("move events to their tables: %w", err)
				}
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		db.log.Info("applied migration", "migration", m.name, "schema", schema)
	}
	return nil
}

// validID reports whether s has the shape configs requires of tenant and
// store ids: ^[a-z0-9][a-z0-9-]{0,62}$ (as package hq checks them).
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// retype moves the rows of other_events whose kind this build keeps in a
// table of its own to that table: events a store sent before HQ knew their
// kind (a store upgraded before HQ), so that queries of the kind's table
// find them. Each is decoded as StoreBatch decodes it; one whose data does
// not fit its kind stays in other_events. It runs in the transaction of
// the build's last migration, once per upgrade. The counters and the
// coverage are per kind and id, not per table: they stay as they are.
func (db *DB) retype(ctx context.Context, tx pgx.Tx) error {
	kinds := make([]string, len(kindSpecs))
	for i, k := range kindSpecs {
		kinds[i] = k.kind
	}
	rows, err := tx.Query(ctx, `DELETE FROM other_events WHERE kind = ANY($1)
		RETURNING tenant, store, event_id, kind, time, data::text, received_at`, kinds)
	if err != nil {
		return err
	}
	type row struct {
		tenant, store, id, kind, data string
		time                          *time.Time
		received                      time.Time
	}
	var r row
	var moved []row
	if _, err := pgx.ForEachRow(rows, []any{&r.tenant, &r.store, &r.id, &r.kind, &r.time, &r.data, &r.received}, func() error {
		moved = append(moved, r)
		return nil
	}); err != nil {
		return err
	}
	if len(moved) == 0 {
		return nil
	}
	var batch pgx.Batch
	kept := 0
	for _, r := range moved {
		spec := specByKind[r.kind]
		var v [numSlots]any
		if err := decodeData(r.kind, []byte(r.data), &v); err != nil {
			kept++
			batch.Queue(`INSERT INTO other_events (tenant, store, event_id, kind, time, data, received_at)
				VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7)`, r.tenant, r.store, r.id, r.kind, r.time, r.data, r.received)
			continue
		}
		names := []string{"tenant", "store", "event_id", "time", "data", "received_at"}
		args := []any{r.tenant, r.store, r.id, r.time, r.data, r.received}
		params := []string{"$1", "$2", "$3", "$4", "$5::text::jsonb", "$6"}
		for _, c := range spec.cols {
			names, args = append(names, c.name), append(args, v[c.slot])
			params = append(params, fmt.Sprintf("$%d::%s", len(args), slotTypes[c.slot]))
		}
		batch.Queue(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING",
			spec.table, strings.Join(names, ", "), strings.Join(params, ", ")), args...)
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return err
	}
	db.log.Info("moved events of newly typed kinds out of other_events",
		"events", len(moved)-kept, "kept_undecodable", kept)
	return nil
}
