package em4100

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/redcarpet-retail/redcarpet/drivers"
)

// unhexBytes decodes "02 36 32 ..." into bytes.
func unhexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frame builds a frame around a data and checksum string: "\x02" + body + "\x03".
func frame(body string) string { return "\x02" + body + "\x03" }

// result is what a Parser produced: frames and rejects in stream order.
type result struct {
	frames  []Frame
	rejects []string
}

func (r *result) emit(f Frame)         { r.frames = append(r.frames, f) }
func (r *result) reject(reason string) { r.rejects = append(r.rejects, reason) }

// parse feeds the chunks to a fresh parser.
func parse(chunks ...[]byte) result {
	var (
		p Parser
		r result
	)
	for _, c := range chunks {
		p.Feed(c, r.emit, r.reject)
	}
	return r
}

func TestParserVectors(t *testing.T) {
	seeed1 := Frame{Version: 0x62, ID: 0xE3086CED}
	seeed2 := Frame{Version: 0x01, ID: 472288} // 0x000734E0
	const (
		framing  = drivers.RejectFraming
		checksum = drivers.RejectChecksum
	)
	tests := []struct {
		name    string
		in      string
		frames  []Frame
		rejects []string
	}{
		{"seeed example 1", string(unhexBytes(t, "02 36 32 45 33 30 38 36 43 45 44 30 38 03")), []Frame{seeed1}, nil},
		{"seeed example 2", string(unhexBytes(t, "02 30 31 30 30 30 37 33 34 45 30 44 32 03")), []Frame{seeed2}, nil},
		{"ID-12 CR LF before ETX", "\x02" + "01000734E0D2\r\n\x03", []Frame{seeed2}, nil},
		{"lower case", frame("62e3086ced08"), []Frame{seeed1}, nil},
		{"mixed case", frame("62E3086cEd08"), []Frame{seeed1}, nil},
		{"repeated while the tag rests", frame("01000734E0D2") + frame("01000734E0D2") + frame("01000734E0D2"), []Frame{seeed2, seeed2, seeed2}, nil},
		{"all zero", frame("000000000000"), []Frame{{}}, nil},
		{"all ones", frame("FFFFFFFFFFFF"), []Frame{{Version: 0xFF, ID: 0xFFFFFFFF}}, nil},
		{"bad checksum", frame("01000734E0D3"), nil, []string{checksum}},
		{"bad checksum then good", frame("01000734E0D3") + frame("01000734E0D2"), []Frame{seeed2}, []string{checksum}},
		{"noise before", "\x00\xff junk\r\n" + frame("01000734E0D2"), []Frame{seeed2}, []string{framing}},
		{"noise after", frame("01000734E0D2") + "zz", []Frame{seeed2}, []string{framing}},
		{"noise between", frame("01000734E0D2") + "\x7f\x7f" + frame("62E3086CED08"), []Frame{seeed2, seeed1}, []string{framing}},
		{"non-hex inside", frame("01000G34E0D2") + frame("62E3086CED08"), []Frame{seeed1}, []string{framing}},
		{"cut short by STX", "\x0201000734" + frame("62E3086CED08"), []Frame{seeed1}, []string{framing}},
		{"ETX early", frame("01000734E0") + frame("62E3086CED08"), []Frame{seeed1}, []string{framing}},
		{"ETX missing", "\x02" + "01000734E0D2" + "5" + frame("62E3086CED08"), []Frame{seeed1}, []string{framing}},
		{"ETX late", "\x02" + "01000734E0D2" + "\r\n\r\n\x03", nil, []string{framing}},
		{"CR without LF", "\x02" + "01000734E0D2" + "\r\x03", nil, []string{framing}},
		{"LF alone", "\x02" + "01000734E0D2" + "\n\x03", nil, []string{framing}},
		{"ETX alone", "\x03", nil, []string{framing}},
		{"STX alone", "\x02", nil, nil},
		{"STX STX frame", "\x02\x02" + "01000734E0D2\x03", []Frame{seeed2}, []string{framing}}, // an empty frame cut short
		{"overlong", "\x02" + strings.Repeat("0", 1000) + "\x03", nil, []string{framing}},
		{"empty", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := parse([]byte(tt.in))
			if !reflect.DeepEqual(whole.frames, tt.frames) || !reflect.DeepEqual(whole.rejects, tt.rejects) {
				t.Errorf("frames %v rejects %q, want %v %q", whole.frames, whole.rejects, tt.frames, tt.rejects)
			}
			// The same, however the port splits the stream.
			var bytewise [][]byte
			for i := range len(tt.in) {
				bytewise = append(bytewise, []byte{tt.in[i]})
			}
			if got := parse(bytewise...); !reflect.DeepEqual(got, whole) {
				t.Errorf("byte by byte: %v, whole: %v", got, whole)
			}
			for cut := range len(tt.in) {
				if got := parse([]byte(tt.in[:cut]), []byte(tt.in[cut:])); !reflect.DeepEqual(got, whole) {
					t.Errorf("split at %d: %v, whole: %v", cut, got, whole)
				}
			}
		})
	}
}

func TestFrame(t *testing.T) {
	f := Frame{Version: 0x01, ID: 472288}
	if got, want := f.UID(), []byte{0x00, 0x07, 0x34, 0xE0}; !bytes.Equal(got, want) {
		t.Errorf("UID % X, want % X", got, want)
	}
	if got := f.Checksum(); got != 0xD2 {
		t.Errorf("checksum %02X, want D2", got)
	}
	want := unhexBytes(t, "02 30 31 30 30 30 37 33 34 45 30 44 32 03")
	if got := f.Encode(); !bytes.Equal(got, want) {
		t.Errorf("Encode % X, want % X", got, want)
	}
	// The number printed on the fob is the tag id in decimal.
	if got := fmt.Sprintf("%010d", f.ID); got != "0000472288" {
		t.Errorf("printed number %s", got)
	}
	if got := (Frame{Version: 0x62, ID: 0xE3086CED}).Checksum(); got != 0x08 {
		t.Errorf("checksum of 62E3086CED: %02X, want 08", got)
	}
}

func TestParserNilReject(t *testing.T) {
	var (
		p Parser
		n int
	)
	p.Feed([]byte("noise"+frame("01000734E0D3")+frame("01000734E0D2")), func(Frame) { n++ }, nil)
	if n != 1 {
		t.Errorf("%d frames, want 1", n)
	}
}

func BenchmarkParser(b *testing.B) {
	stream := bytes.Repeat(append([]byte("\x00"), Frame{Version: 1, ID: 472288}.Encode()...), 64)
	b.SetBytes(int64(len(stream)))
	var p Parser
	for b.Loop() {
		p.Feed(stream, func(Frame) {}, nil)
	}
}
