package tlstest_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/sync/tlstest"
)

// handshake runs a TLS handshake between the two configurations over a
// pipe and returns the client's and the server's errors.
func handshake(client, server *tls.Config) (clientErr, serverErr error, peerCN string) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	srv := tls.Server(b, server)
	go func() {
		err := srv.Handshake()
		if err == nil {
			// TLS 1.3: the server verifies the client's certificate after
			// the client considers the handshake done; a read settles it.
			_, err = srv.Write([]byte{1})
		}
		done <- err
	}()
	cl := tls.Client(a, client)
	clientErr = cl.Handshake()
	if clientErr == nil {
		_, clientErr = cl.Read(make([]byte, 1))
	}
	if clientErr != nil {
		a.Close() // unblock the server
	}
	serverErr = <-done
	if serverErr == nil {
		if pc := srv.ConnectionState().PeerCertificates; len(pc) > 0 {
			peerCN = pc[0].Subject.CommonName
		}
	}
	return clientErr, serverErr, peerCN
}

func TestMutualTLS(t *testing.T) {
	p := tlstest.New(t)
	client := p.ClientTLS(t, "s1")
	client.ServerName = "localhost"
	ce, se, cn := handshake(client, p.ServerTLS())
	if ce != nil || se != nil || cn != "s1" {
		t.Fatalf("handshake: client %v, server %v, peer %q", ce, se, cn)
	}

	rogue := tlstest.NewNamed(t, "Rogue CA")
	foreign := p.TrustTLS()
	foreign.ServerName = "localhost"
	rc := rogue.Client(t, "s1").TLS
	foreign.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rc, nil }
	if _, se, _ := handshake(foreign, p.ServerTLS()); se == nil {
		t.Error("server accepted a client certificate of another CA")
	}
	none := p.TrustTLS()
	none.ServerName = "localhost"
	if _, se, _ := handshake(none, p.ServerTLS()); se == nil {
		t.Error("server accepted a client without certificate")
	}
	distrust := rogue.ClientTLS(t, "s1")
	distrust.ServerName = "localhost"
	if ce, _, _ := handshake(distrust, p.ServerTLS()); ce == nil {
		t.Error("client accepted a server of another CA")
	}
}

func TestFiles(t *testing.T) {
	p := tlstest.New(t)
	certFile, keyFile := p.ClientFiles(t, "hq-1")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: p.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if leaf.Subject.CommonName != "hq-1" || leaf.NotAfter.Sub(leaf.NotBefore) > tlstest.Validity+2*time.Minute {
		t.Errorf("subject %s, valid %s to %s", leaf.Subject, leaf.NotBefore, leaf.NotAfter)
	}
	srv, err := tls.LoadX509KeyPair(p.ServerCertFile, p.ServerKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sl, _ := x509.ParseCertificate(srv.Certificate[0])
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := sl.Verify(x509.VerifyOptions{Roots: p.CA.Pool(), DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	for _, f := range []string{p.CAFile, p.ServerKeyFile, keyFile} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode(), err)
		}
	}
}
