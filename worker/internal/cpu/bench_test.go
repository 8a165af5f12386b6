package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// reportGFLOPS reports the benchmark's throughput for flops floating-point operations per op,
// and the CPU time per op of all threads together since cpu0 (from processCPUSeconds).
func reportGFLOPS(b *testing.B, flops float64, cpu0 float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric((processCPUSeconds()-cpu0)/float64(b.N)*1e3, "cpu-ms/op")
}

func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name    string
		m, n, k int
	}{
		{"square256", 256, 256, 256},
		{"square512", 512, 512, 512},
		{"square1024", 1024, 1024, 1024},
		{"mlp64x512x512", 64, 512, 512},
		{"mlp1x512x512", 1, 512, 512},
		{"conv3136x576x64", 3136, 64, 576},
		{"conv64x576x3136", 64, 3136, 576},
	}
	for _, s := range shapes {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", s.name, threads), func(b *testing.B) {
				e := newEngine(b, threads)
				r := rand.New(rand.NewPCG(1, 1))
				a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
				cpu0 := processCPUSeconds()
				for b.Loop() {
					if err := e.Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bb, s.n, 0, c, s.n, nil); err != nil {
						b.Fatal(err)
					}
				}
				reportGFLOPS(b, 2*float64(s.m)*float64(s.n)*float64(s.k), cpu0)
			})
		}
	}
}

func BenchmarkLinear(b *testing.B) {
	for _, s := range []struct {
		name           string
		batch, in, out int
	}{
		{"1x512x512", 1, 512, 512},
		{"64x512x512", 64, 512, 512},
		{"1024x512x2048", 1024, 512, 2048},
	} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", s.name, threads), func(b *testing.B) {
				e := newEngine(b, threads)
				r := rand.New(rand.NewPCG(1, 1))
				lw, err := PackLinear(randTensor(r, s.out, s.in))
				if err != nil {
					b.Fatal(err)
				}
				x := randTensor(r, s.batch, s.in)
				dst := randTensor(r, s.batch, s.out)
				epi := &Epilogue{Bias: randSlice(r, s.out), Act: ActReLU}
				cpu0 := processCPUSeconds()
				for b.Loop() {
					if err := e.Linear(dst, x, lw, epi); err != nil {
						b.Fatal(err)
					}
				}
				reportGFLOPS(b, 2*float64(s.batch*s.in*s.out), cpu0)
			})
		}
	}
}

func BenchmarkAttention(b *testing.B) {
	// A transformer encoder layer at batch 8: 8 heads, 128 tokens, head size 64.
	r := rand.New(rand.NewPCG(1, 1))
	q, k, v := randTensor(r, 8, 8, 128, 64), randTensor(r, 8, 8, 128, 64), randTensor(r, 8, 8, 128, 64)
	dst := randTensor(r, 8, 8, 128, 64)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("b8h8l128e64/threads=%d", threads), func(b *testing.B) {
			e := newEngine(b, threads)
			cpu0 := processCPUSeconds()
			for b.Loop() {
				if err := e.ScaledDotProductAttention(dst, q, k, v, AttentionOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			reportGFLOPS(b, 4*8*8*128*128*64, cpu0)
		})
	}
}

func BenchmarkElementwise(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randTensor(r, 8, 128, 512)
	dst := randTensor(r, 8, 128, 512)
	for _, act := range []struct {
		name string
		act  Activation
	}{{"relu", ActReLU}, {"gelu", ActGELU}, {"gelu_tanh", ActGELUTanh}} {
		b.Run(act.name, func(b *testing.B) {
			for b.Loop() {
				if err := Activate(dst, x, act.act); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(8 * len(x.Data)))
		})
	}
	b.Run("softmax", func(b *testing.B) {
		for b.Loop() {
			if err := Softmax(dst, x, -1); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(8 * len(x.Data)))
	})
	b.Run("layer_norm", func(b *testing.B) {
		w, bias := randSlice(r, 512), randSlice(r, 512)
		for b.Loop() {
			if err := LayerNorm(dst, x, []int{512}, w, bias, 1e-5); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(8 * len(x.Data)))
	})
}

// BenchmarkMaxPool2dResNet times ResNet's stem pooling (3x3, stride 2, padding 1) on the
// 64 x 112 x 112 output of its first convolution.
func BenchmarkMaxPool2dResNet(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	e := newEngine(b, 1)
	x := randTensor(r, 1, 64, 112, 112)
	dst := randTensor(r, 1, 64, 56, 56)
	p := Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	b.SetBytes(int64(4 * len(x.Data)))
	for b.Loop() {
		if err := e.MaxPool2d(dst, x, p); err != nil {
			b.Fatal(err)
		}
	}
}
