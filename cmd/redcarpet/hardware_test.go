package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/mfrc522/mfrc522test"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/broker"
)

// ttyLink is a pseudo-terminal reached through a symlink, as real ports are
// reached through /dev/serial/by-id links.
type ttyLink struct {
	t      *testing.T
	link   string
	master *os.File
	slave  *os.File
}

func newTTY(t *testing.T, link string) *ttyLink {
	t.Helper()
	tt := &ttyLink{t: t, link: link}
	tt.recreate()
	t.Cleanup(tt.close)
	return tt
}

// recreate makes a new pseudo-terminal and points the link at it.
func (tt *ttyLink) recreate() {
	tt.t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		tt.t.Fatal(err)
	}
	tt.master, tt.slave = m, s
	os.Remove(tt.link)
	if err := os.Symlink(s.Name(), tt.link); err != nil {
		tt.t.Fatal(err)
	}
}

func (tt *ttyLink) close() {
	tt.master.Close()
	tt.slave.Close()
}

func (tt *ttyLink) write(b []byte) {
	tt.t.Helper()
	if _, err := tt.master.Write(b); err != nil {
		tt.t.Fatal(err)
	}
}

// sseFrames streams the events of one SSE URL: "event data" strings.
func sseFrames(t *testing.T, url, token string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	frames := make(chan string, 16)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event != "ping":
				frames <- event + " " + strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return frames
}

