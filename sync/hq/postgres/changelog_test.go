package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/hq/postgres/changelogtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

func TestChangeLogConformance(t *testing.T) {
	changelogtest.Run(t, func(t *testing.T, retain int) hq.ChangeLog {
		return openDB(t, Options{Retain: retain}).ChangeLog
	})
}

func TestChangeLogRefuses(t *testing.T) {
	l := openDB(t, Options{}).ChangeLog
	ctx := context.Background()
	nul := changelogtest.Member("m-1", "A\x00nn")
	badID := changelogtest.Member("m-\xff", "Ann")
	for _, ch := range []wire.Change{nul, badID} {
		if _, err := l.Append(ctx, "acme", []wire.Change{ch}); !errors.Is(err, ErrInvalidChange) {
			t.Errorf("Append(%q) = %v, want ErrInvalidChange", ch.Member.Member.ID, err)
		}
	}
	if _, err := l.Append(ctx, "Not A Tenant", []wire.Change{changelogtest.Member("m-1", "Ann")}); !errors.Is(err, ErrInvalidChange) {
		t.Errorf("Append(bad tenant) = %v", err)
	}
	for _, c := range []string{"x", "1", "1.m", "1.x.id", "a.m.id", "1.m.\xff", strings.Repeat("9", 30) + ".m.x"} {
		if _, _, _, err := l.Snapshot(ctx, "acme", c, 10); !errors.Is(err, ErrBadCursor) {
			t.Errorf("Snapshot(cursor %q) = %v, want ErrBadCursor", c, err)
		}
	}
}
