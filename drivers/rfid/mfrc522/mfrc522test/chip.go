// Package mfrc522test is a register-level MFRC522 emulator for tests: a
// spi.PortCloser that behaves like the chip behind it, with an ISO/IEC
// 14443-3 type A card that can be put into and taken out of the field, and
// the IRQ output wired to a gpiotest.Pin.
//
// It emulates what periph.io/x/devices/v3/mfrc522 (v3.7.4) uses, after the
// NXP MFRC522 datasheet Rev. 3.9:
//
//   - SPI framing (§8.1.2.3): the first byte is (address<<1), with bit 7 set
//     for a read; a read returns each addressed register in the next byte.
//   - SoftReset (§10.3.1.10) restores the reset values of the registers,
//     empties the FIFO and switches the antenna off, so the card loses power
//     and falls back to IDLE.
//   - CommIrqReg and DivIrqReg (§9.3.1.5, §9.3.1.6): writing with bit 7
//     (Set1) clear clears the bits written as 1; LoAlertIRq cannot be
//     cleared while the FIFO holds no more than WaterLevel bytes.
//   - The IRQ pin (§9.3.1.3): active while an enabled interrupt request is
//     pending, low-active when CommIEnReg's IRqInv bit is set (periph always
//     sets it). Each falling edge is sent as gpio.Low on the pin's EdgesChan
//     without blocking: a full channel drops the edge, as a coalescing
//     kernel would.
//   - CalcCRC (§10.3.1.4): CRC_A over the FIFO (ISO/IEC 14443-3 annex B,
//     preset 0x6363) into CRCResultRegL/M, then DivIrqReg CRCIRq.
//   - Transceive (§10.3.1.8) starting on BitFramingReg StartSend: the FIFO
//     goes out to the card and its answer, if any, comes back in the FIFO
//     with TxIRq and RxIRq; without an answer the timer runs out (TimerIRq).
//
// The card follows the ISO/IEC 14443-3 type A state machine closely enough
// for periph's reader: REQA or WUPA wakes it from IDLE with ATQA; ANTICOLLISION
// (SEL 93/95/97, NVB 20) returns the cascade level's four bytes and their BCC;
// SELECT (NVB 70, with CRC_A) answers SAK, 0x04 while cascade levels remain
// and 0x08 (MIFARE Classic 1K) at the last one. 7- and 10-byte UIDs start
// their first levels with the cascade tag 0x88. Anything unexpected sends the
// card back to IDLE without an answer.
package mfrc522test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Registers, bits and commands used by the emulator (datasheet §9, §10).
const (
	regCommand    = 0x01
	regCommIEn    = 0x02
	regDivIEn     = 0x03
	regCommIrq    = 0x04
	regDivIrq     = 0x05
	regError      = 0x06
	regStatus1    = 0x07
	regFIFOData   = 0x09
	regFIFOLevel  = 0x0A
	regWaterLevel = 0x0B
	regControl    = 0x0C
	regBitFraming = 0x0D
	regTxControl  = 0x14
	regCRCResultM = 0x21
	regCRCResultL = 0x22
	regVersion    = 0x37

	cmdCalcCRC    = 0x03
	cmdTransceive = 0x0C
	cmdSoftReset  = 0x0F
	bitPowerDown  = 0x10 // CommandReg
	bitIRqInv     = 0x80 // CommIEnReg
	bitSet1       = 0x80 // CommIrqReg, DivIrqReg
	bitStartSend  = 0x80 // BitFramingReg
	bitFlush      = 0x80 // FIFOLevelReg
	antennaOn     = 0x03 // TxControlReg Tx1RFEn | Tx2RFEn
	errParity     = 0x02 // ErrorReg ParityErr

	irqTx      = 0x40
	irqRx      = 0x20
	irqIdle    = 0x10
	irqLoAlert = 0x04
	irqErr     = 0x02
	irqTimer   = 0x01
	irqCRC     = 0x04 // DivIrqReg

	fifoSize   = 64
	cascadeTag = 0x88
)

// ISO/IEC 14443-3 type A commands.
const (
	piccREQA = 0x26
	piccWUPA = 0x52
	nvbAll   = 0x20 // ANTICOLLISION: the whole cascade level, please
	nvbSel   = 0x70 // SELECT: the whole cascade level follows
)

