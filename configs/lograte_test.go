package configs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
)

// lockedBuffer is a bytes.Buffer safe for the summary timer's writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestRateLimitDeviceFlood: a device spewing 10 000 errors over ten minutes
// writes its first five per minute and one summary per minute, and the
// counts add up; a quiet device and other messages are untouched.
func TestRateLimitDeviceFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf lockedBuffer
		log := slog.New(configs.NewRateLimit(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), nil))
		drivers := log.With("component", "drivers")
		const n = 10000
		every := 10 * time.Minute / n
		for i := range n {
			drivers.Error("read frame", "device", "door-reader", "err", errors.New("checksum"))
			if i%1000 == 0 {
				drivers.Warn("read frame", "device", "fresh-reader", "err", errors.New("checksum"))
				log.Info("gateway started", "component", "daemon")
			}
			time.Sleep(every)
		}
		time.Sleep(time.Minute) // the last window ends
		synctest.Wait()

		lines := buf.lines(t)
		var passed, summaries, suppressed, fresh, started int
		for _, m := range lines {
			switch {
			case m["msg"] == "read frame" && m["device"] == "door-reader":
				passed++
				if m["level"] != "ERROR" || m["component"] != "drivers" {
					t.Errorf("passed record lost its level or attributes: %v", m)
				}
			case m["msg"] == "suppressed similar messages":
				summaries++
				suppressed += int(m["suppressed"].(float64))
				if m["source"] != "door-reader" || m["message"] != "read frame" || m["level"] != "ERROR" || m["component"] != "drivers" {
					t.Errorf("summary %v: want source door-reader, message, level ERROR and the logger's attributes", m)
				}
			case m["device"] == "fresh-reader":
				fresh++
			case m["msg"] == "gateway started":
				started++
			}
		}
		if passed != 10*5 || summaries != 10 {
			t.Errorf("%d records and %d summaries written for 10 minutes of flood; want 50 and 10", passed, summaries)
		}
		if passed+suppressed != n {
			t.Errorf("written %d + suppressed %d = %d; want %d", passed, suppressed, passed+suppressed, n)
		}
		if fresh != 10 || started != 10 {
			t.Errorf("another device's %d and another message's %d records: want all 10 each", fresh, started)
		}
		if len(lines) > 100 {
			t.Errorf("%d lines for a 10 000 record flood", len(lines))
		}
	})
}

// TestRateLimitWindows: the window restarts after a quiet period, the
// summary carries the highest level dropped, and disabled levels are not
// counted.
func TestRateLimitWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf lockedBuffer
		log := slog.New(configs.NewRateLimit(slog.NewJSONHandler(&buf, nil), &configs.RateOpts{Burst: 2, Interval: time.Second}))
		for range 100 {
			log.Debug("noisy", "component", "x") // disabled: neither written nor counted
		}
		log.Info("noisy", "component", "x")
		log.Info("noisy", "component", "x")
		log.Info("noisy", "component", "x")
		log.Error("noisy", "component", "x")
		log.Info("noisy", "component", "x")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		log.Info("noisy", "component", "x")

		var got []string
		for _, m := range buf.lines(t) {
			s := m["level"].(string) + " " + m["msg"].(string)
			if n, ok := m["suppressed"]; ok {
				s += " " + strings.TrimSpace(string(must(json.Marshal(n))))
			}
			got = append(got, s)
		}
		want := []string{"INFO noisy", "INFO noisy", "ERROR suppressed similar messages 3", "INFO noisy"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestLoggerRateLimited: the configured logger is rate-limited.
func TestLoggerRateLimited(t *testing.T) {
	var buf bytes.Buffer
	log := configs.Log{Level: "info", Format: "text"}.Logger(&buf)
	for range 50 {
		log.Error("device failed", "device", "d1")
	}
	if n := strings.Count(buf.String(), "device failed"); n != configs.DefaultRateOpts.Burst {
		t.Errorf("%d of 50 records written within a second; want %d", n, configs.DefaultRateOpts.Burst)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
