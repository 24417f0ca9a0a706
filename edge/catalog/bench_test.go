package catalog

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// benchMembers returns n realistic members in format f.
func benchMembers(n int, f Format) []byte {
	var b bytes.Buffer
	if f == FormatCSV {
		b.WriteString("id,first_name,tier,segment,stage,greet_by_name,affinity,cycles,cards,loyalty_barcode\n")
	}
	for i := range n {
		if f == FormatCSV {
			fmt.Fprintf(&b, "M-%07d,Anna,gold,young-families,active,yes,dairy=0.4;bakery=0.25,dairy=6.5@2026-11-10#12;bakery=3@2026-11-12,04:%02X:%02X:%02X,RC-%07d\n",
				i, byte(i>>16), byte(i>>8), byte(i), i)
		} else {
			fmt.Fprintf(&b, `{"id":"M-%07d","first_name":"Anna","tier":"gold","segment":"young-families","stage":"active","greet_by_name":true,"affinity":{"dairy":0.4,"bakery":0.25},"cycles":{"dairy":{"mean_days":6.5,"last":"2026-11-10","count":12},"bakery":{"mean_days":3,"last":"2026-11-12"}},"cards":["04:%02X:%02X:%02X"],"loyalty_barcode":"RC-%07d"}`+"\n",
				i, byte(i>>16), byte(i>>8), byte(i), i)
		}
	}
	return b.Bytes()
}

// BenchmarkReadMembers reads 10 000 members; ns/op divided by 10 000 is the
// cost of one member (a million-member file takes 100 times ns/op).
func BenchmarkReadMembers(b *testing.B) {
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		data := benchMembers(10_000, f)
		b.Run(string(f), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				res, err := ReadMembers(bytes.NewReader(data), f, paris, func(edge.MemberRecord) error { return nil }, nil)
				if err != nil || res.Good != 10_000 {
					b.Fatal(res, err)
				}
			}
		})
	}
}
