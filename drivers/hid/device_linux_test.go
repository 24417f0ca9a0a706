package hid

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers/hid/hidtest"
)

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usb-Honeywell-event-kbd")
	_, err := Open(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "by-id") {
		t.Errorf("Open(missing): %v", err)
	}
}

func TestOpenNotEvdev(t *testing.T) {
	path := filepath.Join(t.TempDir(), "event0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if !errors.Is(err, syscall.ENOTTY) || !strings.Contains(err.Error(), "grab input device "+path) || !strings.Contains(err.Error(), "not an evdev device") {
		t.Errorf("Open(regular file): %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	// Root opens anything, so the permission case is checked on the error.
	err := openError("/dev/input/event3", &fs.PathError{Op: "open", Path: "/dev/input/event3", Err: syscall.EACCES})
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "input group") {
		t.Errorf("EACCES: %v", err)
	}
	err = grabError("/dev/input/event3", syscall.EBUSY)
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "another program") {
		t.Errorf("EBUSY: %v", err)
	}
	err = openError("/dev/input/event3", &fs.PathError{Op: "open", Path: "/dev/input/event3", Err: syscall.ENXIO})
	if !errors.Is(err, syscall.ENXIO) || !strings.Contains(err.Error(), "/dev/input/event3") {
		t.Errorf("ENXIO: %v", err)
	}
}

// pipeDevice is a Device over the read end of a pipe: no evdev here, but the
// same pollable *os.File behaviour.
func pipeDevice(t *testing.T) (*Device, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return &Device{f: r, name: "pipe"}, w
}

func TestDeviceCloseEndsRead(t *testing.T) {
	d, _ := pipeDevice(t)
	done := make(chan error, 1)
	go func() {
		_, err := d.Read(make([]byte, RecordSize))
		done <- err
	}()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the pending Read")
	}
}

func TestDeviceDeadline(t *testing.T) {
	d, _ := pipeDevice(t)
	if err := d.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(make([]byte, RecordSize)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the deadline: %v", err)
	}
	if d.Name() != "pipe" {
		t.Errorf("Name %q", d.Name())
	}
}

func TestKeyboardOverDevice(t *testing.T) {
	d, w := pipeDevice(t)
	k := NewKeyboard(d, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	lines, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- k.Run(ctx, func(text string, _ time.Time) { lines <- text }) }()
	if _, err := w.Write(hidtest.Keyboard{Size: RecordSize}.Type("0410000001233\n")); err != nil {
		t.Fatal(err)
	}
	if got := <-lines; got != "0410000001233" {
		t.Errorf("line %q", got)
	}
	cancel() // the Device's deadline ends the blocked Read
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}
