//go:build !linux

package hid

import (
	"errors"
	"fmt"
	"time"
)

// Device is an evdev input device; evdev exists on Linux only, where Open
// opens and grabs one.
type Device struct{}

// Open fails: evdev exists on Linux only.
func Open(path string) (*Device, error) {
	return nil, fmt.Errorf("open input device %s: evdev needs Linux: %w", path, errors.ErrUnsupported)
}

// Name returns "".
func (d *Device) Name() string { return "" }

// Read fails.
func (d *Device) Read(p []byte) (int, error) { return 0, errors.ErrUnsupported }

// SetReadDeadline fails.
func (d *Device) SetReadDeadline(t time.Time) error { return errors.ErrUnsupported }

// Close does nothing.
func (d *Device) Close() error { return nil }
