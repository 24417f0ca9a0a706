package broker

import (
	"crypto/tls"
	"slices"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// ACL is the per-store access control of the sample Mosquitto
// configuration (deploy/mosquitto/redcarpet.acl) for a broker that serves
// one tenant. A client's username is the common name of its verified TLS
// client certificate, as with Mosquitto's use_identity_as_username; what
// the client sent as username is ignored.
//
// With p = redcarpet/v1/<Tenant>, a store (username u, its store id) may
// publish to p/u/up/#, p/u/state and p/u/req/#, and receive p/u/down/# and
// p/all/down/#. An HQ worker (a username in HQ) may in addition receive
// p/+/up/#, p/+/state, p/+/req/# and p/+/down/#, and publish to p/+/down/#.
// Everything else is denied.
//
// As with Mosquitto, a subscription is checked against the topic of every
// message it would deliver, so a wildcard subscription delivers only what
// the client may receive. Where the embedded broker is stricter than
// Mosquitto 2.0: it refuses a subscription that can never deliver anything
// (Mosquitto grants it); it refuses a CONNECT whose certificate name is not
// a valid username (see ValidUsername) or whose Last Will topic the client
// may not publish to (Mosquitto accepts the connection and drops the will);
// and it disconnects an MQTT 3.1.1 client that publishes to a forbidden
// topic at QoS 1 (Mosquitto acknowledges and drops the message).
type ACL struct {
	Tenant string   // the tenant whose topics this broker carries
	HQ     []string // usernames (certificate common names) of HQ workers
}

// Allowed reports whether user may publish to topic (write), or receive
// messages on filter (read): for a topic name, whether the user may receive
// it; for a filter with wildcards, whether it can match a topic the user
// may receive. A shared subscription ($share/<group>/filter) is checked as
// its filter.
func (a *ACL) Allowed(user, filter string, write bool) bool {
	if !ValidUsername(user) || !validID(a.Tenant) {
		return false
	}
	if !write && len(filter) >= 7 && strings.EqualFold(filter[:7], "$share/") {
		group, rest, ok := strings.Cut(filter[7:], "/")
		if !ok || group == "" || rest == "" {
			return false
		}
		filter = rest
	}
	p := wire.Root + "/" + a.Tenant + "/"
	var rules []string
	if write {
		rules = []string{p + user + "/up/#", p + user + "/state", p + user + "/req/#"}
		if slices.Contains(a.HQ, user) {
			rules = append(rules, p+"+/down/#")
		}
	} else {
		rules = []string{p + user + "/down/#", p + "all/down/#"}
		if slices.Contains(a.HQ, user) {
			rules = append(rules, p+"+/up/#", p+"+/state", p+"+/req/#", p+"+/down/#")
		}
	}
	for _, r := range rules {
		if write && covers(r, filter) || !write && intersects(r, filter) {
			return true
		}
	}
	return false
}

// ValidUsername reports whether name can be a username under the ACL: a
// store id or HQ worker name of [a-z0-9-], 1 to 63 long, not starting with
// "-", and not "all" (the topic level of messages for every store).
func ValidUsername(name string) bool { return validID(name) && name != "all" }

// validID reports whether s is a tenant or store id: [a-z0-9-], 1 to 63
// long, not starting with "-".
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// covers reports whether every topic that filter matches is matched by
// pattern (both MQTT topic filters; a topic name is a filter without
// wildcards).
func covers(pattern, filter string) bool {
	ps, fs := strings.Split(pattern, "/"), strings.Split(filter, "/")
	for i, p := range ps {
		if p == "#" {
			return true // also covers the parent level, as in MQTT
		}
		if i >= len(fs) || fs[i] == "#" {
			return false
		}
		if p != "+" && p != fs[i] {
			return false
		}
	}
	return len(fs) == len(ps)
}

// intersects reports whether some topic matches both filters.
func intersects(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; ; i++ {
		if i < len(as) && as[i] == "#" || i < len(bs) && bs[i] == "#" {
			return true
		}
		if i == len(as) || i == len(bs) {
			return len(as) == len(bs)
		}
		if as[i] != "+" && bs[i] != "+" && as[i] != bs[i] {
			return false
		}
	}
}

// aclHook authenticates clients by their certificate and applies an ACL.
type aclHook struct {
	mqtt.HookBase
	acl *ACL
}

func (h *aclHook) ID() string { return "redcarpet-acl" }

func (h *aclHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate takes the username from the verified client
// certificate and refuses a client without one, with a name that is not a
// valid username, or with a Last Will it may not publish.
func (h *aclHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, ok := certName(cl)
	if !ok || !ValidUsername(user) {
		return false
	}
	if pk.Connect.WillFlag && !h.acl.Allowed(user, pk.Connect.WillTopic, true) {
		return false
	}
	cl.Properties.Username = []byte(user)
	return true
}

func (h *aclHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	return h.acl.Allowed(string(cl.Properties.Username), topic, write)
}

// certName is the common name of the client's verified certificate.
func certName(cl *mqtt.Client) (string, bool) {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", false
	}
	return st.PeerCertificates[0].Subject.CommonName, true
}
