package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// TestBatchInvariance runs every fixture archive on a batch of n distinct rows and on each
// row alone, with one and two threads, and requires every output of every row to be equal
// bit for bit: a row's answer must not depend on the batch it was computed in (the server's
// dynamic batching relies on it). The large generated archives (ResNet-18 from torch 1.13
// only; not ResNet-50) run one batch size with two threads, and none in -short mode. gen.py's branch model is
// left out: its forward centres the batch when it holds more than one row, so its rows
// depend on each other by design.
func TestBatchInvariance(t *testing.T) {
	for _, dir := range fixtureDirs {
		m := readManifest(t, dir)
		if m == nil {
			if dir == fixtureDirs[0] {
				t.Fatalf("%s: no manifest", dir)
			}
			continue
		}
		large := filepath.Base(filepath.Dir(dir)) == "gen"
		for _, a := range m.Archives {
			if len(a.Cases) == 0 || strings.HasPrefix(a.Archive, "branch") {
				continue
			}
			t.Run(strings.TrimPrefix(dir, "../../testdata/")+"/"+a.Archive, func(t *testing.T) {
				batches, threadCounts := []int{1, 2, 5, 7, 8, 13, 32}, []int{1, 2}
				if large {
					if testing.Short() || strings.Contains(a.Archive, "resnet50") || strings.Contains(dir, "torch26") {
						t.Skip("large model")
					}
					batches, threadCounts = []int{3}, []int{2}
				}
				x, err := ReadNPY(filepath.Join(dir, a.Cases[0].Inputs[0].File))
				if err != nil {
					t.Fatal(err)
				}
				if len(a.Cases[0].Inputs) != 1 || x.Int64 != nil {
					t.Skipf("%d inputs of %v: the test feeds one float32 input", len(a.Cases[0].Inputs), x.DType())
				}
				for _, threads := range threadCounts {
					model, err := Load(filepath.Join(dir, a.Archive), Options{Threads: threads})
					if err != nil {
						t.Fatal(err)
					}
					defer model.Close()
					for _, n := range batches {
						t.Run(fmt.Sprintf("t%d/b%d", threads, n), func(t *testing.T) {
							checkRowsAlone(t, model, randomRows(x.Shape[1:], n, uint64(n)))
						})
					}
				}
			})
		}
	}
}

// randomRows returns a batch of n rows of the given shape with values in [-2, 2).
func randomRows(row []int, n int, seed uint64) Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	t := Tensor{Shape: append([]int{n}, row...)}
	t.Float32 = make([]float32, tensor.Numel(t.Shape))
	for i := range t.Float32 {
		t.Float32[i] = 4*r.Float32() - 2
	}
	return t
}

// checkRowsAlone runs the batch x and each of its rows alone and compares the outputs row
// by row, bit for bit.
func checkRowsAlone(t *testing.T, m *Model, x Tensor) {
	t.Helper()
	n := x.Shape[0]
	batched, err := m.Run(context.Background(), []Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		alone, err := m.Run(context.Background(), []Tensor{batchRow(x, i)})
		if err != nil {
			t.Fatal(err)
		}
		for o := range batched {
			want := alone[o].Float32
			if batched[o].Shape[0] != n || len(batched[o].Float32) != n*len(want) {
				t.Fatalf("output %d: shape %v for a batch of %d, alone %v", o, batched[o].Shape, n, alone[o].Shape)
			}
			got := batched[o].Float32[i*len(want) : (i+1)*len(want)]
			if j := firstBitDifference(got, want); j >= 0 {
				t.Fatalf("row %d of %d, output %d, element %d: batched %v (%#08x), alone %v (%#08x)",
					i, n, o, j, got[j], math.Float32bits(got[j]), want[j], math.Float32bits(want[j]))
			}
		}
	}
}

// batchRow returns row i of x as a batch of one.
func batchRow(x Tensor, i int) Tensor {
	size := len(x.Float32) / x.Shape[0]
	shape := slices.Clone(x.Shape)
	shape[0] = 1
	return Tensor{Shape: shape, Float32: slices.Clone(x.Float32[i*size : (i+1)*size])}
}

// firstBitDifference returns the first index where a and b differ in their bits, or -1.
func firstBitDifference(a, b []float32) int {
	for j := range a {
		if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
			return j
		}
	}
	return -1
}
