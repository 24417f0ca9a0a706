package mfrc522test

import (
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

func TestCRCA(t *testing.T) {
	// ISO/IEC 14443-3 annex B examples.
	for _, c := range []struct {
		in   []byte
		want [2]byte
	}{
		{[]byte{0x00, 0x00}, [2]byte{0xA0, 0x1E}},
		{[]byte{0x12, 0x34}, [2]byte{0x26, 0xCF}},
	} {
		if got := crcA(c.in); got != c.want {
			t.Errorf("crcA(% X) = % X, want % X", c.in, got, c.want)
		}
	}
}

// chipIO drives a chip register by register, as periph's driver does.
type chipIO struct {
	t *testing.T
	c spi.Conn
}

func (io chipIO) write(reg, v byte) {
	io.t.Helper()
	if err := io.c.Tx([]byte{reg << 1, v}, nil); err != nil {
		io.t.Fatal(err)
	}
}

func (io chipIO) read(reg byte) byte {
	io.t.Helper()
	r := make([]byte, 2)
	if err := io.c.Tx([]byte{reg<<1 | 0x80, 0}, r); err != nil {
		io.t.Fatal(err)
	}
	return r[1]
}

func (io chipIO) transceive(lastBits byte, frame ...byte) []byte {
	io.write(regFIFOLevel, bitFlush)
	io.write(regCommIrq, 0x7F) // clear all
	for _, b := range frame {
		io.write(regFIFOData, b)
	}
	io.write(regCommand, cmdTransceive)
	io.write(regBitFraming, bitStartSend|lastBits)
	io.write(regBitFraming, lastBits)
	answer := make([]byte, io.read(regFIFOLevel))
	for i := range answer {
		answer[i] = io.read(regFIFOData)
	}
	return answer
}

func TestChipSelectsDoubleSizeUID(t *testing.T) {
	irq := &gpiotest.Pin{N: "IRQ", EdgesChan: make(chan gpio.Level, 1)}
	chip := NewChip(irq)
	c, err := chip.Connect(10*physic.MegaHertz, spi.Mode0, 8)
	if err != nil {
		t.Fatal(err)
	}
	io := chipIO{t, c}
	if v := io.read(regVersion); v != 0x92 {
		t.Fatalf("VersionReg = %#02x, want 0x92", v)
	}
	io.write(regTxControl, 0x83)
	io.write(regCommIEn, bitIRqInv|irqRx)

	if got := io.transceive(7, piccREQA); len(got) != 0 {
		t.Fatalf("answer % X with no card in the field", got)
	}
	if io.read(regCommIrq)&irqTimer == 0 {
		t.Error("no TimerIRq without a card")
	}
	if len(irq.EdgesChan) != 0 {
		t.Error("IRQ edge without an answer")
	}

	uid := []byte{0x04, 0xA2, 0x2C, 0x6A, 0x8B, 0x5C, 0x80}
	chip.Present(uid)
	if got := io.transceive(7, piccREQA); string(got) != "\x44\x00" {
		t.Fatalf("ATQA % X, want 44 00", got)
	}
	if len(irq.EdgesChan) != 1 {
		t.Error("no IRQ edge for the answer")
	}
	cl1 := io.transceive(0, 0x93, nvbAll)
	if string(cl1) != "\x88\x04\xA2\x2C\x02" {
		t.Fatalf("CL1 % X, want 88 04 A2 2C 02", cl1)
	}
	sel := append([]byte{0x93, nvbSel}, cl1...)
	crc := crcA(sel)
	if got := io.transceive(0, append(sel, crc[:]...)...); len(got) != 3 || got[0] != 0x04 {
		t.Fatalf("SAK % X after CL1, want 04 and CRC", got)
	}
	if got := io.transceive(0, 0x95, nvbAll); string(got) != "\x6A\x8B\x5C\x80\x3D" {
		t.Fatalf("CL2 % X, want 6A 8B 5C 80 3D", got)
	}
	io.write(regCommand, cmdSoftReset)
	if got := io.transceive(0, 0x95, nvbAll); len(got) != 0 {
		t.Errorf("answer % X after a soft reset switched the field off", got)
	}
	if s := chip.Stats(); s.Requests != 1 || s.SoftResets != 1 {
		t.Errorf("stats %+v", s)
	}
}
