package edge

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkEdge measures an allowed request with a small body sent directly to the worker
// stand-in and through the dev edge (header handling, the Check over gRPC to a real extauthz
// with limits, buffering, proxying and the access log).
func BenchmarkEdge(b *testing.B) {
	s := startStack(b)
	tok := s.token("bench", "infer:mlp")
	body := `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := func(b *testing.B, url string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("POST", url, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	b.Run("direct", func(b *testing.B) { run(b, s.worker.srv.URL+"/v2/models/mlp/infer") })
	b.Run("edge", func(b *testing.B) { run(b, "http://"+s.edge.Addr()+"/v2/models/mlp/infer") })
}
