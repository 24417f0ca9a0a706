package drivers

import "time"

// Port is an opened serial port as drivers use it; go.bug.st/serial's Port
// satisfies it. Read returns (0, nil) when the read timeout expires with
// nothing received (go.bug.st/serial's behaviour), and an error when the
// device is gone (unplugged, pseudo-terminal closed): the driver then
// returns that error and the daemon reopens the port with backoff.
type Port interface {
	Read(p []byte) (int, error)
	SetReadTimeout(t time.Duration) error
}
