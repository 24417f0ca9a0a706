package catalog_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/catalog"
)

func ExampleReadMembers() {
	const file = `id,first_name,stage,affinity,cycles,cards,loyalty_barcode
M-1,Anna,active,dairy=0.4,dairy=6.5@2026-11-10#12,04:A2:2B:1C,2900000123458
M-2,Bruno,vip,,,,
M-3,Chloé,new,,,04:A2:2B:1C,
`
	loc, _ := time.LoadLocation("Europe/Paris")
	res, err := catalog.ReadMembers(strings.NewReader(file), catalog.FormatCSV, loc,
		func(r edge.MemberRecord) error {
			fmt.Printf("member %s: %d card(s), dairy every %.1f days\n", r.Member.ID, len(r.Cards), r.Member.Cycles["dairy"].MeanDays)
			return nil
		},
		func(le catalog.LineError) { fmt.Println("members.csv:" + le.Error()) })
	fmt.Printf("%+v %v\n", res, err)
	// Output:
	// member M-1: 1 card(s), dairy every 6.5 days
	// members.csv:line 3: stage: "vip" is not one of new, active, lapsing, churned
	// members.csv:line 4: cards: card 1 is already on line 2
	// {Lines:3 Good:1 Bad:2} <nil>
}
