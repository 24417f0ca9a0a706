package configs_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
)

// writePEM writes a self-signed certificate and its key.
func writePEM(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "store-1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePEM(t, dir)
	notPEM := filepath.Join(dir, "x.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)

	c, err := configs.LoadTLS("tcp://broker:1883", "", "", "")
	if err != nil || c != nil {
		t.Errorf("plain tcp: %v, %v; want no TLS", c, err)
	}
	c, err = configs.LoadTLS("ssl://broker:8883", "", "", "")
	if err != nil || c == nil || c.MinVersion != 0x0303 {
		t.Errorf("ssl without files: %+v, %v; want TLS 1.2+ with system roots", c, err)
	}
	c, err = configs.LoadTLS("ssl://broker:8883", cert, cert, key)
	if err != nil || c.RootCAs == nil || len(c.Certificates) != 1 {
		t.Errorf("mutual TLS: %+v, %v", c, err)
	}
	for _, tc := range []struct{ ca, cert, key, want string }{
		{filepath.Join(dir, "missing.pem"), "", "", "ca_file"},
		{notPEM, "", "", "no PEM certificate"},
		{"", cert, notPEM, "cert_file/key_file"},
	} {
		if _, err := configs.LoadTLS("ssl://broker:8883", tc.ca, tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadTLS(%q, %q, %q) = %v, want an error mentioning %q", tc.ca, tc.cert, tc.key, err, tc.want)
		}
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	configs.Log{Level: "warn", Format: "json"}.Logger(&buf).Info("hidden")
	configs.Log{Level: "warn", Format: "json"}.Logger(&buf).Warn("shown", "component", "x")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("log output %q: want only the warning, as JSON", out)
	}
}
