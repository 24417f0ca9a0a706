package hid

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/hid/hidtest"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestCardUID(t *testing.T) {
	tests := []struct {
		format, text string
		want         []byte // nil: rejected
	}{
		{FormatDecimal, "0004718260", []byte{0x00, 0x47, 0xFE, 0xB4}},
		{FormatDecimal, "4718260", []byte{0x00, 0x47, 0xFE, 0xB4}},
		{FormatDecimal, "0000472288", []byte{0x00, 0x07, 0x34, 0xE0}}, // the EM4100 fob 01 000734E0
		{FormatDecimal, "472288", []byte{0x00, 0x07, 0x34, 0xE0}},
		{FormatDecimal, " 472288 ", []byte{0x00, 0x07, 0x34, 0xE0}},
		{FormatDecimal, "0", []byte{0, 0, 0, 0}},
		{FormatDecimal, "4294967295", []byte{0xFF, 0xFF, 0xFF, 0xFF}},                          // 2^32-1
		{FormatDecimal, "4294967296", []byte{0, 0, 1, 0, 0, 0, 0}},                             // 2^32: 7 bytes
		{FormatDecimal, "1247507916281476", []byte{0x04, 0x6E, 0x9A, 0x12, 0x34, 0x56, 0x84}},  // a 7-byte NXP UID
		{FormatDecimal, "72057594037927935", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}, // 2^56-1
		{FormatDecimal, "72057594037927936", nil},                                              // 2^56
		{FormatDecimal, "99999999999999999999999", nil},                                        // beyond 64 bits
		{FormatDecimal, "", nil},
		{FormatDecimal, "+472288", nil},
		{FormatDecimal, "-1", nil},
		{FormatDecimal, "472_288", nil},
		{FormatDecimal, "47 2288", nil},
		{FormatDecimal, "0x734E0", nil},
		{FormatDecimal, "000734E0", nil},
		{FormatHex, "000734E0", []byte{0x00, 0x07, 0x34, 0xE0}},
		{FormatHex, "000734e0", []byte{0x00, 0x07, 0x34, 0xE0}},
		{FormatHex, "04A2B3C4D5E680", []byte{0x04, 0xA2, 0xB3, 0xC4, 0xD5, 0xE6, 0x80}},
		{FormatHex, "0102030405060708090A", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, // 10 bytes
		{FormatHex, "123456", []byte{0x12, 0x34, 0x56}},                            // 3 bytes
		{FormatHex, "1234", nil},                                                   // 2 bytes
		{FormatHex, "0102030405060708090A0B", nil},                                 // 11 bytes
		{FormatHex, "734E0", nil},                                                  // odd
		{FormatHex, "0007 34E0", nil},
		{FormatHex, "00:07:34:E0", nil},
		{FormatHex, "00073G", nil},
	}
	for _, tt := range tests {
		got, ok := cardUID(tt.text, tt.format)
		if ok != (tt.want != nil) || !bytes.Equal(got, tt.want) {
			t.Errorf("%s %q: % X %v, want % X", tt.format, tt.text, got, ok, tt.want)
		}
	}
}

// lineFunc is a LineSource typing fixed lines, then waiting for ctx.
type lineFunc func(line func(text string, at time.Time))

func (f lineFunc) Run(ctx context.Context, line func(text string, at time.Time)) error {
	f(line)
	<-ctx.Done()
	return nil
}

