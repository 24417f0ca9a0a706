// Package tlstest makes a throwaway PKI for tests of the MQTT link: a CA, a
// broker certificate for 127.0.0.1 and localhost, and client certificates
// whose common name is a broker username (a store id such as "s1", or an
// HQ worker such as "hq-1"). Keys are ECDSA P-256 and certificates are valid
// for one hour. Everything is made in memory; Files writes PEM files for
// Mosquitto and for configs.LoadTLS.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Validity is how long the certificates made here are valid.
const Validity = time.Hour

// CA is a certificate authority.
type CA struct {
	Name string
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewCA makes a self-signed CA with the given name.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := template(tb, pkix.Name{Organization: []string{"RedCarpet test"}, CommonName: name})
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("tlstest: CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("tlstest: CA: %v", err)
	}
	return &CA{Name: name, Cert: cert, key: key, pem: pemBlock("CERTIFICATE", der)}
}

// PEM is the CA certificate in PEM.
func (ca *CA) PEM() []byte { return ca.pem }

// Pool is a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Cert is a certificate issued by a CA, with its key.
type Cert struct {
	CN      string
	TLS     tls.Certificate
	CertPEM []byte
	KeyPEM  []byte // PKCS #8
}

// Server issues a broker certificate for 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(tb testing.TB) *Cert {
	tb.Helper()
	tmpl := template(tb, pkix.Name{CommonName: "localhost"})
	tmpl.DNSNames = []string{"localhost"}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	return ca.issue(tb, tmpl)
}

// Client issues a client certificate with common name cn: the username a
// broker derives from it (Mosquitto's use_identity_as_username).
func (ca *CA) Client(tb testing.TB, cn string) *Cert {
	tb.Helper()
	tmpl := template(tb, pkix.Name{CommonName: cn})
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return ca.issue(tb, tmpl)
}

func (ca *CA) issue(tb testing.TB, tmpl *x509.Certificate) *Cert {
	tb.Helper()
	key := newKey(tb)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatalf("tlstest: issue %s: %v", tmpl.Subject.CommonName, err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("tlstest: key: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("tlstest: issue %s: %v", tmpl.Subject.CommonName, err)
	}
	return &Cert{
		CN:      tmpl.Subject.CommonName,
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM: pemBlock("CERTIFICATE", der),
		KeyPEM:  pemBlock("PRIVATE KEY", pk),
	}
}

// WriteFiles writes the certificate and key as <dir>/<name>.crt and
// <dir>/<name>.key (mode 0600) and returns their paths.
func (c *Cert) WriteFiles(tb testing.TB, dir, name string) (certFile, keyFile string) {
	tb.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeFile(tb, certFile, c.CertPEM)
	writeFile(tb, keyFile, c.KeyPEM)
	return certFile, keyFile
}

// PKI is a CA with a broker certificate, and the PEM files a broker such as
// Mosquitto reads (cafile, certfile, keyfile).
type PKI struct {
	CA     *CA
	Server *Cert
	Dir    string // where the files are

	CAFile, ServerCertFile, ServerKeyFile string

	mu      sync.Mutex
	clients map[string]*Cert
}

// New makes a CA named "RedCarpet test CA", a broker certificate, and
// writes ca.crt, server.crt and server.key into a temporary directory of
// the test.
func New(tb testing.TB) *PKI {
	tb.Helper()
	return NewNamed(tb, "RedCarpet test CA")
}

// NewNamed is New with a CA of the given name; two PKIs do not trust each
// other's certificates.
func NewNamed(tb testing.TB, caName string) *PKI {
	tb.Helper()
	ca := NewCA(tb, caName)
	p := &PKI{CA: ca, Server: ca.Server(tb), Dir: tb.TempDir(), clients: map[string]*Cert{}}
	p.CAFile = filepath.Join(p.Dir, "ca.crt")
	writeFile(tb, p.CAFile, ca.PEM())
	p.ServerCertFile, p.ServerKeyFile = p.Server.WriteFiles(tb, p.Dir, "server")
	return p
}

// Client returns the client certificate for cn, issuing it on first use.
func (p *PKI) Client(tb testing.TB, cn string) *Cert {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[cn]
	if !ok {
		c = p.CA.Client(tb, cn)
		p.clients[cn] = c
	}
	return c
}

// ClientFiles writes the client certificate and key of cn into the PKI's
// directory and returns their paths (for configs.LoadTLS).
func (p *PKI) ClientFiles(tb testing.TB, cn string) (certFile, keyFile string) {
	tb.Helper()
	return p.Client(tb, cn).WriteFiles(tb, p.Dir, "client-"+cn)
}

// ClientTLS is a client configuration presenting the certificate of cn and
// trusting only this PKI's CA.
func (p *PKI) ClientTLS(tb testing.TB, cn string) *tls.Config {
	tb.Helper()
	c := p.TrustTLS()
	c.Certificates = []tls.Certificate{p.Client(tb, cn).TLS}
	return c
}

// TrustTLS is a client configuration trusting this PKI's CA, without a
// client certificate (for username/password logins over TLS).
func (p *PKI) TrustTLS() *tls.Config {
	return &tls.Config{RootCAs: p.CA.Pool(), MinVersion: tls.VersionTLS12}
}

// ServerTLS is a broker configuration: the broker certificate, and client
// certificates required and verified against this PKI's CA.
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.Server.TLS},
		ClientCAs:    p.CA.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("tlstest: key: %v", err)
	}
	return k
}

func template(tb testing.TB, subject pkix.Name) *x509.Certificate {
	tb.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatalf("tlstest: serial: %v", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Minute), // clock skew between processes
		NotAfter:     now.Add(Validity),
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
}
