package cpu

import (
	"fmt"
	"math"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// LayerNorm computes torch.nn.functional.layer_norm(x, normalizedShape, weight, bias, eps):
// each slice over the last len(normalizedShape) dimensions (which must equal
// normalizedShape) is shifted by its mean and divided by √(biased variance + eps), then
// scaled by weight and shifted by bias (each nil or of normalizedShape's size). dst has x's
// shape and may be x.
func LayerNorm(dst, x *tensor.Tensor, normalizedShape []int, weight, bias []float32, eps float64) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	k := len(normalizedShape)
	if k == 0 || k > x.Rank() || !tensor.EqualShapes(x.Shape[x.Rank()-k:], normalizedShape) ||
		!tensor.EqualShapes(dst.Shape, x.Shape) {
		return fmt.Errorf("%w: layer_norm over %v of input %v into %v", ErrShape, slices.Clone(normalizedShape), x.Shape, dst.Shape)
	}
	n := tensor.Numel(normalizedShape)
	if (weight != nil && len(weight) != n) || (bias != nil && len(bias) != n) {
		return fmt.Errorf("%w: layer_norm weight %d / bias %d for %d elements", ErrShape, len(weight), len(bias), n)
	}
	if n == 0 {
		return nil
	}
	for off := 0; off < len(x.Data); off += n {
		row, out := x.Data[off:off+n], dst.Data[off:off+n]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := sum / float64(n)
		var sq float64
		for _, v := range row {
			d := float64(v) - mean
			sq += d * d
		}
		rstd := 1 / math.Sqrt(sq/float64(n)+eps)
		for i, v := range row {
			y := (float64(v) - mean) * rstd
			if weight != nil {
				y *= float64(weight[i])
			}
			if bias != nil {
				y += float64(bias[i])
			}
			out[i] = float32(y)
		}
	}
	return nil
}

// BatchNorm computes torch.nn.functional.batch_norm(x, mean, variance, weight, bias,
// training=False, eps=eps) for x [N, C, ...]: per channel c,
// (x − mean[c]) / √(variance[c] + eps) · weight[c] + bias[c]. weight and bias may be nil.
// dst has x's shape and may be x.
func BatchNorm(dst, x *tensor.Tensor, mean, variance, weight, bias []float32, eps float64) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	if x.Rank() < 2 || !tensor.EqualShapes(dst.Shape, x.Shape) {
		return fmt.Errorf("%w: batch_norm input %v into %v", ErrShape, x.Shape, dst.Shape)
	}
	c := x.Shape[1]
	if len(mean) != c || len(variance) != c || (weight != nil && len(weight) != c) || (bias != nil && len(bias) != c) {
		return fmt.Errorf("%w: batch_norm statistics for %d channels", ErrShape, c)
	}
	_, _, inner := splitAt(x.Shape, 1)
	for off := 0; off < len(x.Data); off += inner {
		ch := off / inner % c
		s := 1 / math.Sqrt(float64(variance[ch])+eps)
		if weight != nil {
			s *= float64(weight[ch])
		}
		shift := -float64(mean[ch]) * s
		if bias != nil {
			shift += float64(bias[ch])
		}
		for i, v := range x.Data[off : off+inner] {
			dst.Data[off+i] = float32(float64(v)*s + shift)
		}
	}
	return nil
}

// Embedding computes torch.nn.functional.embedding(ids, weight): dst[..., :] = weight[id]
// for ids of any shape and weight [V, D]; dst has shape ids.Shape + [D]. An id outside
// [0, V) is an error wrapping ErrIndex.
func Embedding(dst *tensor.Tensor, ids *tensor.Int64, weight *tensor.Tensor) error {
	if err := validate(dst, weight); err != nil {
		return err
	}
	if ids == nil || ids.Validate() != nil || weight.Rank() != 2 {
		return fmt.Errorf("%w: embedding of ids into weight %v", ErrShape, weight.Shape)
	}
	v, d := weight.Shape[0], weight.Shape[1]
	var buf [maxDims]int
	if err := checkDst(dst, append(append(buf[:0], ids.Shape...), d)); err != nil {
		return err
	}
	for i, id := range ids.Data {
		if id < 0 || id >= int64(v) {
			return fmt.Errorf("%w: token id %d at position %d, vocabulary %d", ErrIndex, id, i, v)
		}
		copy(dst.Data[i*d:(i+1)*d], weight.Data[int(id)*d:(int(id)+1)*d])
	}
	return nil
}
