package configs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
)

// LoadTLS builds the TLS configuration of a broker connection from the
// configured files: the CA that signed the broker's certificate and, for
// mutual TLS, the client's certificate and key. It returns nil for a plain
// broker URL with neither CA nor client certificate. It reads files, so
// commands call it only after the configuration validated.
func LoadTLS(brokerURL, caFile, certFile, keyFile string) (*tls.Config, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return nil, fmt.Errorf("broker url: %w", err)
	}
	secure := u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts"
	if !secure && caFile == "" && certFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", caFile)
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Logger returns a structured logger writing to w at the configured level
// and format, rate-limited by NewRateLimit with DefaultRateOpts.
func (l Log) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level)) // validated
	o := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, o)
	if l.Format == "json" {
		h = slog.NewJSONHandler(w, o)
	}
	return slog.New(NewRateLimit(h, nil))
}
