package configs

import (
	"fmt"
	"net/url"
	"os"
	"time"
)

// HQ is the configuration of redcarpet-hq, the ingest service.
type HQ struct {
	Broker   HQBroker   `toml:"broker"`
	Sink     HQSink     `toml:"sink"`
	Downlink HQDownlink `toml:"downlink"`
	HTTP     HTTP       `toml:"http"`
	Log      Log        `toml:"log"`
}

// HQDownlink configures how HQ serves member and offer changes to stores.
type HQDownlink struct {
	// Tenants whose stores this worker answers. Default: broker.tenant,
	// unless that is "+" (then the list is required).
	Tenants []string `toml:"tenants"`
	// Retention is how many changes the change log keeps; a store whose
	// cursor is older gets a snapshot. Default 100 000.
	Retention int `toml:"retention"`
	// PageSize is the most changes per answer. Default 500.
	PageSize int `toml:"page_size"`
	// The downlink is a second MQTT connection of the worker. ClientID
	// defaults to broker.client_id + "-downlink"; CertFile and KeyFile to
	// the broker's. With a broker that uses the certificate as the client
	// id (deploy/mosquitto), give it a certificate of its own.
	ClientID string `toml:"client_id"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// TimeZone reads the dates of imported files ("2026-12-31" is local
	// midnight there). Default UTC.
	TimeZone string `toml:"timezone"`

	loc *time.Location
}

// Location is the time zone of imported dates, resolved by validation.
func (d HQDownlink) Location() *time.Location {
	if d.loc == nil {
		return time.UTC
	}
	return d.loc
}

// HQBroker is how an HQ worker reaches the broker.
type HQBroker struct {
	URL          string `toml:"url"`
	ClientID     string `toml:"client_id"` // unique per worker
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	CAFile       string `toml:"ca_file"`
	CertFile     string `toml:"cert_file"`
	KeyFile      string `toml:"key_file"`
	// ShareGroup is the shared-subscription group: workers in one group
	// split the stores' uplink between them. Default "redcarpet-hq".
	ShareGroup string `toml:"share_group"`
	// Tenant limits the worker to one retailer's stores; "+" (default) is all.
	Tenant string `toml:"tenant"`
}

// HQSink is where HQ stores what it received.
type HQSink struct {
	// Kind "embedded" keeps events and the change log in a local bbolt file
	// (Path): the demo's default, for one worker. Kind "postgres" keeps them
	// in PostgreSQL (DSN), shared by any number of workers.
	Kind string `toml:"kind"`
	Path string `toml:"path"`
	// DSN is a PostgreSQL connection string, e.g.
	// "postgres://redcarpet@db.acme.example:5432/redcarpet?sslmode=verify-full".
	// Keep passwords out of it: use ~/.pgpass or PGPASSFILE.
	DSN string `toml:"dsn"`
	// MaxConns bounds the PostgreSQL connections of the worker. Default 4.
	MaxConns int `toml:"max_conns"`
}

// LoadHQ reads and validates an HQ configuration file.
func LoadHQ(path string) (*HQ, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseHQ(path, data)
}

// ParseHQ decodes and validates an HQ configuration.
func ParseHQ(name string, data []byte) (*HQ, error) {
	var c HQ
	if err := decodeStrict(name, data, &c); err != nil {
		return nil, err
	}
	var ps problems
	b := &c.Broker
	if u, err := url.Parse(b.URL); b.URL == "" || err != nil || u.Host == "" {
		ps.add("broker.url", "%q is not a broker URL such as tcp://host:1883", b.URL)
	}
	if b.ClientID == "" {
		ps.add("broker.client_id", "is required and must be unique per worker")
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		ps.add("broker.cert_file", "cert_file and key_file must be set together")
	}
	if b.ShareGroup == "" {
		b.ShareGroup = "redcarpet-hq"
	}
	if b.Tenant == "" {
		b.Tenant = "+"
	} else if b.Tenant != "+" && !idRE.MatchString(b.Tenant) {
		ps.add("broker.tenant", "%q must be \"+\" or a tenant id", b.Tenant)
	}
	if c.Sink.Kind == "" {
		c.Sink.Kind = "embedded"
	}
	switch c.Sink.Kind {
	case "embedded":
		if c.Sink.Path == "" {
			ps.add("sink.path", "is required for the embedded sink")
		}
		if c.Sink.DSN != "" {
			ps.add("sink.dsn", "is not used by the embedded sink")
		}
	case "postgres":
		if u, err := url.Parse(c.Sink.DSN); c.Sink.DSN == "" || err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			ps.add("sink.dsn", "is required for the postgres sink: postgres://user@host:5432/db")
		}
		if c.Sink.Path != "" {
			ps.add("sink.path", "is not used by the postgres sink")
		}
	default:
		ps.add("sink.kind", "%q is not one of embedded, postgres", c.Sink.Kind)
	}
	defInt(&c.Sink.MaxConns, 4)
	intRange(&ps, "sink.max_conns", c.Sink.MaxConns, 2, 1000)
	dl := &c.Downlink
	defInt(&dl.Retention, 100_000)
	defInt(&dl.PageSize, 500)
	intRange(&ps, "downlink.retention", dl.Retention, 1000, 100_000_000)
	intRange(&ps, "downlink.page_size", dl.PageSize, 1, 10_000)
	if len(dl.Tenants) == 0 && b.Tenant != "+" {
		if !idRE.MatchString(b.Tenant) {
			dl.Tenants = []string{} // broker.tenant is reported already
		} else {
			dl.Tenants = []string{b.Tenant}
		}
	} else if len(dl.Tenants) == 0 {
		ps.add("downlink.tenants", "is required when broker.tenant is \"+\": the tenants whose stores this worker answers")
	}
	for i, t := range dl.Tenants {
		if !idRE.MatchString(t) {
			ps.add(fmt.Sprintf("downlink.tenants[%d]", i), "%q is not a tenant id", t)
		}
	}
	if dl.ClientID == "" && b.ClientID != "" {
		dl.ClientID = b.ClientID + "-downlink"
	}
	if dl.ClientID != "" && dl.ClientID == b.ClientID {
		ps.add("downlink.client_id", "must differ from broker.client_id: the downlink is a second connection")
	}
	if (dl.CertFile == "") != (dl.KeyFile == "") {
		ps.add("downlink.cert_file", "cert_file and key_file must be set together")
	}
	if dl.CertFile == "" {
		dl.CertFile, dl.KeyFile = b.CertFile, b.KeyFile
	}
	if dl.TimeZone != "" {
		loc, err := time.LoadLocation(dl.TimeZone)
		if err != nil {
			ps.add("downlink.timezone", "unknown time zone %q", dl.TimeZone)
		}
		dl.loc = loc
	}
	if c.HTTP.Listen != "" {
		c.HTTP.validate(&ps)
	}
	c.Log.validate(&ps)
	if len(ps) > 0 {
		return nil, &Error{File: name, Problems: ps}
	}
	return &c, nil
}
