package serve

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testCA issues certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a leaf certificate for name (CN and DNS SAN).
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTrustedClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	serverCert := ca.issue(t, "worker", x509.ExtKeyUsageServerAuth)
	tests := []struct {
		name       string
		clientCert string // "" for none
		wantClient string
	}{
		{name: "trusted certificate", clientCert: "envoy.mesh", wantClient: "alice"},
		{name: "other certificate", clientCert: "someone", wantClient: "anonymous"},
		{name: "no certificate", wantClient: "anonymous"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			srv, err := New(Options{Registry: reg, TrustedPeers: []netip.Prefix{}, TrustedClientNames: []string{"envoy.mesh"}},
				[]ModelVersion{{Name: "fake", Version: 1, Instances: []Model{&fakeModel{}}}})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close(t.Context()) //nolint:errcheck // nothing queued
			hs := httptest.NewUnstartedServer(srv.Handler())
			hs.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.pool, ClientAuth: tls.VerifyClientCertIfGiven}
			hs.StartTLS()
			defer hs.Close()
			cfg := &tls.Config{RootCAs: ca.pool}
			if tc.clientCert != "" {
				cfg.Certificates = []tls.Certificate{ca.issue(t, tc.clientCert, x509.ExtKeyUsageClientAuth)}
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			infer := func() {
				req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v2/models/fake/infer",
					bytes.NewReader([]byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`)))
				req.Header.Set("X-Torchgate-Client-Id", "alice")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			// A client's series starts at the scrape after its first request (clientmetrics):
			// the second request is the one counted under its name.
			infer()
			counterValue(t, reg, "torchgate_inference_client_requests_total", nil)
			infer()
			if n := counterValue(t, reg, "torchgate_inference_client_requests_total", map[string]string{"client_id": tc.wantClient}); n != 1 {
				t.Errorf("client %q counted %v times, want 1", tc.wantClient, n)
			}
		})
	}
}
