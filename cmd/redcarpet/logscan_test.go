package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
)

// uidForms returns the ways a card UID could be written into a log: hex in
// either case, plain or with ':', '-' or ' ' between the bytes, and the
// decimal number a keyboard-wedge reader types.
func uidForms(uid []byte) []string {
	h := hex.EncodeToString(uid)
	forms := []string{strings.ToUpper(h), h}
	for _, sep := range []string{":", "-", " "} {
		parts := make([]string, len(uid))
		for i, b := range uid {
			parts[i] = fmt.Sprintf("%02x", b)
		}
		forms = append(forms, strings.Join(parts, sep), strings.ToUpper(strings.Join(parts, sep)))
	}
	return append(forms, new(big.Int).SetBytes(uid).String())
}

// containsBounded reports whether s occurs in h not as part of a longer run
// of characters of the same class: a 4-byte UID's 8 hex digits occur by
// chance inside longer hex strings (pseudonyms, epochs), a barcode's digits
// inside longer numbers, a first name inside other words. A raw identifier
// written into a log stands alone (key=04A1B2C3, "uid":"04a1b2c3").
func containsBounded(h []byte, s string, class func(byte) bool) bool {
	for off := 0; ; {
		i := bytes.Index(h[off:], []byte(s))
		if i < 0 {
			return false
		}
		start, end := off+i, off+i+len(s)
		if (start == 0 || !class(h[start-1])) && (end == len(h) || !class(h[end])) {
			return true
		}
		off = start + 1
	}
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}
func isDigit(b byte) bool  { return '0' <= b && b <= '9' }
func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b >= 0x80 }

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// TestLogsCarryNoPersonalData runs a simulated store — every component the
// demo wires: devices, engine, tills, uplink, downlink from HQ, web server —
// with the log at debug level, then scans every log line for every card UID
// (hex in either case, with or without separators, decimal), barcode and
// member first name the simulation produced. Every line must be a
// structured record with snake_case keys.
func TestLogsCarryNoPersonalData(t *testing.T) {
	dir := t.TempDir()
	cfg, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir = dir
	cfg.Log = configs.Log{Level: "debug", Format: "json"}
	var logs syncBuffer
	log := cfg.Log.Logger(&logs)

	// The broker stands in for HQ's infrastructure, not the gateway: its
	// library's own log keys are not ours to name.
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer brk.Close()
	cfg.HQ.Broker = brk.URL()
	sink, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ingest := hq.New(hq.Options{Broker: brk.URL(), ClientID: "hq-logscan", Sink: sink, Logger: log})
	hqRun := start(ingest.Run)
	defer hqRun.stop()
	changes, err := sink.ChangeLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := hq.NewResponder(hq.ResponderOptions{Broker: brk.URL(), ClientID: "hq-logscan-downlink",
		Tenants: []string{cfg.Store.Tenant}, Log: changes, Logger: log})
	respRun := start(resp.Run)
	defer respRun.stop()
	<-ingest.Ready()
	<-resp.Ready()

	paris, _ := time.LoadLocation("Europe/Paris")
	begin := time.Date(2026, 11, 21, 10, 30, 0, 0, paris) // a Saturday
	so := sim.DefaultOpts
	so.Seed, so.Speed, so.Start = 11, 900, begin
	so.Location, so.Hours, so.Devices = cfg.Store.Location(), cfg.Store.OpeningOn, cfg.Devices
	so.Members = sim.Members(1000, 11, begin)
	so.Members = append(so.Members, sim.Staff(demoStaff, 11, so.Members)...)
	var till *simTill
	so.Till = func(c sim.Checkout) { till.Checkout(c) }
	s, err := sim.New(so)
	if err != nil {
		t.Fatal(err)
	}
	ids := &identifiers{uids: map[string][]byte{}, codes: map[string]bool{}}
	d, err := newDaemon(cfg, daemonOpts{
		now: s.Clock().Now, logger: log, listener: listen(t),
		display: func(web edge.Display) edge.Display {
			till = newSimTill(web, nil, 11, s.Clock())
			return till
		},
		drivers: []driver{{devices: cfg.Devices, open: always(tapped(s.Run, ids.tap))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	till.engine, till.member = d.engine, d.db.store.Member
	offers := sim.Offers(begin, cfg.Store.Location())
	if err := seed(d, so.Members, offers); err != nil {
		d.db.Close()
		t.Fatal(err)
	}
	if err := seedHQ(context.Background(), changes, cfg.Store.Tenant, so.Members, offers); err != nil {
		d.db.Close()
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		d.db.Close()
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "members recognised, baskets closed and unknown cards read", func() bool {
		st := d.engine.Stats()
		ids.mu.Lock()
		defer ids.mu.Unlock()
		return st.Recognised >= 20 && st.Baskets >= 3 && st.UnknownCards >= 1 && len(ids.codes) >= 5
	})
	till.stop()
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	hqRun.stop()
	respRun.stop()

	out := logs.Bytes()
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) < 5 {
		t.Fatalf("only %d log lines: the scan would prove little\n%s", len(lines), out)
	}
	levels := map[string]int{}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Errorf("log line is not a structured record: %s", line)
			continue
		}
		levels[fmt.Sprint(rec["level"])]++
		if rec["msg"] == nil || rec["time"] == nil {
			t.Errorf("log line lacks msg or time: %s", line)
		}
		for k := range rec {
			if !snakeKey.MatchString(k) {
				t.Errorf("log key %q is not snake_case: %s", k, line)
			}
		}
	}
	t.Logf("%d log lines by level: %v", len(lines), levels)

	ids.mu.Lock()
	defer ids.mu.Unlock()
	for _, uid := range ids.uids {
		for _, f := range uidForms(uid) {
			class := isHex
			if f == new(big.Int).SetBytes(uid).String() {
				class = isDigit
			}
			if containsBounded(out, f, class) {
				t.Errorf("the log contains card UID %X as %q", uid, f)
			}
		}
	}
	// Every member's identifiers, not only those the run happened to read.
	names := map[string]bool{}
	codes := map[string]bool{}
	for c := range ids.codes {
		codes[c] = true
	}
	for _, m := range so.Members {
		for _, c := range m.Cards {
			if containsBounded(out, strings.ToUpper(hex.EncodeToString(c)), isHex) || containsBounded(out, hex.EncodeToString(c), isHex) {
				t.Errorf("the log contains member %s's card UID", m.Member.ID)
			}
		}
		codes[m.Loyalty], codes[m.List] = m.Loyalty != "", m.List != ""
		if m.Member.FirstName != "" {
			names[m.Member.FirstName] = true
		}
	}
	for c, ok := range codes {
		if ok && containsBounded(out, c, isDigit) {
			t.Errorf("the log contains barcode %s", c)
		}
	}
	for n := range names {
		if containsBounded(out, n, isLetter) {
			t.Errorf("the log contains the first name %q", n)
		}
	}
	if len(ids.uids) < 10 || len(names) < 20 {
		t.Errorf("only %d card UIDs read and %d first names: the scan would prove little", len(ids.uids), len(names))
	}
}

// TestUIDScan: the scan above finds a UID however it is written, and not
// inside longer hex strings or numbers.
func TestUIDScan(t *testing.T) {
	uid := []byte{0x04, 0xa1, 0xb2, 0xc3}
	found := func(line string) bool {
		for _, f := range uidForms(uid) {
			class := isHex
			if f == "77705923" {
				class = isDigit
			}
			if containsBounded([]byte(line), f, class) {
				return true
			}
		}
		return false
	}
	for line, want := range map[string]bool{
		`uid=04A1B2C3`:                     true,
		`{"card":"04a1b2c3"}`:              true,
		`card="04:A1:B2:C3"`:               true,
		`card="04-a1-b2-c3"`:               true,
		`err="unknown card 04 a1 b2 c3"`:   true,
		`number=77705923`:                  true,
		`pseudonym=9f04a1b2c3e7`:           false,
		`seq=177705923`:                    false,
		`msg="card read" pseudonym=abcdef`: false,
	} {
		if got := found(line); got != want {
			t.Errorf("%s: found %v, want %v", line, got, want)
		}
	}
	if !containsBounded([]byte(`greeting="Bonjour Léa"`), "Léa", isLetter) || containsBounded([]byte(`zone=Roseraie`), "Rose", isLetter) {
		t.Error("first names are not matched as whole words")
	}
}
