package mfrc522

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
	"periph.io/x/devices/v3/mfrc522/commands"

	"github.com/redcarpet-retail/redcarpet/drivers/rfid/mfrc522/mfrc522test"
)

func TestNewWiring(t *testing.T) {
	irq := func() *gpiotest.Pin { return &gpiotest.Pin{N: "GPIO24", EdgesChan: make(chan gpio.Level, 1)} }
	for _, c := range []struct {
		name  string
		port  spi.Port
		reset gpio.PinOut
		irq   gpio.PinIn
		want  string
	}{
		{"no port", nil, &gpiotest.Pin{}, irq(), "mfrc522: no SPI port"},
		{"no reset pin", mfrc522test.NewChip(nil), nil, irq(), "mfrc522 on mfrc522test: no reset pin"},
		{"no IRQ pin", mfrc522test.NewChip(nil), &gpiotest.Pin{}, nil, "mfrc522 on mfrc522test: no IRQ pin"},
		{"IRQ pin without edges", mfrc522test.NewChip(nil), &gpiotest.Pin{}, &gpiotest.Pin{N: "GPIO24"}, "gpiotest: please set p.EdgesChan first"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, err := New(c.port, c.reset, c.irq, nil)
				if err == nil {
					r.Close()
					t.Fatal("New succeeded")
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("New: %v, want %q", err, c.want)
				}
			})
		})
	}
}

func TestNewOpts(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Opts
		want string
	}{
		{"negative poll timeout", Opts{PollTimeout: -time.Second}, "negative PollTimeout"},
		{"negative debounce", Opts{Debounce: -time.Second}, "negative Debounce"},
		{"rest as long as debounce", Opts{Rest: time.Second, Debounce: time.Second}, "Rest 1s must be shorter than Debounce 1s"},
		{"rest longer than default debounce", Opts{Rest: 2 * time.Second}, "must be shorter than Debounce 1.5s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(mfrc522test.NewChip(nil), &gpiotest.Pin{}, &gpiotest.Pin{}, &c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want %q", err, c.want)
			}
		})
	}

	o, err := (&Opts{Name: "till-1", Rest: 100 * time.Millisecond}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "till-1" || o.PollTimeout != 750*time.Millisecond || o.Debounce != 1500*time.Millisecond ||
		o.Rest != 100*time.Millisecond || o.Now == nil || o.Logger == nil {
		t.Errorf("resolved %+v: zero fields must take DefaultOpts, set ones stay", o)
	}
}

func TestNewVersion(t *testing.T) {
	for _, c := range []struct {
		v    byte
		want string
	}{
		{0x91, "MFRC522 v1.0 (0x91)"},
		{0x92, "MFRC522 v2.0 (0x92)"},
		{0x88, "FM17522 clone (0x88)"},
		{0x12, "counterfeit MFRC522 (0x12)"},
		{0xB2, "unknown chip (0xB2)"},
	} {
		t.Run(c.want, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newRig(t, rigOpts{noRun: true, before: func(chip *mfrc522test.Chip) { chip.SetVersion(c.v) }})
				if got := g.r.Version(); got != c.want {
					t.Errorf("Version() = %q, want %q", got, c.want)
				}
				if g.reset.Read() != gpio.High {
					t.Error("NRSTPD left low: the chip stays in hard power-down")
				}
			})
		})
	}
}

// TestNewNoAnswer replays, with periph's spitest.Playback, what New sees
// when nothing answers on the bus: MISO pulled low reads 0x00 and periph's
// init succeeds; MISO floating high reads 0xFF and periph fails to switch
// the antenna on (google/periph#222). Both must give the same clear error.
// The scripts also pin periph v3.7.4's init sequence, register by register.
func TestNewNoAnswer(t *testing.T) {
	write := func(reg, v byte) conntest.IO { return conntest.IO{W: []byte{reg << 1, v}} }
	read := func(reg, v byte) conntest.IO { return conntest.IO{W: []byte{reg<<1 | 0x80, 0}, R: []byte{v, v}} }
	initSeq := []conntest.IO{
		write(commands.CommandReg, commands.PCD_RESETPHASE),
		write(commands.TModeReg, 0x8D), // timer starts after each transmission
		write(commands.TPrescalerReg, 0x3E),
		write(commands.TReloadRegL, 30),
		write(commands.TReloadRegH, 0),
		write(commands.TxAutoReg, 0x40), // 100 % ASK
		write(commands.ModeReg, 0x3D),   // CRC preset 0x6363
		write(commands.RFCfgReg, 4<<4),  // receiver gain 33 dB
	}
	for _, c := range []struct {
		name string
		ops  []conntest.IO
		want string
	}{
		{"MISO low", append(initSeq[:len(initSeq):len(initSeq)],
			read(commands.TxControlReg, 0x00), // antenna off: fine
			read(commands.TxControlReg, 0x00),
			write(commands.TxControlReg, 0x03),
			read(commands.VersionReg, 0x00),
		), "mfrc522 on playback: no answer (version register reads 0x00); check wiring, power (3.3 V) and that SPI is enabled"},
		{"MISO high", append(initSeq[:len(initSeq):len(initSeq)],
			read(commands.TxControlReg, 0xFF), // "can not set the bitmask for antenna"
			read(commands.VersionReg, 0xFF),
		), "mfrc522 on playback: no answer (version register reads 0xFF); check wiring, power (3.3 V) and that SPI is enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				port := &spitest.Playback{Playback: conntest.Playback{Ops: c.ops, DontPanic: true}}
				irq := &gpiotest.Pin{N: "GPIO24", EdgesChan: make(chan gpio.Level, 1)}
				r, err := New(port, &gpiotest.Pin{N: "GPIO25"}, irq, nil)
				if err == nil {
					r.Close()
					t.Fatal("New succeeded with nothing on the bus")
				}
				if !errors.Is(err, ErrNoAnswer) || err.Error() != c.want {
					t.Errorf("New: %v\nwant %s", err, c.want)
				}
				if err := port.Close(); err != nil {
					t.Errorf("playback: %v", err)
				}
			})
		})
	}
}
