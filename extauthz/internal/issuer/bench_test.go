package issuer

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkTokenEndpoint measures tokens issued per second over HTTP: ES256 keys,
// client_secret_basic, parallel clients on keep-alive connections.
func BenchmarkTokenEndpoint(b *testing.B) {
	e := newEnv(b, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PathToken, strings.NewReader("grant_type=client_credentials&scope=infer:mlp"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("svc", e.secret)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