func nextFrame(t *testing.T, frames <-chan string, what string) string {
	t.Helper()
	select {
	case f := <-frames:
		return f
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s frame within 10s", what)
		return ""
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestSerialDevicesEndToEnd runs the daemon with an RDM6300 reader and a
// serial barcode scanner on real pseudo-terminals.
func TestSerialDevicesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	rfid := newTTY(t, filepath.Join(dir, "rfid"))
	scan := newTTY(t, filepath.Join(dir, "scanner"))
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer brk.Close()
	cfg, err := configs.Parse("pty.toml", fmt.Appendf(nil, `
[store]
tenant = "acme"
id = "pty"
timezone = "Europe/Paris"
[data]
dir = %q
[http]
listen = "127.0.0.1:0"
[hq]
broker = %q
[barcodes]
loyalty_prefixes = ["041"]
[[zones]]
id = "wine"
[[lanes]]
id = "1"
[[doors]]
id = "main"
[[devices]]
name = "wine-rfid"
kind = "rdm6300"
zone = "wine"
port = %q
[[devices]]
name = "lane-1-scanner"
kind = "serial_scanner"
lane = "1"
port = %q
`, filepath.Join(dir, "data"), brk.URL(), rfid.link, scan.link))
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	d, err := newDaemon(cfg, daemonOpts{logger: slog.New(slog.DiscardHandler), listener: ln, hardware: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// The cards of the two worked examples of the RDM6300 documentation:
	// tag 01 000734E0 and tag 62 E3086CED.
	err = seed(d, []edge.MemberRecord{
		{Member: edge.Member{ID: "M1", FirstName: "Anna", Tier: "gold", Stage: edge.StageActive, GreetByName: true,
			Affinity: map[string]float64{"wine": 1}}, Cards: [][]byte{{0x00, 0x07, 0x34, 0xE0}}, Loyalty: "0410000001233"},
		{Member: edge.Member{ID: "M2", FirstName: "Bruno", Tier: "silver", Stage: edge.StageActive, GreetByName: true,
			Affinity: map[string]float64{"wine": 1}}, Cards: [][]byte{{0xE3, 0x08, 0x6C, 0xED}}},
	}, []edge.Offer{{ID: "wine-10", Title: "10% off Loire reds", Channels: []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout},
		Categories: []string{"wine"}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(24 * time.Hour), DiscountPct: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	defer d.stop()
	base := "http://" + ln.Addr().String()
	up := func(name string) func() bool {
		return func() bool {
			for _, s := range d.engine.Stats().Devices {
				if s.Device == name {
					return s.State == edge.DeviceUp
				}
			}
			return false
		}
	}
	eventually(t, 10*time.Second, "both serial devices up", func() bool { return up("wine-rfid")() && up("lane-1-scanner")() })
	signage := sseFrames(t, base+"/signage/wine/events", "")
	checkout := sseFrames(t, base+"/checkout/1/events", d.laneTokens["1"])

	// A card frame on the reader: Anna's offer on the wine screen.
	rfid.write([]byte{0x02, '0', '1', '0', '0', '0', '7', '3', '4', 'E', '0', 'D', '2', 0x03})
	if f := nextFrame(t, signage, "signage"); !strings.HasPrefix(f, "offer ") || !strings.Contains(f, "Hello Anna!") || !strings.Contains(f, "wine-10") {
		t.Errorf("signage frame %q", f)
	}
	// A loyalty card scanned at lane 1: Anna on the checkout panel.
	scan.write([]byte("0410000001233\r\n"))
	f := nextFrame(t, checkout, "checkout")
	var v edge.CheckoutView
	if err := json.Unmarshal([]byte(strings.TrimPrefix(f, "member ")), &v); err != nil || !v.Known || v.Member.FirstName != "Anna" || v.Via != edge.ViaBarcode {
		t.Errorf("checkout frame %q (%v)", f, err)
	}

	// Noise, a bad checksum and a misread barcode are counted, and nothing
	// reaches the screens.
	rfid.write([]byte("\xff\x00garbage\x02010007ZZ\x03"))
	rfid.write([]byte{0x02, '0', '1', '0', '0', '0', '7', '3', '4', 'E', '0', 'D', '3', 0x03})
	scan.write([]byte("4006381333932\r\n"))
	eventually(t, 5*time.Second, "rejects counted", func() bool {
		m := httpGet(t, base+"/metrics")
		return strings.Contains(m, `redcarpet_device_rejected_total{device="wine-rfid",reason="checksum"} 1`) &&
			strings.Contains(m, `redcarpet_device_rejected_total{device="wine-rfid",reason="framing"}`) &&
			strings.Contains(m, `redcarpet_device_rejected_total{device="lane-1-scanner",reason="checksum"} 1`)
	})

	// The reader's terminal goes away (a USB adapter unplugged): reported
	// down, the rest keeps working; a new terminal behind the same link is
	// picked up.
	rfid.close()
	eventually(t, 10*time.Second, "the reader reported down", func() bool {
		return strings.Contains(httpGet(t, base+"/readyz"), "device wine-rfid (rdm6300): down")
	})
	scan.write([]byte("0410000001233\r\n"))
	if f := nextFrame(t, checkout, "checkout while the reader is down"); !strings.Contains(f, "Anna") {
		t.Errorf("checkout frame %q while the reader is down", f)
	}
	rfid.recreate()
	eventually(t, 15*time.Second, "the reader back up", up("wine-rfid"))
	rfid.write([]byte{0x02, '6', '2', 'E', '3', '0', '8', '6', 'C', 'E', 'D', '0', '8', 0x03})
	if f := nextFrame(t, signage, "signage after reconnect"); !strings.Contains(f, "Hello Bruno!") {
		t.Errorf("signage frame after reconnect %q", f)
	}
	m := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`redcarpet_device_reconnects_total{device="wine-rfid"} 1`,
		`redcarpet_device_reads_total{device="wine-rfid"} 2`,
		`redcarpet_device_reads_total{device="lane-1-scanner"} 2`,
		`redcarpet_device_up{device="wine-rfid",kind="rdm6300"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestMFRC522OpenPath opens an MFRC522 the way the daemon does, by the
// names in the configuration, with periph's registries holding an emulated
// chip on a test SPI port and gpiotest pins.
func TestMFRC522OpenPath(t *testing.T) {
	if err := hostInit(); err != nil {
		t.Fatal(err)
	}
	irq := &gpiotest.Pin{N: "RCTEST_IRQ", EdgesChan: make(chan gpio.Level, 1)}
	rst := &gpiotest.Pin{N: "RCTEST_RST"}
	chip := mfrc522test.NewChip(irq)
	for _, p := range []gpio.PinIO{irq, rst} {
		if err := gpioreg.Register(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gpioreg.Unregister(p.Name()) })
	}
	if err := spireg.Register("/dev/spidev-rctest", []string{"RCTEST0.0"}, -1, func() (spi.PortCloser, error) { return chip, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spireg.Unregister("/dev/spidev-rctest") })

	dev := configs.Device{Name: "entrance-rfid", Kind: "mfrc522", Zone: "entrance", SPI: "RCTEST0.0",
		ResetPin: "RCTEST_RST", IRQPin: "RCTEST_IRQ", PollTimeout: configs.D(200 * time.Millisecond), Debounce: configs.D(time.Second)}
	d := &daemon{log: slog.New(slog.DiscardHandler)}
	sess, err := openMFRC522(dev, nil, d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan edge.Event, 4)
	done := make(chan error, 1)
	go func() { done <- sess.run(ctx, out) }()
	chip.Present([]byte{0xDE, 0xAD, 0xBE, 0xEF})
	select {
	case ev := <-out:
		if ev.Source != "entrance-rfid" || ev.Card == nil || fmt.Sprintf("%X", ev.Card.UID) != "DEADBEEF" {
			t.Errorf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no card read within 10s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if err := sess.close(); err != nil {
		t.Errorf("close: %v", err)
	}

	// What the installer sees when the wiring is wrong.
	bad := dev
	bad.ResetPin = "GPIO99"
	if _, err := openMFRC522(bad, nil, d); err == nil || !strings.Contains(err.Error(), "reset_pin GPIO99: no such GPIO line") {
		t.Errorf("missing reset pin: %v", err)
	}
	chip.SetVersion(0x00)
	if _, err := openMFRC522(dev, nil, d); err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("silent chip: %v", err)
	}
}

// TestCounterPushThroughDaemon pushes cumulative registers to the daemon's
// counter endpoint: crossings reach the engine, and the baseline survives a
// restart so the next push counts only what is new.
func TestCounterPushThroughDaemon(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Parse("counter.toml", fmt.Appendf(nil, `
[store]
tenant = "acme"
id = "counter"
timezone = "Europe/Paris"
[data]
dir = %q
[http]
listen = "127.0.0.1:0"
[hq]
broker = "tcp://127.0.0.1:9"
[[doors]]
id = "car-park"
[[devices]]
name = "car-park-counter"
kind = "counter_push"
door = "car-park"
counter_id = "xc-01"
token_file = %q
in_register = "fw"
out_register = "bw"
`, filepath.Join(dir, "data"), tokenFile))
	if err != nil {
		t.Fatal(err)
	}
	start := func() (*daemon, string) {
		ln := listen(t)
		d, err := newDaemon(cfg, daemonOpts{logger: slog.New(slog.DiscardHandler), listener: ln, hardware: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.start(); err != nil {
			t.Fatal(err)
		}
		return d, "http://" + ln.Addr().String() + "/api/v1/counters/xc-01"
	}
	push := func(url, token, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	door := func(d *daemon) edge.DoorStats {
		for _, ds := range d.engine.Stats().Doors {
			if ds.Door == "car-park" {
				return ds
			}
		}
		return edge.DoorStats{}
	}
	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	later := time.Now().UTC().Format(time.RFC3339)

	d, url := start()
	if code := push(url, "wrong-token-0123456789", `{"registers":{"fw":1,"bw":1}}`); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code := push(url, "s3cret-token-0123456789", `{"time":"`+at+`","registers":{"fw":100,"bw":90}}`); code != 200 {
		t.Fatalf("baseline push: %d", code)
	}
	if code := push(url, "s3cret-token-0123456789", `{"time":"`+later+`","registers":[{"name":"FW","value":104},{"name":"bw","value":91}]}`); code != 200 {
		t.Fatalf("second push: %d", code)
	}
	eventually(t, 5*time.Second, "crossings counted", func() bool { ds := door(d); return ds.InToday == 4 && ds.OutToday == 1 })
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}

	d, url = start()
	defer d.stop()
	next := time.Now().UTC().Add(time.Second).Format(time.RFC3339)
	if code := push(url, "s3cret-token-0123456789", `{"time":"`+next+`","registers":{"fw":110,"bw":95}}`); code != 200 {
		t.Fatalf("push after restart: %d", code)
	}
	// The engine's day counters were restored (4 in, 1 out) and the stored
	// baseline (104, 91) makes this push count 6 in and 4 out.
	eventually(t, 5*time.Second, "crossings after restart", func() bool { ds := door(d); return ds.InToday == 10 && ds.OutToday == 5 })
	// One push after the restart: an in and an out crossing event.
	m := httpGet(t, strings.TrimSuffix(url, "/api/v1/counters/xc-01")+"/metrics")
	if !strings.Contains(m, `redcarpet_device_reads_total{device="car-park-counter"} 2`) {
		t.Errorf("counter reads not counted on the daemon's meter")
	}
}
