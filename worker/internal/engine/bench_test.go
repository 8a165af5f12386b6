package engine

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// BenchmarkModel times warm Runs; items/s counts batch elements. The PyTorch numbers for the
// same archives, batches and threads come from testdata/bench_torch.py (see BENCHMARKS.md).
func BenchmarkModel(b *testing.B) {
	cases := []struct {
		name, archive string
		shape         []int
		batches       []int
	}{
		{"mlp", "torch113/mlp_frozen.pt", []int{16}, []int{1, 64}},
		{"resnet18", "gen/torch113/resnet18_frozen.pt", []int{3, 224, 224}, []int{1, 8}},
		{"transformer", "torch113/transformer.pt", []int{5, 16}, []int{8}},
	}
	for _, c := range cases {
		for _, threads := range []int{1, 2} {
			for _, batch := range c.batches {
				b.Run(fmt.Sprintf("%s/b%d/t%d", c.name, batch, threads), func(b *testing.B) {
					if _, err := os.Stat(fixtures + c.archive); err != nil {
						b.Skipf("%s absent (generate it with gen.py --large)", c.archive)
					}
					m, err := Load(fixtures+c.archive, Options{Threads: threads})
					if err != nil {
						b.Fatal(err)
					}
					defer m.Close()
					in := []Tensor{ones(append([]int{batch}, c.shape...)...)}
					if _, err := m.Run(context.Background(), in); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if _, err := m.Run(context.Background(), in); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "items/s")
				})
			}
		}
	}
}
