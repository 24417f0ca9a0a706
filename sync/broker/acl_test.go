package broker

import (
	"crypto/tls"
	"testing"
)

func TestACLAllowed(t *testing.T) {
	a := &ACL{Tenant: "acme", HQ: []string{"hq-1"}}
	const p = "redcarpet/v1/acme/"
	cases := []struct {
		user, filter string
		write, want  bool
	}{
		// A store publishes its uplink, state and requests, nothing else.
		{"s1", p + "s1/up/footfall", true, true},
		{"s1", p + "s1/state", true, true},
		{"s1", p + "s1/req/changes", true, true},
		{"s1", p + "s2/up/footfall", true, false},
		{"s1", p + "s2/state", true, false},
		{"s1", p + "s2/req/changes", true, false},
		{"s1", p + "s1/down/changes", true, false},
		{"s1", p + "all/down/head", true, false},
		{"s1", "redcarpet/v1/other/s1/up/footfall", true, false},
		{"s1", p + "s1/up", true, true}, // "#" covers its parent level, as in MQTT and Mosquitto
		// A store receives its own and the tenant-wide downlink.
		{"s1", p + "s1/down/changes", false, true},
		{"s1", p + "s1/down/#", false, true},
		{"s1", p + "all/down/head", false, true},
		{"s1", p + "all/down/+", false, true},
		{"s1", p + "s2/down/changes", false, false},
		{"s1", p + "+/down/#", false, true}, // granted; delivers only s1's and all's
		{"s1", p + "#", false, true},
		{"s1", p + "s1/up/footfall", false, false},
		{"s1", p + "s2/up/footfall", false, false},
		{"s1", "$share/g/" + p + "s1/down/#", false, true},
		{"s1", "$share/g/" + p + "+/up/+", false, false},
		// HQ reads what stores send and writes the downlink.
		{"hq-1", p + "s7/up/footfall", false, true},
		{"hq-1", p + "+/up/+", false, true},
		{"hq-1", "$share/redcarpet-hq/" + p + "+/up/+", false, true},
		{"hq-1", "$SHARE/redcarpet-hq/" + p + "+/up/+", false, true},
		{"hq-1", "$share//" + p + "+/up/+", false, false},
		{"hq-1", "$share/g", false, false},
		{"hq-1", p + "+/state", false, true},
		{"hq-1", p + "+/req/changes", false, true},
		{"hq-1", p + "+/down/#", false, true},
		{"hq-1", p + "#", false, true},
		{"hq-1", "redcarpet/v1/+/+/up/+", false, true}, // delivers only this tenant's
		{"hq-1", "redcarpet/v1/other/+/up/+", false, false},
		{"hq-1", "redcarpet/v1/other/s1/up/footfall", false, false},
		{"hq-1", p + "s7/down/changes", true, true},
		{"hq-1", p + "all/down/head", true, true},
		{"hq-1", p + "s7/up/footfall", true, false},
		{"hq-1", p + "s7/state", true, false},
		// Bad usernames get nothing.
		{"", p + "all/down/head", false, false},
		{"all", p + "all/up/x", true, false},
		{"s+", p + "s+/up/x", true, false},
		{"S1", p + "S1/up/x", true, false},
	}
	if (&ACL{Tenant: "+"}).Allowed("s1", p+"s1/up/x", true) {
		t.Error("a wildcard tenant granted something")
	}
	for _, c := range cases {
		if got := a.Allowed(c.user, c.filter, c.write); got != c.want {
			t.Errorf("Allowed(%q, %q, write=%v) = %v, want %v", c.user, c.filter, c.write, got, c.want)
		}
	}
}

func TestIntersects(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "+/b", true},
		{"a/+/c", "+/b/d", false},
		{"a/#", "a", true},
		{"a", "a/#", true},
		{"#", "x/y", true},
		{"a/b", "a/b/c", false},
		{"a/+", "a/b/c", false},
		{"a/b/#", "a/+/c", true},
	} {
		if got := intersects(c.a, c.b); got != c.want {
			t.Errorf("intersects(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := intersects(c.b, c.a); got != c.want {
			t.Errorf("intersects(%q, %q) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		pattern, filter string
		want            bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/+", true},
		{"a/+", "a/#", false},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "a/#", true},
		{"a/b", "a/+", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/b/c", "a/b", false},
	} {
		if got := covers(c.pattern, c.filter); got != c.want {
			t.Errorf("covers(%q, %q) = %v, want %v", c.pattern, c.filter, got, c.want)
		}
	}
}

func TestStartChecksACLOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"ACL without TLS":    {Addr: "127.0.0.1:0", ACL: &ACL{Tenant: "acme"}},
		"ACL, optional cert": {Addr: "127.0.0.1:0", ACL: &ACL{Tenant: "acme"}, TLS: &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven}},
		"wildcard tenant":    {Addr: "127.0.0.1:0", ACL: &ACL{Tenant: "+"}, TLS: &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}},
	} {
		if b, err := Start(o); err == nil {
			b.Close()
			t.Errorf("%s: started", name)
		}
	}
}
