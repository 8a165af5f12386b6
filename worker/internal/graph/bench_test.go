package graph

import (
	"os"
	"testing"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// BenchmarkBuild times what a new input shape costs before the backend prepares it: Build,
// FoldBatchNorm and Fuse.
func BenchmarkBuild(b *testing.B) {
	for _, c := range []struct {
		name, archive string
		shape         []int
	}{
		{"transformer", "torch113/transformer.pt", []int{8, 5, 16}},
		{"resnet18", "gen/torch113/resnet18.pt", []int{1, 3, 224, 224}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := os.Stat(fixtures + c.archive); err != nil {
				b.Skipf("%s absent", c.archive)
			}
			arc, err := ts.Open(fixtures + c.archive)
			if err != nil {
				b.Fatal(err)
			}
			defer arc.Close()
			for b.Loop() {
				g, err := Build(arc, []InputSpec{f32(c.shape...)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := FoldBatchNorm(g); err != nil {
					b.Fatal(err)
				}
				Fuse(g)
			}
		})
	}
}
