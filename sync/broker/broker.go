// Package broker runs an embedded MQTT broker (mochi-mqtt) for the demo and
// for tests: a real broker over TCP, in-process, on 127.0.0.1. Stores and
// HQ talk to it exactly as they talk to Mosquitto or EMQX in production.
//
// By default it allows every client and every topic. With Options.TLS it
// speaks MQTT over TLS, and with Options.ACL it also authenticates clients
// by their certificate and applies the per-store ACL of the sample
// Mosquitto configuration (deploy/mosquitto). Production uses a real broker
// with TLS and per-store ACLs.
package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is a running embedded broker.
type Broker struct {
	srv *mqtt.Server
	tcp *listeners.TCP
	tls bool
}

// Options configures Start.
type Options struct {
	// Addr is host:port to listen on; "127.0.0.1:0" picks a free port.
	Addr string
	// TLS, when set, makes the listener speak MQTT over TLS with this
	// configuration (its certificate; ClientCAs and ClientAuth for mutual
	// TLS).
	TLS *tls.Config
	// ACL, when set, replaces the allow-all authentication hook: a client
	// must present a client certificate that TLS verified, its common name
	// is its username, and the per-store ACL applies. It needs TLS with
	// ClientAuth tls.RequireAndVerifyClientCert.
	ACL *ACL
	// Hooks are added after the authentication hook, for tests that
	// inspect or delay publishes.
	Hooks  []mqtt.Hook
	Logger *slog.Logger
}

// Start listens on o.Addr and serves until Close.
func Start(o Options) (*Broker, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var authHook mqtt.Hook = new(auth.AllowHook)
	if o.ACL != nil {
		if o.TLS == nil || o.TLS.ClientAuth != tls.RequireAndVerifyClientCert {
			return nil, errors.New("broker: an ACL needs TLS that requires and verifies client certificates")
		}
		if !validID(o.ACL.Tenant) {
			return nil, fmt.Errorf("broker: ACL tenant %q is not a tenant id", o.ACL.Tenant)
		}
		authHook = &aclHook{acl: o.ACL}
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: log.With("component", "broker")})
	if err := srv.AddHook(authHook, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	for _, h := range o.Hooks {
		if err := srv.AddHook(h, nil); err != nil {
			return nil, fmt.Errorf("broker: add hook %s: %w", h.ID(), err)
		}
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: o.Addr, TLSConfig: o.TLS})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", o.Addr, err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, tcp: tcp, tls: o.TLS != nil}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.tcp.Address() }

// URL is the broker's URL for MQTT clients: tcp://host:port, or
// ssl://host:port with TLS.
func (b *Broker) URL() string {
	if b.tls {
		return "ssl://" + b.Addr()
	}
	return "tcp://" + b.Addr()
}

// Server exposes the mochi server, for tests that publish or subscribe
// in-process.
func (b *Broker) Server() *mqtt.Server { return b.srv }

// Close disconnects every client and stops listening.
func (b *Broker) Close() error { return b.srv.Close() }
