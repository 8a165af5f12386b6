//go:build cuda

package cuda

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// GPU golden tolerances: max |ours − torch| ≤ tol · max(1, max |torch|). TF32 products
// carry a 10-bit mantissa (relative error ~1e-3 each, partly cancelling over long sums);
// the exact mode meets the CPU engine's tolerance.
const (
	tolTF32  = 5e-3
	tolExact = 1e-4
)

// gpuModelsDir holds archives made on the GPU machine by testdata/gpu_torch.py (ResNet-50
// with golden outputs); $TORCHGATE_GPU_MODELS, as scripts/gpu-check.sh sets it.
func gpuModelsDir() string { return os.Getenv("TORCHGATE_GPU_MODELS") }

func requireGPU(t testing.TB) {
	t.Helper()
	if !Available() {
		t.Skip("no CUDA device")
	}
}

// TestGPUGolden runs every fixture on the GPU in both precisions and compares with
// PyTorch.
func TestGPUGolden(t *testing.T) {
	requireGPU(t)
	cases := append(goldenCases(t), embeddingCase(t))
	for _, exact := range []bool{false, true} {
		tol := map[bool]float64{false: tolTF32, true: tolExact}[exact]
		for _, gc := range cases {
			t.Run(fmt.Sprintf("%s/exact=%v", gc.name, exact), func(t *testing.T) {
				m, err := Load(gc.archive, Options{ExactFP32: exact})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				got, err := m.Run(context.Background(), gc.inputs)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(gc.want) {
					t.Fatalf("%d outputs, want %d", len(got), len(gc.want))
				}
				for i := range got {
					if err := compareGolden(got[i], gc.want[i], tol); err != nil {
						t.Errorf("output %d: %v", i, err)
					}
				}
			})
		}
	}
}

// TestGPUNoAllocPerRun checks that warm runs take no new device memory and that the
// programs of two batch sizes share the weights.
func TestGPUNoAllocPerRun(t *testing.T) {
	requireGPU(t)
	arc, err := torchscript.Open("../testdata/torch113/cnn.pt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.New(arc, b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in := func(n int) []engine.Tensor {
		return []engine.Tensor{{Shape: []int{n, 3, 16, 16}, Float32: make([]float32, n*3*16*16)}}
	}
	if _, err := m.Run(context.Background(), in(1)); err != nil {
		t.Fatal(err)
	}
	warm := b.PoolStats()
	for range 5 {
		if _, err := m.Run(context.Background(), in(1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.PoolStats(); got.Allocs != warm.Allocs {
		t.Errorf("warm runs allocated: %+v after %+v", got, warm)
	}
	if _, err := m.Run(context.Background(), in(4)); err != nil {
		t.Fatal(err)
	}
	if got := b.PoolStats(); got.Held-warm.Held > warm.Held {
		t.Errorf("a second batch size more than doubled the memory (weights not shared?): %+v after %+v", got, warm)
	}
}

// TestGPUBadTokenID checks that an embedding id outside the table is an input error.
func TestGPUBadTokenID(t *testing.T) {
	requireGPU(t)
	gc := embeddingCase(t)
	m, err := Load(gc.archive, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bad := []engine.Tensor{{Shape: []int{2, 3}, Int64: []int64{0, 7, 3, 3, 5, 1 << 40}}}
	if _, err := m.Run(context.Background(), bad); !errors.Is(err, engine.ErrInput) {
		t.Errorf("Run with a token id outside the embedding: err %v, want engine.ErrInput", err)
	}
	if _, err := m.Run(context.Background(), gc.inputs); err != nil { // the model still works
		t.Errorf("Run after the bad input: %v", err)
	}
}

// BenchmarkGPU times warm runs of ResNet-50 (from $TORCHGATE_GPU_MODELS) and the
// transformer fixture at batch 1, 8 and 32 in TF32 and exact FP32; items/s counts batch
// elements. testdata/gpu_torch.py times PyTorch on the same archives and batches.
func BenchmarkGPU(b *testing.B) {
	requireGPU(b)
	cases := []struct {
		name, archive string
		shape         []int
	}{
		{"resnet50", filepath.Join(gpuModelsDir(), "resnet50.pt"), []int{3, 224, 224}},
		{"transformer", "../testdata/torch113/transformer.pt", []int{5, 16}},
	}
	for _, c := range cases {
		for _, exact := range []bool{false, true} {
			for _, batch := range []int{1, 8, 32} {
				b.Run(fmt.Sprintf("%s/b%d/exact=%v", c.name, batch, exact), func(b *testing.B) {
					if _, err := os.Stat(c.archive); err != nil {
						b.Skipf("%s absent", c.archive)
					}
					m, err := Load(c.archive, Options{ExactFP32: exact})
					if err != nil {
						b.Fatal(err)
					}
					defer m.Close()
					shape := append([]int{batch}, c.shape...)
					n := 1
					for _, d := range shape {
						n *= d
					}
					in := []engine.Tensor{{Shape: shape, Float32: make([]float32, n)}}
					for i := range in[0].Float32 {
						in[0].Float32[i] = 1
					}
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
