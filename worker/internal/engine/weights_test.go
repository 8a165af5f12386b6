package engine

import (
	"context"
	"testing"
)

// TestWeightsPackedOncePerModel runs each model at two batch sizes and checks that the
// second graph reuses every packed weight of the first instead of packing its own.
func TestWeightsPackedOncePerModel(t *testing.T) {
	tests := []struct {
		name    string
		archive string
		shape   []int // without the batch dimension
	}{
		{"convolutions with folded BatchNorm", "torch113/cnn.pt", []int{3, 16, 16}},
		{"frozen convolutions", "torch26/cnn_frozen.pt", []int{3, 16, 16}},
		{"linear layers", "torch113/mlp.pt", []int{16}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.archive)
			c := m.backend.(*CPU)
			packed := func() int {
				c.mu.Lock()
				defer c.mu.Unlock()
				return len(c.convs) + len(c.linears)
			}
			var counts []int
			for _, batch := range []int{1, 3} {
				if _, err := m.Run(context.Background(), []Tensor{ones(append([]int{batch}, tc.shape...)...)}); err != nil {
					t.Fatal(err)
				}
				counts = append(counts, packed())
			}
			if len(m.progs) != 2 {
				t.Fatalf("%d prepared graphs, want 2", len(m.progs))
			}
			if counts[0] == 0 || counts[1] != counts[0] {
				t.Errorf("packed weights after batch 1 and 3: %v, want the same non-zero count", counts)
			}
		})
	}
}
