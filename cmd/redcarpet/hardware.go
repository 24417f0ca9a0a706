package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.bug.st/serial"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/door/beams"
	"github.com/redcarpet-retail/redcarpet/drivers/door/counter"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/drivers/hid"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/em4100"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/mfrc522"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid/wiegand"
	"github.com/redcarpet-retail/redcarpet/drivers/scanner"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// hostInit loads periph's host drivers (GPIO character devices, SPI) once.
// It succeeds even on a machine without GPIO; opening a pin or port then
// fails with a clear error for that device only.
var hostInit = sync.OnceValue(func() error {
	_, err := host.Init()
	return err
})

// hardware builds a driver for every configured hardware device. Nothing is
// opened here: each driver opens its device when its supervisor starts it,
// so a device missing at start is reported and retried like one lost later.
// The commercial counters' push endpoint is mounted on mux.
func (d *daemon) hardware(mux *http.ServeMux) ([]driver, error) {
	var (
		out      []driver
		counters []configs.Device
	)
	for _, dev := range d.cfg.Devices {
		m := d.meters[dev.Name]
		var open func() (session, error)
		switch dev.Kind {
		case "rdm6300":
			open = func() (session, error) {
				port, err := openSerial(dev)
				if err != nil {
					return session{}, err
				}
				r, err := em4100.New(port, &em4100.Opts{Name: dev.Name, Debounce: dev.Debounce.Duration, Meter: m})
				if err != nil {
					port.Close()
					return session{}, err
				}
				return session{run: r.Run, close: port.Close}, nil
			}
		case "serial_scanner":
			open = func() (session, error) {
				port, err := openSerial(dev)
				if err != nil {
					return session{}, err
				}
				s, err := scanner.New(port, &scanner.Opts{
					Name: dev.Name, Terminator: scanner.Terminator(dev.Terminator), IdleGap: dev.IdleGap.Duration,
					StripPrefix: dev.StripPrefix, StripSuffix: dev.StripSuffix, Classes: scanner.Classes(d.cfg.Barcodes), Meter: m,
				})
				if err != nil {
					port.Close()
					return session{}, err
				}
				return session{run: s.Run, close: port.Close}, nil
			}
		case "wedge_rfid", "wedge_scanner":
			open = func() (session, error) {
				in, err := hid.Open(dev.Input)
				if err != nil {
					return session{}, err
				}
				kb := hid.NewKeyboard(in, &hid.KeyboardOpts{Meter: m})
				if dev.Kind == "wedge_scanner" {
					w := scanner.NewWedge(kb, &scanner.WedgeOpts{
						Name: dev.Name, StripPrefix: dev.StripPrefix, StripSuffix: dev.StripSuffix,
						Classes: scanner.Classes(d.cfg.Barcodes), Meter: m,
					})
					return session{run: w.Run, close: in.Close}, nil
				}
				c, err := hid.NewCardReader(kb, &hid.CardOpts{Name: dev.Name, Debounce: dev.Debounce.Duration, NumberFormat: dev.NumberFormat, Meter: m})
				if err != nil {
					in.Close()
					return session{}, err
				}
				return session{run: c.Run, close: in.Close}, nil
			}
		case "mfrc522":
			open = func() (session, error) { return openMFRC522(dev, m, d) }
		case "wiegand":
			open = func() (session, error) {
				src, err := openPair(dev.D0Pin, dev.D1Pin, gpio.FallingEdge)
				if err != nil {
					return session{}, err
				}
				r, err := wiegand.New(src, &wiegand.Opts{Name: dev.Name, FrameGap: dev.FrameGap.Duration, Debounce: dev.Debounce.Duration, Meter: m})
				if err != nil {
					src.Close()
					return session{}, err
				}
				return session{run: r.Run, close: src.Close}, nil
			}
		case "ir_beams":
			open = func() (session, error) {
				src, err := openPair(dev.BeamAPin, dev.BeamBPin, gpio.BothEdges)
				if err != nil {
					return session{}, err
				}
				pol := beams.BrokenHigh
				if dev.BrokenLevel == "low" {
					pol = beams.BrokenLow
				}
				c, err := beams.New(src, &beams.Opts{
					Name: dev.Name, BrokenLevel: pol, Debounce: dev.Debounce.Duration,
					ObstructedAfter: dev.ObstructedAfter.Duration, MaxTransit: dev.MaxTransit.Duration, Meter: m,
				})
				if err != nil {
					src.Close()
					return session{}, err
				}
				return session{run: c.Run, close: src.Close}, nil
			}
		case "counter_push":
			counters = append(counters, dev)
			continue
		default:
			continue // simulated devices run under `redcarpet demo` only
		}
		out = append(out, driver{devices: []configs.Device{dev}, open: open})
	}
	if len(counters) > 0 {
		drv, err := d.counterPush(counters, mux)
		if err != nil {
			return nil, err
		}
		out = append(out, drv)
	}
	return out, nil
}