// Fault is a way the emulated reader or card misbehaves.
type Fault int

// Faults.
const (
	FaultNone   Fault = iota
	FaultBCC          // ANTICOLLISION answers carry a wrong BCC (periph: "CRC mismatch")
	FaultParity       // every card answer has a parity error (periph: "wrong number of bits -1")
	FaultMute         // the card answers REQA, then nothing: a card at the edge of the field
	FaultBus          // every SPI transfer fails with ErrBus
)

// ErrBus is what every SPI transfer returns under FaultBus.
var ErrBus = errors.New("mfrc522test: SPI transfer failed")

// Stats counts what happened on the chip.
type Stats struct {
	Requests   int // REQA or WUPA sent while a card was in the field or not
	UIDs       int // last cascade levels answered to ANTICOLLISION, BCC right: UIDs read
	Edges      int // falling edges on the IRQ pin
	SoftResets int // SoftReset commands
	PowerDowns int // CommandReg writes with PowerDown set (periph's Halt)
}

type cardState int

const (
	idle cardState = iota
	ready
	active
)

// Chip is an emulated MFRC522 with its antenna. It implements
// spi.PortCloser; Connect may be called any number of times, every
// connection talks to the same chip. It is safe for concurrent use.
type Chip struct {
	irq *gpiotest.Pin

	mu      sync.Mutex
	regs    [64]byte
	fifo    []byte
	version byte
	uid     []byte // card in the field; nil when none
	state   cardState
	level   int // cascade level the card is at
	fault   Fault
	irqLow  bool // level of the IRQ pin
	stats   Stats
}

// NewChip returns a genuine MFRC522 v2.0 (VersionReg 0x92) with no card in
// the field, its IRQ output wired to irq. irq may be nil (not wired); if
// not, it needs an EdgesChan, which periph's driver also requires.
func NewChip(irq *gpiotest.Pin) *Chip {
	c := &Chip{irq: irq, version: 0x92}
	c.reset()
	return c
}

// SetVersion sets what VersionReg reads: 0x91 v1.0, 0x92 v2.0, 0x88 for an
// FM17522 clone, 0x12 for a counterfeit.
func (c *Chip) SetVersion(v byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version = v
	c.regs[regVersion] = v
}

// Present puts a card with the given UID (4, 7 or 10 bytes) into the field.
func (c *Chip) Present(uid []byte) {
	if n := len(uid); n != 4 && n != 7 && n != 10 {
		panic(fmt.Sprintf("mfrc522test: a UID has 4, 7 or 10 bytes, not %d", n))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uid = bytes.Clone(uid)
	c.state = idle
}

// Remove takes the card out of the field.
func (c *Chip) Remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uid = nil
}

// SetFault makes the chip or card misbehave from now on; FaultNone heals it.
func (c *Chip) SetFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault = f
}

// Stats returns what happened so far.
func (c *Chip) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// String implements spi.Port.
func (c *Chip) String() string { return "mfrc522test" }

// Connect implements spi.Port.
func (c *Chip) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	if mode != spi.Mode0 || bits != 8 {
		return nil, fmt.Errorf("mfrc522test: the MFRC522 talks SPI mode 0 with 8-bit words, not %s with %d", mode, bits)
	}
	if f > 10*physic.MegaHertz {
		return nil, fmt.Errorf("mfrc522test: %s is above the MFRC522's 10 Mbit/s", f)
	}
	return chipConn{c}, nil
}

// Close implements spi.PortCloser.
func (c *Chip) Close() error { return nil }

// LimitSpeed implements spi.PortCloser.
func (c *Chip) LimitSpeed(f physic.Frequency) error { return nil }

// chipConn is a connection to the chip.
type chipConn struct{ c *Chip }

func (cc chipConn) String() string       { return "mfrc522test" }
func (cc chipConn) Duplex() conn.Duplex  { return conn.Full }
func (cc chipConn) Tx(w, r []byte) error { return cc.c.tx(w, r) }

func (cc chipConn) TxPackets(p []spi.Packet) error {
	for _, pk := range p {
		if err := cc.c.tx(pk.W, pk.R); err != nil {
			return err
		}
	}
	return nil
}

