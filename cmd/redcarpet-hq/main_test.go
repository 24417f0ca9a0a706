package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func writeConfig(t *testing.T, broker, sinkPath string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hq.toml")
	cfg := fmt.Sprintf(`[broker]
url = %q
client_id = "hq-test-1"

[sink]
path = %q

[downlink]
tenants = ["acme"]

[http]
listen = "127.0.0.1:0"

[log]
level = "debug"
format = "json"
`, broker, sinkPath)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// httpAddr finds the address the run command logged it listens on.
func httpAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "http listening" {
			return l.Addr
		}
	}
	return ""
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunAndStats(t *testing.T) {
	b := hqtest.NewBroker(t)
	sinkPath := filepath.Join(t.TempDir(), "hq.db")
	cfg := writeConfig(t, b.URL, sinkPath)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "-config", cfg}, io.Discard, &logs) }()

	var base string
	waitFor(t, "the http listener", func() bool {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, logs.String())
		default:
		}
		base = httpAddr(logs.String())
		return base != ""
	})
	base = "http://" + base
	if code, _ := get(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	waitFor(t, "/readyz", func() bool { code, _ := get(base + "/readyz"); return code == http.StatusOK })

	pub := hqtest.NewPublisher(t, b.URL)
	evs := append(hqtest.Footfalls("abcd", 1, 3), hqtest.Footfall("abcd-5"))
	pub.Publish(t, wire.UplinkTopic("acme", "s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", evs...))
	pub.Publish(t, wire.UplinkTopic("acme", "s1", edge.KindFootfall), hqtest.Batch(t, "acme", "s1", evs[0]))
	pub.Publish(t, wire.UplinkTopic("acme", "s1", edge.KindFootfall), []byte("junk"))
	waitFor(t, "metrics of the stored events", func() bool {
		_, m := get(base + "/metrics")
		return strings.Contains(m, "redcarpet_hq_events_inserted_total 4") &&
			strings.Contains(m, "redcarpet_hq_events_duplicate_total 1") &&
			strings.Contains(m, `redcarpet_hq_messages_rejected_total{reason="payload"} 1`)
	})
	_, m := get(base + "/metrics")
	for _, want := range []string{"redcarpet_hq_connected 1", `redcarpet_hq_build_info{commit="unknown",version="dev"} 1`, "go_goroutines", "process_"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// bbolt is single-process: stats must say why it cannot read.
	err := run(context.Background(), []string{"stats", "-config", cfg}, io.Discard, io.Discard)
	if !errors.Is(err, hq.ErrLocked) || !strings.Contains(err.Error(), "redcarpet-hq run") {
		t.Errorf("stats while running = %v; want ErrLocked naming redcarpet-hq run", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"stats", "-config", cfg}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Logf("stats:\n%s", text)
	for _, want := range []string{"4 events stored, 1 duplicates dropped, 1 stores", "footfall.interval=4", "missing 4"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats output lacks %q:\n%s", want, text)
		}
	}

	out.Reset()
	if err := run(context.Background(), []string{"stats", "-config", cfg, "-json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep statsReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stats -json: %v\n%s", err, out.String())
	}
	if len(rep.Stores) != 1 || rep.Stores[0].Events != 4 {
		t.Fatalf("stats -json = %+v", rep)
	}
	e := rep.Stores[0].Epochs["abcd"]
	if e.Coverage != (hq.Coverage{Count: 4, MaxSeq: 5, Watermark: 3, Gaps: 1}) || len(e.Missing) != 1 || e.Missing[0] != 4 {
		t.Errorf("epoch abcd = %+v", e)
	}
}

func TestCommandLine(t *testing.T) {
	var ue usageError
	for _, args := range [][]string{nil, {"nope"}, {"run", "extra"}, {"stats", "-bogus"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "redcarpet-hq dev") {
		t.Errorf("version = %q, %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"run", "-h"}, io.Discard, io.Discard); err != nil {
		t.Errorf("run -h = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.toml")
	if err := run(context.Background(), []string{"run", "-config", missing}, io.Discard, io.Discard); err == nil {
		t.Error("run with a missing config succeeded")
	}
	// A sink file that does not exist yet has nothing to report.
	cfg := writeConfig(t, "tcp://127.0.0.1:1883", filepath.Join(t.TempDir(), "none.db"))
	if err := run(context.Background(), []string{"stats", "-config", cfg}, io.Discard, io.Discard); err == nil {
		t.Error("stats on a missing sink file succeeded")
	}
}

func TestImport(t *testing.T) {
	sinkPath := filepath.Join(t.TempDir(), "hq.db")
	cfg := writeConfig(t, "tcp://127.0.0.1:9", sinkPath)
	var out, errs bytes.Buffer
	members := filepath.Join("..", "..", "edge", "catalog", "testdata", "members.csv")
	if err := run(context.Background(), []string{"import", "members", "-config", cfg, members}, &out, &errs); err != nil {
		t.Fatalf("import members: %v\n%s", err, errs.String())
	}
	if !strings.HasPrefix(out.String(), "appended ") || !strings.Contains(out.String(), "for tenant acme") {
		t.Errorf("summary %q", out.String())
	}
	if !strings.Contains(errs.String(), "members.csv:") {
		t.Errorf("bad lines of the fixture not reported: %q", errs.String())
	}
	s, err := hq.OpenBolt(sinkPath)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := s.ChangeLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	head, err := cl.Head(context.Background(), "acme")
	s.Close()
	if err != nil || head.Version == 0 {
		t.Fatalf("head after import: %+v %v", head, err)
	}
	if err := run(context.Background(), []string{"import", "members", "-config", cfg, "-tenant", "other", members}, &out, &errs); err == nil ||
		!strings.Contains(err.Error(), "not in downlink.tenants") {
		t.Errorf("import for a tenant no worker serves: %v", err)
	}
}