// openSerial opens a device's serial port and explains the usual failures.
// go.bug.st/serial reports some as PortError codes and others as the
// operating system's error.
func openSerial(dev configs.Device) (serial.Port, error) {
	port, err := serial.Open(dev.Port, &serial.Mode{BaudRate: dev.Baud})
	if err == nil {
		return port, nil
	}
	var pe *serial.PortError
	code := serial.PortErrorCode(-1)
	if errors.As(err, &pe) {
		code = pe.Code()
	}
	switch {
	case code == serial.PortNotFound || errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("serial port %s not found: is the device plugged in? ('redcarpet devices' lists the ports)", dev.Port)
	case code == serial.PermissionDenied || errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("serial port %s: permission denied: the daemon's user needs the dialout group", dev.Port)
	case code == serial.PortBusy || errors.Is(err, syscall.EBUSY):
		return nil, fmt.Errorf("serial port %s is busy: another program has it open (a serial console? ModemManager?)", dev.Port)
	}
	return nil, fmt.Errorf("open serial port %s: %w", dev.Port, err)
}

// openPair opens two GPIO lines as one time-ordered edge source. Both lines
// of one request to the GPIO character device keep the kernel's order of
// edges across the two lines, which Wiegand decoding needs.
func openPair(a, b string, edge gpio.Edge) (gpiopair.Source, error) {
	if err := hostInit(); err != nil {
		return nil, fmt.Errorf("init GPIO: %w", err)
	}
	src, err := gpiopair.OpenLineSet(a, b, gpio.PullUp, edge)
	if err != nil {
		return nil, fmt.Errorf("open GPIO lines %s and %s: %w", a, b, err)
	}
	return src, nil
}

// openMFRC522 opens the SPI port and pins of an MFRC522 reader.
func openMFRC522(dev configs.Device, m *drivers.Meter, d *daemon) (session, error) {
	if err := hostInit(); err != nil {
		return session{}, fmt.Errorf("init SPI: %w", err)
	}
	port, err := spireg.Open(dev.SPI)
	if err != nil {
		return session{}, fmt.Errorf("open SPI port %s: %w (turn SPI on: raspi-config > Interface Options > SPI)", dev.SPI, err)
	}
	pin := func(field, name string) (gpio.PinIO, error) {
		p := gpioreg.ByName(name)
		if p == nil {
			return nil, fmt.Errorf("%s %s: no such GPIO line ('redcarpet devices' lists them)", field, name)
		}
		return p, nil
	}
	rst, err := pin("reset_pin", dev.ResetPin)
	if err != nil {
		port.Close()
		return session{}, err
	}
	irq, err := pin("irq_pin", dev.IRQPin)
	if err != nil {
		port.Close()
		return session{}, err
	}
	r, err := mfrc522.New(port, rst, irq, &mfrc522.Opts{
		Name: dev.Name, PollTimeout: dev.PollTimeout.Duration, Debounce: dev.Debounce.Duration, Meter: m,
		Logger: d.log,
	})
	if err != nil {
		port.Close()
		return session{}, err
	}
	return session{run: r.Run, close: func() error { return errors.Join(r.Close(), port.Close()) }}, nil
}

// counterSilence is how long a commercial counter may stay silent before
// it is reported degraded: three of its usual 15-minute pushes.
const counterSilence = 45 * time.Minute

// counterPush mounts the push endpoint of the commercial counters and
// returns the driver that reports their health. Their crossings go straight
// to the engine's inbox; the handler counts each counter's reads and
// rejects on the daemon's meters.
func (d *daemon) counterPush(devs []configs.Device, mux *http.ServeMux) (driver, error) {
	cs := make([]counter.Counter, len(devs))
	for i, dev := range devs {
		tok, err := os.ReadFile(dev.TokenFile)
		if err != nil {
			return driver{}, fmt.Errorf("device %s: token_file: %w", dev.Name, err)
		}
		cs[i] = counter.Counter{
			Name: dev.Name, CounterID: dev.CounterID, Token: strings.TrimSpace(string(tok)),
			InRegister: dev.InRegister, OutRegister: dev.OutRegister, Meter: d.meters[dev.Name],
		}
	}
	h, err := counter.NewHandler(cs, counterBaselines{d.db.db}, d.inbox.Send, &counter.Opts{Log: d.log.With("component", "counter_push")})
	if err != nil {
		return driver{}, fmt.Errorf("counter push: %w", err)
	}
	mux.Handle(counter.Pattern, h)
	watch := func(ctx context.Context, out chan<- edge.Event) error {
		started := time.Now()
		silent := map[string]bool{}
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-tick.C:
				for _, dev := range devs {
					st, _ := h.Status(dev.Name)
					last := st.LastPush
					if last.IsZero() {
						last = started
					}
					quiet := now.Sub(last) > counterSilence
					if quiet == silent[dev.Name] {
						continue
					}
					silent[dev.Name] = quiet
					state, detail := edge.DeviceUp, ""
					if quiet {
						state, detail = edge.DeviceDegraded, fmt.Sprintf("no push for %s", now.Sub(last).Round(time.Minute))
					}
					select {
					case out <- edge.Event{Kind: edge.KindDeviceStatus, Source: dev.Name, Time: now,
						Device: &edge.DeviceStatus{Device: dev.Name, Kind: dev.Kind, State: state, Detail: detail}}:
					case <-ctx.Done():
						return nil
					}
				}
			}
		}
	}
	return driver{devices: devs, open: always(watch)}, nil
}
