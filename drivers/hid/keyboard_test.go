package hid

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/hid/hidtest"
)

// Keyboard satisfies the interface the scanner and card reader drivers use.
var _ LineSource = (*Keyboard)(nil)

// line is one line a Keyboard delivered.
type line struct {
	text string
	at   time.Time
}

// collect runs k until it returns and gives its lines and its result.
func collect(ctx context.Context, k *Keyboard) ([]line, error) {
	var lines []line
	err := k.Run(ctx, func(text string, at time.Time) { lines = append(lines, line{text, at}) })
	return lines, err
}

func TestKeyboardDeviceGone(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, size := range []int{24, 16} {
		kb := hidtest.Keyboard{Size: size}
		records := kb.Type("0410000001233\n4006381333931\n")
		records = append(records, kb.Type("12")...) // unplugged mid-scan
		unplugged := &fs.PathError{Op: "read", Path: "/dev/input/event3", Err: syscall.ENODEV}
		// One byte per read: records split across reads.
		r := io.MultiReader(iotest.OneByteReader(bytes.NewReader(records)), iotest.ErrReader(unplugged))
		meter := drivers.NewMeter()
		k := NewKeyboard(r, &KeyboardOpts{RecordSize: size, Meter: meter, Now: func() time.Time { return t0 }})
		lines, err := collect(t.Context(), k)
		want := []line{{"0410000001233", t0}, {"4006381333931", t0}}
		if !slices.Equal(lines, want) {
			t.Errorf("%d-byte records: lines %v, want %v", size, lines, want)
		}
		if !errors.Is(err, syscall.ENODEV) {
			t.Errorf("%d-byte records: Run returned %v, want ENODEV", size, err)
		}
		if st := meter.Stats(); len(st.Rejected) != 0 {
			t.Errorf("rejected %v", st.Rejected)
		}
	}
}

func TestKeyboardEOF(t *testing.T) {
	k := NewKeyboard(bytes.NewReader(hidtest.Keyboard{Size: RecordSize}.Type("A1\n")), nil)
	lines, err := collect(t.Context(), k)
	if len(lines) != 1 || lines[0].text != "A1" || lines[0].at.IsZero() {
		t.Errorf("lines %v", lines)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("Run returned %v at the end of a capture, want io.EOF", err)
	}
}

func TestKeyboardCountsRejects(t *testing.T) {
	s := &script{kb: hidtest.Keyboard{Size: 24}}
	s.typ("12").dropped().report().typ("3\n").tap(hidtest.KeyTab).typ("\n")
	meter := drivers.NewMeter()
	k := NewKeyboard(bytes.NewReader(s.b), &KeyboardOpts{RecordSize: 24, Meter: meter})
	if lines, _ := collect(t.Context(), k); len(lines) != 0 {
		t.Errorf("lines %v", lines)
	}
	st := meter.Stats()
	if st.Rejected[drivers.RejectDropped] != 1 || st.Rejected[drivers.RejectFormat] != 1 {
		t.Errorf("rejected %v, want 1 dropped and 1 format", st.Rejected)
	}
}

// A reader with deadlines (*os.File, *Device): cancelling ctx ends a blocked
// Read.
func TestKeyboardCancelWithDeadline(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close() // open until the end: only the deadline can end the Read
	k := NewKeyboard(r, nil)
	ctx, cancel := context.WithCancel(t.Context())
	lines, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- k.Run(ctx, func(text string, _ time.Time) { lines <- text }) }()
	if _, err := w.Write(hidtest.Keyboard{Size: RecordSize}.Type("42\n")); err != nil {
		t.Fatal(err)
	}
	if got := <-lines; got != "42" {
		t.Fatalf("line %q", got)
	}
	cancel() // Run is reading again, or about to
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run blocked after cancel")
	}

	// A later Run on the same reader clears the deadline.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	go func() { done <- k.Run(ctx, func(text string, _ time.Time) { lines <- text }) }()
	if _, err := w.Write(hidtest.Keyboard{Size: RecordSize}.Type("43\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-lines:
		if got != "43" {
			t.Errorf("line %q", got)
		}
	case err := <-done:
		t.Fatalf("second Run returned %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no line from the second Run")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("second Run returned %v", err)
	}
}

// A reader without deadlines: the caller closes it after cancelling.
func TestKeyboardCancelByClose(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	k := NewKeyboard(r, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx, func(string, time.Time) {}) }()
	cancel()
	r.Close()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}

func TestKeyboardBadOptions(t *testing.T) {
	k := NewKeyboard(bytes.NewReader(nil), &KeyboardOpts{RecordSize: 20})
	if _, err := collect(t.Context(), k); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("record size 20: Run returned %v", err)
	}
}

// emptyReader returns (0, nil) forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestKeyboardNoProgress(t *testing.T) {
	if _, err := collect(t.Context(), NewKeyboard(emptyReader{}, nil)); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("Run returned %v, want io.ErrNoProgress", err)
	}
}
