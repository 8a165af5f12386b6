package cuda

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"unsafe"

	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// scaledWeight returns the Ref of a convolution's weight with Conv2d.Scale applied:
// weight[o, ...]·Scale[o] computed in float64 and rounded to float32, as the CPU backend
// packs it. Without Scale it is the weight itself.
func (l *lowering) scaledWeight(w *graph.Value, scale []float64) (Ref, error) {
	if len(scale) == 0 {
		return l.ref(w)
	}
	src := w.Float32()
	if src == nil || len(w.Shape) == 0 || w.Shape[0] != len(scale) {
		return Ref{}, fmt.Errorf("%w: scale of %d channels for weight %v", ErrUnsupported, len(scale), w.Shape)
	}
	per := len(src.Data) / len(scale)
	data := make([]float32, len(src.Data))
	for o, s := range scale {
		for i := o * per; i < (o+1)*per; i++ {
			data[i] = float32(float64(src.Data[i]) * s)
		}
	}
	k := ConstKey{Source: w.Source, Scale: scaleHash(scale)}
	if w.Source == nil { // the unscaled data lives as long as the key
		k.Data = unsafe.Pointer(unsafe.SliceData(src.Data))
	}
	c := Const{Data: &tensor.Tensor{Shape: w.Shape, Data: data}, Key: k}
	return Ref{Space: SpaceConst, Index: l.addConst(c)}, nil
}

// scaleHash is an FNV-1a hash of the scale factors' bits (never 0).
func scaleHash(scale []float64) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, s := range scale {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(s))
		h.Write(b[:])
	}
	return h.Sum64() | 1
}
