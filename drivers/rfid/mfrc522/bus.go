package mfrc522

import (
	"sync/atomic"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/devices/v3/mfrc522/commands"
)

// busPort is the SPI port as periph's driver sees it. It keeps the
// connection periph opens (a port may be connected only once) so that the
// Reader can read VersionReg when periph's initialisation gave up, and
// counts failed transfers so that a failing bus can be told from a failing
// card: periph returns both kinds of error unwrapped.
type busPort struct {
	spi.Port
	conn *busConn // nil until Connect succeeded
}

// Connect implements spi.Port.
func (p *busPort) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	c, err := p.Port.Connect(f, mode, bits)
	if err != nil {
		return nil, err
	}
	p.conn = &busConn{Conn: c}
	return p.conn, nil
}

// failures returns how many transfers failed so far.
func (p *busPort) failures() uint64 {
	if p.conn == nil {
		return 0
	}
	return p.conn.failed.Load()
}

// busConn counts the transfers that fail.
type busConn struct {
	spi.Conn
	failed atomic.Uint64
}

// Tx implements spi.Conn.
func (c *busConn) Tx(w, r []byte) error {
	err := c.Conn.Tx(w, r)
	if err != nil {
		c.failed.Add(1)
	}
	return err
}

// TxPackets implements spi.Conn.
func (c *busConn) TxPackets(p []spi.Packet) error {
	err := c.Conn.TxPackets(p)
	if err != nil {
		c.failed.Add(1)
	}
	return err
}

// readVersion reads VersionReg the way periph's LowLevel.DevRead does: one
// two-byte transfer, the address shifted left with the read bit set, the
// value in the second byte (datasheet §8.1.2.3).
func readVersion(c spi.Conn) (byte, error) {
	r := make([]byte, 2)
	if err := c.Tx([]byte{commands.VersionReg<<1&0x7E | 0x80, 0}, r); err != nil {
		return 0, err
	}
	return r[1], nil
}
