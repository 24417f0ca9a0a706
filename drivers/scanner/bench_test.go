package scanner

import (
	"strings"
	"testing"
	"time"
)

func BenchmarkDecode(b *testing.B) {
	d := NewDecoder(storeClasses, "", "")
	for _, c := range []struct{ name, raw string }{
		{"EAN-13", "]E04006381333931"},
		{"loyalty", "0410000001233"},
		{"GS1 DataMatrix", "]d2" + "0104012345678901" + "17261231" + "10LOT1\x1d" + "21ABC"},
		{"GSRN", "]C18018123456789012345675"},
		{"text", "]Q1https://example.com/member/7F3A9C21"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decode(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFramer(b *testing.B) {
	in := []byte(strings.Repeat("]E04006381333931\r\n0410000001233\r\n", 64))
	f := newFramer(Line, 80*time.Millisecond, 1024, "", func([]byte) {}, func(string) {})
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		f.feed(in)
	}
}
