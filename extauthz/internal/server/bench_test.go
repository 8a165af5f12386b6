package server

import (
	"context"
	"testing"

	"github.com/torchgate/torchgate/extauthz/internal/testidp"
)

// BenchmarkCheckGRPC measures a warm-cache Check over a real loopback gRPC connection, client
// and server in one process (so ns/op counts both sides' CPU).
func BenchmarkCheckGRPC(b *testing.B) {
	h := start(b)
	tok := h.mint(testidp.Token{Alg: "ES256"})
	req := checkRequest("POST", "/v2/models/mlp/infer", bearer(tok), map[string]string{"scope": "infer:mlp", "model": "mlp"})
	if _, err := h.client.Check(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := h.client.Check(context.Background(), req)
			if err != nil || resp.GetOkResponse() == nil {
				b.Error("check failed")
				return
			}
		}
	})
}
