package hq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/redcarpet-retail/redcarpet/edge/catalog"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

func TestImportMembersAndOffers(t *testing.T) {
	ctx := context.Background()
	for _, f := range []struct {
		file          string
		format        catalog.Format
		id, card, loy string
	}{
		{"members.csv", catalog.FormatCSV, "M-0001", "04A22B1C", "2900000123458"},
		{"members.jsonl", catalog.FormatJSONL, "M-1001", "04B1223C", "2900000123496"},
	} {
		t.Run(f.file, func(t *testing.T) {
			l := openChangeLog(t, nil)
			file, err := os.Open("../../edge/catalog/testdata/" + f.file)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			var bad []catalog.LineError
			res, err := ImportMembers(ctx, l, "acme", file, f.format, nil, func(e catalog.LineError) { bad = append(bad, e) })
			if err != nil {
				t.Fatal(err)
			}
			if res.Good == 0 || res.Appended != res.Good || res.Head != uint64(res.Good) || len(bad) != res.Bad {
				t.Fatalf("result %+v with %d bad lines reported", res, len(bad))
			}
			cs, _ := l.Since(ctx, "acme", 0, 1000)
			if len(cs) != res.Good {
				t.Fatalf("%d changes, want %d", len(cs), res.Good)
			}
			first := cs[0].Member
			if first.Member.ID != f.id || !slices.Equal(first.Cards, []string{f.card}) || first.Loyalty != f.loy {
				t.Errorf("first member = %+v", first)
			}
			for _, c := range cs {
				for _, card := range c.Member.Cards {
					if card != strings.ToUpper(card) {
						t.Errorf("card %q is not upper-case hex", card)
					}
				}
			}
		})
	}
	l := openChangeLog(t, nil)
	file, err := os.Open("../../edge/catalog/testdata/offers.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	res, err := ImportOffers(ctx, l, "acme", file, catalog.FormatCSV, nil, nil)
	if err != nil || res.Good == 0 || res.Appended != res.Good {
		t.Fatalf("ImportOffers = %+v, %v", res, err)
	}
	_, offers, _ := snapshotAll(t, l, "acme", 100)
	if len(offers) != res.Good {
		t.Errorf("%d offers in the snapshot, want %d", len(offers), res.Good)
	}
}

func TestImportBatches(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,cards\n")
	for i := range 2500 {
		fmt.Fprintf(&b, "M-%05d,\n", i)
	}
	cl := &countingLog{ChangeLog: openChangeLog(t, nil)}
	res, err := ImportMembers(context.Background(), cl, "acme", strings.NewReader(b.String()), catalog.FormatCSV, nil, nil)
	if err != nil || res.Appended != 2500 || res.Head != 2500 {
		t.Fatalf("ImportMembers = %+v, %v", res, err)
	}
	if !slices.Equal(cl.sizes, []int{1000, 1000, 500}) {
		t.Errorf("Append sizes %v, want 1000 1000 500", cl.sizes)
	}
	// A failing change log stops the import and says how far it got.
	cl.fail = true
	_, err = ImportMembers(context.Background(), cl, "acme", strings.NewReader(b.String()), catalog.FormatCSV, nil, nil)
	if !errors.Is(err, errFailing) {
		t.Errorf("err = %v", err)
	}
	if _, err := ImportMembers(context.Background(), cl, "ACME", strings.NewReader(b.String()), catalog.FormatCSV, nil, nil); err == nil {
		t.Error("bad tenant accepted")
	}
}

var errFailing = errors.New("failing")

type countingLog struct {
	ChangeLog
	sizes []int
	fail  bool
}

func (c *countingLog) Append(ctx context.Context, tenant string, cs []wire.Change) (uint64, error) {
	if c.fail {
		return 0, errFailing
	}
	c.sizes = append(c.sizes, len(cs))
	return c.ChangeLog.Append(ctx, tenant, cs)
}

func TestImportErasures(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, in string
		format   catalog.Format
		want     [][2]string // member, request ("*": generated)
		bad      []int
	}{
		{"csv with header", "member_id,request_id\nM-1,GDPR-1\nM-2,\n\"M 3\",x\nM-4,GDPR-4\n", catalog.FormatCSV,
			[][2]string{{"M-1", "GDPR-1"}, {"M-2", "*"}, {"M-4", "GDPR-4"}}, []int{4}},
		{"csv reversed header", "\ufeffrequest_id,member_id\nR-9,M-9\n", catalog.FormatCSV,
			[][2]string{{"M-9", "R-9"}}, nil},
		{"csv without header", "M-1\nM-2,R 2\nM-3,R-3,extra\nM-4,R-4\n", catalog.FormatCSV,
			[][2]string{{"M-1", "*"}, {"M-4", "R-4"}}, []int{2, 3}},
		{"jsonl", "{\"member_id\":\"M-1\",\"request_id\":\"R-1\"}\n\n{\"member_id\":\"M-2\"}\n{\"member\":\"M-3\"}\nnot json\n", catalog.FormatJSONL,
			[][2]string{{"M-1", "R-1"}, {"M-2", "*"}}, []int{4, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := openChangeLog(t, nil)
			var bad []int
			res, err := ImportErasures(ctx, l, "acme", strings.NewReader(c.in), c.format, nil, func(e catalog.LineError) { bad = append(bad, e.Line) })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(bad, c.bad) || res.Bad != len(c.bad) || res.Good != len(c.want) {
				t.Errorf("result %+v, bad lines %v; want bad %v", res, bad, c.bad)
			}
			cs, _ := l.Since(ctx, "acme", 0, 100)
			if len(cs) != len(c.want) {
				t.Fatalf("%d changes, want %d", len(cs), len(c.want))
			}
			for i, w := range c.want {
				e := cs[i].Erasure
				if e == nil || e.MemberID != w[0] || (w[1] != "*" && e.RequestID != w[1]) || (w[1] == "*" && !strings.HasPrefix(e.RequestID, "er-")) {
					t.Errorf("change %d = %+v, want %v", i, e, w)
				}
			}
		})
	}
	l := openChangeLog(t, nil)
	if _, err := ImportErasures(ctx, l, "acme", strings.NewReader("member_id,reason\n"), catalog.FormatCSV, nil, nil); !errors.Is(err, catalog.ErrHeader) {
		t.Errorf("unknown column: %v", err)
	}
}
