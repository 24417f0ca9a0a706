package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// Backups
//
// A backup is the database file as of one bbolt read transaction
// (tx.WriteTo): consistent, taken while the daemon trades. bbolt locks the
// file against a second process, so while the daemon runs it serves the
// copy itself (GET /api/v1/backup, admin token); when it is stopped,
// `redcarpet backup` reads the file directly. A backup holds members'
// personal fields sealed and cards as pseudonyms: it is only of use with
// the same db.key and card.key, which it does not contain; keep those
// apart from the backups.
//
// `redcarpet restore FILE` (daemon stopped) checks the file (bbolt's full
// consistency check, in a child process), that it opens with this
// gateway's keys, gives its outbox a new epoch (newEpoch), then puts it in
// place, keeping the file it replaces as redcarpet.db.replaced-<time>.

// backupPath is the daemon's backup endpoint.
const backupPath = "/api/v1/backup"

// serveBackup streams a consistent copy of the database to the store
// manager (the admin token). The read transaction lasts as long as the
// download; writers go on meanwhile (the mmap is sized far beyond the file,
// so they do not wait for it to end).
func (d *daemon) serveBackup(w http.ResponseWriter, r *http.Request) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || d.adminToken == "" ||
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(d.adminToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="redcarpet"`)
		http.Error(w, "the admin token is required", http.StatusUnauthorized)
		return
	}
	err := d.db.db.View(func(tx *bolt.Tx) error {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(tx.Size(), 10))
		w.Header().Set("Content-Disposition", `attachment; filename="redcarpet-`+time.Now().UTC().Format("20060102T150405Z")+`.db"`)
		_, err := tx.WriteTo(w)
		return err
	})
	if err != nil {
		d.log.Error("backup failed", "error", err)
	}
}

// cmdBackup writes a backup of the gateway database to -o.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", DefaultConfig, "configuration `file`")
	out := fs.String("o", "", "the backup `file` to write (required)")
	url := fs.String("url", "", "the daemon's base `URL` (default: from http.listen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return usageError("usage: redcarpet backup [-config FILE] [-url URL] -o FILE")
	}
	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		return err
	}
	msg, err := backup(ctx, cfg, *url, *out)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintln(stdout, msg)
	return nil
}

// backup writes a backup to out (through out.partial, checked, then
// renamed) and says what it did; url is the daemon's ("": from
// http.listen), used when the daemon holds the database.
func backup(ctx context.Context, cfg *configs.Config, url, out string) (string, error) {
	tmp := out + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp) // after the rename, there is nothing to remove
	how, err := writeBackup(ctx, cfg, url, f)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return "", err
	}
	if err := checkInChild(tmp, true); err != nil {
		return "", fmt.Errorf("the copy does not check: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	syncDir(filepath.Dir(out))
	fi, err := os.Stat(out)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("backup: %s, %d bytes (%s)", out, fi.Size(), how), nil
}

// writeBackup copies the database to w: from the file when no daemon
// holds it, else from the running daemon.
func writeBackup(ctx context.Context, cfg *configs.Config, url string, w io.Writer) (string, error) {
	path := filepath.Join(cfg.Data.Dir, DBFile)
	lock, err := lockFile(path, false)
	if lock != nil {
		lock.Close() // bbolt takes its own shared lock
	}
	switch {
	case err == nil && lock == nil:
		return "", fmt.Errorf("no database at %s", path)
	case err == nil:
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
		if err != nil {
			return "", fmt.Errorf("open database %s: %w", path, err)
		}
		defer db.Close()
		return "from the file, daemon stopped", db.View(func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(w)
			return err
		})
	case !errors.Is(err, errLocked):
		return "", err
	}
	_, admin, err := loadTokens(cfg)
	if err != nil {
		return "", err
	}
	if url == "" {
		url = localURL(cfg.HTTP.Listen)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+backupPath, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("the database is in use and the daemon does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("daemon: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("daemon sent %d of %d bytes", n, resp.ContentLength)
	}
	return "from the running daemon", err
}

// localURL is the daemon's base URL on this machine for a listen address.
func localURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// cmdRestore replaces the gateway database with a backup.
func cmdRestore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", DefaultConfig, "configuration `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("usage: redcarpet restore [-config FILE] BACKUP (with the daemon stopped)")
	}
	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		return err
	}
	msg, err := restore(cfg, fs.Arg(0))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintln(stdout, msg)
	return nil
}

