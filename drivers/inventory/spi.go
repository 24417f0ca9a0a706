package inventory

import (
	"fmt"
	"path/filepath"
)

// SPIBus is a spidev device: one chip select of one SPI bus, where an
// MFRC522 RFID reader is wired.
type SPIBus struct {
	Path       string `json:"path"`        // /dev/spidev0.0: the value for a device's spi field
	Alias      string `json:"alias"`       // periph's name: "SPI0.0"
	Bus        int    `json:"bus"`         // 0
	ChipSelect int    `json:"chip_select"` // 0: CE0 (GPIO8 on a Raspberry Pi), 1: CE1 (GPIO7)
	Access     Access `json:"access"`
}

// spiBuses lists /dev/spidev*.*.
func (t tree) spiBuses(user string) []SPIBus {
	var out []SPIBus
	for _, p := range t.glob("/dev/spidev*.*") {
		var b SPIBus
		if n, err := fmt.Sscanf(filepath.Base(p), "spidev%d.%d", &b.Bus, &b.ChipSelect); n != 2 || err != nil {
			continue
		}
		b.Path, b.Alias = p, fmt.Sprintf("SPI%d.%d", b.Bus, b.ChipSelect)
		if filepath.Base(p) != fmt.Sprintf("spidev%d.%d", b.Bus, b.ChipSelect) {
			continue // spidev0.0.bak, spidev00.0
		}
		b.Access = t.access(p, spiFamily, user)
		out = append(out, b)
	}
	return out
}