func TestCardReader(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	src := lineFunc(func(line func(string, time.Time)) {
		line("0004718260", ms(0))   // presented
		line("0004718260", ms(300)) // some readers repeat while the card rests
		line("0004718260", ms(1700))
		line("472288", ms(1800))               // another card
		line("not a card", ms(1900))           // counted
		line("0004718260", ms(4000))           // presented again after 2.3 s
		line("4718260", ms(4100))              // the same card without leading zeros
		line("99999999999999999999", ms(4200)) // too big
	})
	meter := drivers.NewMeter()
	c, err := NewCardReader(src, &CardOpts{Name: "lane-2-rfid", Meter: meter})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	out, done := make(chan edge.Event, 16), make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	want := []struct {
		uid []byte
		at  time.Time
	}{
		{[]byte{0x00, 0x47, 0xFE, 0xB4}, ms(0)},
		{[]byte{0x00, 0x07, 0x34, 0xE0}, ms(1800)},
		{[]byte{0x00, 0x47, 0xFE, 0xB4}, ms(4000)},
	}
	for i, w := range want {
		ev := <-out
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		if ev.Kind != edge.KindCardRead || ev.Source != "lane-2-rfid" || !ev.Time.Equal(w.at) || !bytes.Equal(ev.Card.UID, w.uid) {
			t.Errorf("event %d: %s from %q at %s UID % X, want card.read from lane-2-rfid at %s UID % X",
				i, ev.Kind, ev.Source, ev.Time, ev.Card.UID, w.at, w.uid)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	if len(out) != 0 {
		t.Errorf("%d more events", len(out))
	}
	if st := meter.Stats(); st.Rejected[drivers.RejectFormat] != 2 {
		t.Errorf("rejected %v, want 2 format", st.Rejected)
	}
}

func TestCardReaderHexOverKeyboard(t *testing.T) {
	records := hidtest.Keyboard{Size: RecordSize}.Type("04a2b3c4d5e680\n04A2B3C4D5E680\n")
	c, err := NewCardReader(NewKeyboard(bytes.NewReader(records), nil), &CardOpts{Name: "door-rfid", NumberFormat: FormatHex, Debounce: -1})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan edge.Event, 4)
	err = c.Run(t.Context(), out)
	if err == nil || !strings.Contains(err.Error(), "door-rfid") {
		t.Errorf("Run returned %v at the end of the input, want an error naming the device", err)
	}
	if len(out) != 2 { // no debouncing
		t.Fatalf("%d events, want 2", len(out))
	}
	for range 2 {
		if ev := <-out; !bytes.Equal(ev.Card.UID, []byte{0x04, 0xA2, 0xB3, 0xC4, 0xD5, 0xE6, 0x80}) {
			t.Errorf("UID % X", ev.Card.UID)
		}
	}
}

// failing is a LineSource whose device is gone.
type failing struct{ err error }

func (f failing) Run(context.Context, func(string, time.Time)) error { return f.err }

func TestCardReaderErrors(t *testing.T) {
	gone := &failing{err: syscall.ENODEV}
	c, err := NewCardReader(gone, &CardOpts{Name: "door-rfid"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(t.Context(), make(chan edge.Event)); !errors.Is(err, syscall.ENODEV) || !strings.Contains(err.Error(), "door-rfid") {
		t.Errorf("Run returned %v, want ENODEV naming the device", err)
	}
	c, _ = NewCardReader(failing{}, nil)
	if err := c.Run(t.Context(), make(chan edge.Event)); err == nil {
		t.Error("a source that ended without cause: Run returned nil")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Run(ctx, make(chan edge.Event)); err != nil {
		t.Errorf("cancelled: Run returned %v", err)
	}

	if _, err := NewCardReader(nil, nil); err == nil {
		t.Error("NewCardReader(nil) succeeded")
	}
	if _, err := NewCardReader(gone, &CardOpts{NumberFormat: "octal"}); err == nil || !strings.Contains(err.Error(), "octal") {
		t.Errorf("number format octal: %v", err)
	}
	c, _ = NewCardReader(gone, nil)
	if c.o != DefaultCardOpts || c.debounce.Window != 1500*time.Millisecond {
		t.Errorf("defaults: %+v, window %s", c.o, c.debounce.Window)
	}
}

func TestCardReaderCancelWhileSending(t *testing.T) {
	src := lineFunc(func(line func(string, time.Time)) { line("1", time.Now()) })
	c, _ := NewCardReader(src, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, make(chan edge.Event)) }() // nobody receives
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}
