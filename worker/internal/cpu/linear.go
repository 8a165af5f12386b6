package cpu

import (
	"fmt"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// LinearWeights is the weight of a linear layer packed once, at load time, into the GEMM's
// panel layout. It is read-only and may be shared by engines.
type LinearWeights struct {
	// In and Out are the layer's input and output features.
	In, Out int
	packed  []float32
}

// PackLinear packs a torch.nn.Linear weight of shape [out, in].
func PackLinear(w *tensor.Tensor) (*LinearWeights, error) {
	if w.Rank() != 2 || w.Validate() != nil {
		return nil, fmt.Errorf("%w: linear weight %v, want [out, in]", ErrShape, w.Shape)
	}
	out, in := w.Shape[0], w.Shape[1]
	lw := &LinearWeights{In: in, Out: out, packed: make([]float32, packedSize(out, nr, in))}
	packAll(lw.packed, &denseB{data: w.Data, ld: max(in, 1), n: out, trans: true}, out, nr, in)
	return lw, nil
}

// Linear computes torch.nn.functional.linear(x, weight) = x·Wᵀ for x of shape [..., in] into
// dst of shape [..., out], then the epilogue: pass the layer's bias as a BiasPerColumn bias
// (and optionally an activation and a residual of dst's shape).
func (e *Engine) Linear(dst, x *tensor.Tensor, w *LinearWeights, epi *Epilogue) error {
	if x.Rank() < 1 || x.Shape[x.Rank()-1] != w.In || x.Validate() != nil {
		return fmt.Errorf("%w: linear input %v for weight [%d, %d]", ErrShape, x.Shape, w.Out, w.In)
	}
	var buf [maxDims]int
	want := append(append(buf[:0], x.Shape[:x.Rank()-1]...), w.Out)
	if err := checkDst(dst, want); err != nil {
		return err
	}
	m := len(x.Data) / max(w.In, 1)
	if w.In == 0 {
		m = len(dst.Data) / max(w.Out, 1)
	}
	if err := epi.check(m, w.Out); err != nil {
		return err
	}
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	e.da = denseA{data: x.Data, ld: max(w.In, 1), m: m, alpha: 1}
	e.gemmParallel(m, w.Out, w.In, &e.da, nil, nil, w.packed, 0, dst.Data, max(w.Out, 1), epi)
	e.da = denseA{}
	return nil
}

// maxDims is the rank up to which shape computations use stack buffers; larger ranks work
// but allocate.
const maxDims = 8

// checkDst verifies that dst is a valid tensor of the wanted shape.
func checkDst(dst *tensor.Tensor, want []int) error {
	if dst == nil || !tensor.EqualShapes(dst.Shape, want) || dst.Validate() != nil {
		var got []int
		if dst != nil {
			got = dst.Shape
		}
		return fmt.Errorf("%w: destination %v, want %v", ErrShape, got, slices.Clone(want))
	}
	return nil
}
