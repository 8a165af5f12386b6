package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// TestWarmCallsAllocateNothing checks the engine's promise: once a call with given shapes has
// run, repeating it allocates nothing, so a warmed-up model runs allocation-free.
func TestWarmCallsAllocateNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	e := newEngine(t, 2)
	x := randTensor(r, 2, 8, 12, 40)
	convW, _ := PackConv2d(randTensor(r, 16, 8, 3, 3), 1, nil)
	convOut, _ := tensor.New(2, 16, 12, 40)
	dwW, _ := PackConv2d(randTensor(r, 8, 1, 3, 3), 8, nil)
	dwOut, _ := tensor.New(2, 8, 12, 40)
	strided, _ := tensor.New(2, 16, 6, 20)
	im2colIn := randTensor(r, 1, 8, 7, 7)
	im2colOut, _ := tensor.New(1, 16, 7, 7)
	smallIn, smallOut := randTensor(r, 3, 8, 7, 7), randTensor(r, 3, 16, 7, 7)
	flatIn, flatOut := randTensor(r, 3, 8, 2, 40), randTensor(r, 3, 16, 2, 40)
	epi := &Epilogue{Bias: randSlice(r, 16), Act: ActReLU}
	lw, _ := PackLinear(randTensor(r, 30, 40))
	lin := randTensor(r, 5, 40)
	linOut, _ := tensor.New(5, 30)
	gelu := &Epilogue{Act: ActGELU}
	a, b := randTensor(r, 4, 9, 40), randTensor(r, 4, 40, 11)
	mm, _ := tensor.New(4, 9, 11)
	row := randTensor(r, 1, 11)
	mask, _ := tensor.NewBool(9, 11)
	mmT, _ := tensor.New(4, 11, 9)
	lnW := randSlice(r, 11)
	sel, _ := tensor.New(4, 11)
	sl, _ := tensor.New(4, 3, 11)
	cat, _ := tensor.New(4, 18, 11)
	table := randTensor(r, 10, 11)
	ids, _ := tensor.NewInt64([]int64{1, 9, 3, 0}, 4)
	emb, _ := tensor.New(4, 11)
	pooled, _ := tensor.New(2, 8, 6, 20)
	q := randTensor(r, 2, 3, 70, 16)
	att, _ := tensor.New(2, 3, 70, 16)
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"shifted conv2d", func() error { return e.Conv2d(convOut, x, convW, Conv2dParams{PadH: 1, PadW: 1}, epi) }},
		{"strided conv2d", func() error {
			return e.Conv2d(strided, x, convW, Conv2dParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, epi)
		}},
		{"im2col conv2d", func() error { return e.Conv2d(im2colOut, im2colIn, convW, Conv2dParams{PadH: 1, PadW: 1}, epi) }},
		{"batched im2col conv2d", func() error {
			return e.Conv2d(smallOut, smallIn, convW, Conv2dParams{PadH: 1, PadW: 1}, epi)
		}},
		{"batched shifted conv2d", func() error {
			return e.Conv2d(flatOut, flatIn, convW, Conv2dParams{PadH: 1, PadW: 1}, epi)
		}},
		{"depthwise conv2d", func() error { return e.Conv2d(dwOut, x, dwW, Conv2dParams{PadH: 1, PadW: 1}, nil) }},
		{"linear", func() error { return e.Linear(linOut, lin, lw, gelu) }},
		{"bmm", func() error { return e.Bmm(mm, a, b) }},
		{"broadcast add", func() error { return Add(mm, mm, row, 1) }},
		{"masked fill", func() error { return MaskedFill(mm, mm, mask, 0) }},
		{"softmax", func() error { return Softmax(mm, mm, 1) }},
		{"permute", func() error { return Transpose(mmT, mm, 1, 2) }},
		{"layer norm", func() error { return LayerNorm(mm, mm, []int{11}, lnW, lnW, 1e-5) }},
		{"select", func() error { return Select(sel, mm, 1, -1) }},
		{"slice", func() error { return Slice(sl, mm, 1, 1, 9, 3) }},
		{"cat", func() error { return Cat(cat, []*tensor.Tensor{mm, mm}, 1) }},
		{"embedding", func() error { return Embedding(emb, ids, table) }},
		{"max pool", func() error {
			return e.MaxPool2d(pooled, x, Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
		}},
		{"attention", func() error { return e.ScaledDotProductAttention(att, q, q, q, AttentionOptions{Causal: true}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(5, func() {
				if err := tc.run(); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Fatalf("%v allocations per warm call", n)
			}
		})
	}
}