// tx is one SPI transaction (datasheet §8.1.2). A read sends the addresses
// to read, one per byte, then a 0; a write sends one address and the data
// for it.
func (c *Chip) tx(w, r []byte) error {
	if len(r) != 0 && len(r) != len(w) {
		return fmt.Errorf("mfrc522test: full duplex needs as many bytes read as written, not %d and %d", len(r), len(w))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fault == FaultBus {
		return ErrBus
	}
	if len(w) == 0 {
		return nil
	}
	if w[0]&0x80 != 0 { // read
		for i := 1; i < len(w); i++ {
			v := c.read((w[i-1] >> 1) & 0x3F)
			if r != nil {
				r[i] = v
			}
		}
		if r != nil {
			r[0] = 0
		}
		c.updateIRQ()
		return nil
	}
	for _, v := range w[1:] {
		c.write((w[0]>>1)&0x3F, v)
	}
	c.updateIRQ()
	return nil
}

func (c *Chip) read(reg byte) byte {
	switch reg {
	case regFIFOData:
		if len(c.fifo) == 0 {
			return 0
		}
		v := c.fifo[0]
		c.fifo = c.fifo[1:]
		return v
	case regFIFOLevel:
		return byte(len(c.fifo))
	case regStatus1:
		if len(c.fifo) <= int(c.regs[regWaterLevel]) {
			return 0x01 // LoAlert
		}
		return 0
	}
	return c.regs[reg]
}

func (c *Chip) write(reg, v byte) {
	switch reg {
	case regCommand:
		c.command(v)
	case regCommIrq, regDivIrq:
		if v&bitSet1 != 0 {
			c.regs[reg] |= v &^ bitSet1
		} else {
			c.regs[reg] &^= v
		}
	case regFIFOData:
		if len(c.fifo) < fifoSize {
			c.fifo = append(c.fifo, v)
		}
	case regFIFOLevel:
		if v&bitFlush != 0 {
			c.fifo = c.fifo[:0]
		}
	case regBitFraming:
		c.regs[reg] = v
		if v&bitStartSend != 0 && c.regs[regCommand]&0x0F == cmdTransceive {
			c.transceive(v & 0x07)
		}
	case regTxControl:
		c.regs[reg] = v
		if v&antennaOn == 0 {
			c.state = idle // no field, no power
		}
	case regStatus1, regVersion, regCRCResultM, regCRCResultL:
		// read-only
	default:
		c.regs[reg] = v
	}
}

func (c *Chip) command(v byte) {
	c.regs[regCommand] = v & 0x3F
	if v&bitPowerDown != 0 {
		c.stats.PowerDowns++
	}
	switch v & 0x0F {
	case cmdSoftReset:
		c.stats.SoftResets++
		c.reset()
	case cmdCalcCRC:
		crc := crcA(c.fifo)
		c.fifo = c.fifo[:0]
		c.regs[regCRCResultL], c.regs[regCRCResultM] = crc[0], crc[1]
		c.regs[regDivIrq] |= irqCRC
	}
}

// reset restores the reset values (datasheet §9.3) of the registers the
// emulator models.
func (c *Chip) reset() {
	c.regs = [64]byte{}
	c.regs[regCommand] = 0x20
	c.regs[regCommIEn] = 0x80
	c.regs[regCommIrq] = irqIdle | irqLoAlert
	c.regs[regWaterLevel] = 0x08
	c.regs[regControl] = 0x10
	c.regs[regTxControl] = 0x80
	c.regs[regCRCResultM] = 0xFF
	c.regs[regCRCResultL] = 0xFF
	c.regs[regVersion] = c.version
	c.fifo = c.fifo[:0]
	c.state = idle
	c.updateIRQ()
}

// transceive sends the FIFO to the card, lastBits bits of its last byte
// (0 meaning all eight), and puts the card's answer in the FIFO.
func (c *Chip) transceive(lastBits byte) {
	frame := bytes.Clone(c.fifo)
	c.fifo = c.fifo[:0]
	c.regs[regError] = 0
	c.regs[regCommIrq] |= irqTx
	answer, ok := c.card(frame, lastBits)
	if !ok {
		c.regs[regCommIrq] |= irqTimer // TAuto: the timer ran out waiting
		return
	}
	c.fifo = append(c.fifo, answer...)
	c.regs[regControl] &^= 0x07 // RxLastBits: answers are whole bytes
	c.regs[regCommIrq] |= irqRx
	if c.fault == FaultParity {
		c.regs[regError] |= errParity
		c.regs[regCommIrq] |= irqErr
	}
}

// card is the PICC's answer to frame, if it answers.
func (c *Chip) card(frame []byte, lastBits byte) ([]byte, bool) {
	if c.uid == nil || c.regs[regTxControl]&antennaOn == 0 {
		return nil, false
	}
	switch {
	case lastBits == 7 && len(frame) == 1 && (frame[0] == piccREQA || frame[0] == piccWUPA):
		c.stats.Requests++
		if c.state != idle {
			c.state = idle // not for a card already awake
			return nil, false
		}
		c.state, c.level = ready, 0
		return []byte{c.atqa(), 0x00}, true

	case lastBits == 0 && len(frame) == 2 && frame[1] == nvbAll && c.selects(frame[0]):
		if c.fault == FaultMute {
			c.state = idle
			return nil, false
		}
		cl := c.cascadeLevel()
		bcc := cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
		switch {
		case c.fault == FaultBCC:
			bcc ^= 0xFF
		case c.level == len(c.uid)/3-1:
			c.stats.UIDs++
		}
		return append(cl, bcc), true

	case lastBits == 0 && len(frame) == 9 && frame[1] == nvbSel && c.selects(frame[0]):
		cl := c.cascadeLevel()
		bcc := cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
		if !bytes.Equal(frame[2:6], cl) || frame[6] != bcc || crcA(frame[:7]) != [2]byte(frame[7:]) {
			c.state = idle
			return nil, false
		}
		sak := byte(0x08)
		if c.level < len(c.uid)/3-1 { // 4 → 1 level, 7 → 2, 10 → 3
			sak = 0x04 // cascade bit: UID not complete
			c.level++
		} else {
			c.state = active
		}
		crc := crcA([]byte{sak})
		return []byte{sak, crc[0], crc[1]}, true
	}
	c.state = idle
	return nil, false
}

// selects reports whether sel is the SEL code of the cascade level the card
// expects while READY (ISO/IEC 14443-3 §6.5.3: 93, 95, 97).
func (c *Chip) selects(sel byte) bool {
	return c.state == ready && sel == 0x93+2*byte(c.level)
}

// atqa is the first ATQA byte: UID size in bits 8–7, bit frame
// anticollision in bit 3.
func (c *Chip) atqa() byte {
	return byte(len(c.uid)/3-1)<<6 | 0x04
}

// cascadeLevel is the four UID bytes of the card's current cascade level:
// the cascade tag and three UID bytes on all but the last.
func (c *Chip) cascadeLevel() []byte {
	last := len(c.uid)/3 - 1
	if c.level == last {
		return bytes.Clone(c.uid[len(c.uid)-4:])
	}
	return append([]byte{cascadeTag}, c.uid[3*c.level:3*c.level+3]...)
}

// updateIRQ drives the IRQ pin from the interrupt requests and sends a
// falling edge on the pin's EdgesChan, without blocking.
func (c *Chip) updateIRQ() {
	if len(c.fifo) <= int(c.regs[regWaterLevel]) {
		c.regs[regCommIrq] |= irqLoAlert // cannot be cleared while the FIFO is low
	}
	pending := c.regs[regCommIEn]&c.regs[regCommIrq]&0x7F != 0 ||
		c.regs[regDivIEn]&c.regs[regDivIrq]&0x14 != 0
	low := pending == (c.regs[regCommIEn]&bitIRqInv != 0)
	if low && !c.irqLow && c.irq != nil {
		select {
		case c.irq.EdgesChan <- gpio.Low:
		default:
		}
		c.stats.Edges++
	}
	c.irqLow = low
}

// crcA is the ISO/IEC 14443-3 type A CRC (annex B): CRC-16 with the
// reflected polynomial 0x8408 and preset 0x6363, low byte first.
func crcA(data []byte) [2]byte {
	crc := uint16(0x6363)
	for _, b := range data {
		b ^= byte(crc)
		b ^= b << 4
		crc = crc>>8 ^ uint16(b)<<8 ^ uint16(b)<<3 ^ uint16(b)>>4
	}
	return [2]byte{byte(crc), byte(crc >> 8)}
}

var _ spi.PortCloser = (*Chip)(nil)
