// Package serialtest gives serial drivers' tests a real pseudo-terminal
// opened with go.bug.st/serial, as the daemon opens a device.
package serialtest

import (
	"os"
	"testing"

	"github.com/creack/pty"
	"go.bug.st/serial"
)

// Open returns the master of a new pseudo-terminal and its slave opened with
// go.bug.st/serial at 9600 baud. Write to the master only after this
// returns: before the serial port sets raw mode, the default cooked termios
// would echo the bytes and turn CR into LF. Both ends are closed when the
// test ends.
func Open(t testing.TB) (*os.File, serial.Port) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	port, err := serial.Open(slave.Name(), &serial.Mode{BaudRate: 9600})
	slave.Close() // the serial port has its own descriptor
	if err != nil {
		master.Close()
		t.Fatalf("open %s: %v", slave.Name(), err)
	}
	t.Cleanup(func() {
		port.Close()
		master.Close()
	})
	return master, port
}