// restore checks backup and puts it in place of the gateway database,
// keeping the replaced file aside; it says what it did.
func restore(cfg *configs.Config, backup string) (string, error) {
	path := filepath.Join(cfg.Data.Dir, DBFile)
	if err := checkInChild(backup, true); err != nil {
		return "", fmt.Errorf("%s does not check: %w", backup, err)
	}
	// Hold the live file's lock, as bbolt takes it: the daemon must not
	// be running, nor start meanwhile. (Not through bbolt: opening a
	// corrupt file, which a restore is often for, can crash the opener.)
	lock, err := lockFile(path, true)
	if err != nil {
		return "", err
	}
	if lock != nil {
		defer lock.Close()
	}
	tmp := path + ".restore"
	if err := copyFile(backup, tmp); err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	if err := openWithKeys(cfg, tmp); err != nil {
		return "", fmt.Errorf("%s: %w", backup, err)
	}
	if err := newEpoch(tmp); err != nil {
		return "", err
	}
	aside := ""
	if _, err := os.Stat(path); err == nil {
		aside = asideName(path, "replaced")
		if err := os.Rename(path, aside); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	syncDir(filepath.Dir(path))
	if aside != "" {
		return fmt.Sprintf("restored %s to %s; the replaced database is %s", backup, path, aside), nil
	}
	return fmt.Sprintf("restored %s to %s", backup, path), nil
}

// openWithKeys checks that the database at path is a gateway database
// whose members open with this gateway's keys.
func openWithKeys(cfg *configs.Config, path string) error {
	keyPath := cfg.Data.CardKeyFile
	if keyPath == "" {
		keyPath = filepath.Join(cfg.Data.Dir, "card.key")
	}
	key, err := loadCardKey(keyPath)
	if err != nil {
		return err
	}
	sealKey, err := loadDBKey(cfg)
	if err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	var first string
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("members")); b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				first = string(k)
			}
		}
		return nil
	})
	st, err := store.OpenWith(db, key, &store.Opts{SealKey: sealKey})
	if err != nil {
		return err
	}
	if first != "" {
		if _, err := st.Member(first); err != nil {
			return fmt.Errorf("made with other keys (db.key)? %w", err)
		}
	}
	return nil
}

// errLocked: another process (the daemon) holds the database.
var errLocked = errors.New("database is in use: is the daemon running?")

// lockFile takes the lock bbolt takes on a database file (flock: shared
// for readers, exclusive for a writer) without waiting, and returns the
// file holding it; nil when there is no file. errLocked when another
// process holds it.
func lockFile(path string, exclusive bool) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, errLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// newEpoch makes the outbox in the database at path start a new epoch
// (sync/outbox: a new random one at the next open). The restored file's
// sequence numbers restart where the backup stood, and HQ already holds
// the ids the replaced file issued after it: under the old epoch, new
// events would be dropped at HQ as duplicates. Events still queued in the
// backup are sent under the new epoch; those the replaced file had sent
// since reach HQ twice, under two ids.
func newEpoch(path string) error {
	db, err := bolt.Open(path, 0o600, outbox.DBOptions())
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("outbox.meta")); b != nil {
			return b.Delete([]byte("epoch"))
		}
		return nil
	})
	return errors.Join(err, db.Close())
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return errors.Join(err, dst.Sync(), dst.Close())
}
