package cpu

import (
	"fmt"
	"math"
)

// FoldBatchNorm folds an inference-mode BatchNorm that follows a convolution into the
// convolution's per-output-channel weight scales and its bias, in place: with
// s = gamma/√(var + eps) per channel o, scale[o] *= s[o] and bias[o] = (bias[o] − mean[o])·s[o]
// + beta[o]. Pack the unchanged weight with the scales ([PackConv2d]). scale and bias must
// have one entry per channel (pass ones and zeros for a fresh layer without bias). gamma and
// beta may be nil (affine=False: 1 and 0).
func FoldBatchNorm(scale []float64, bias, mean, variance, gamma, beta []float32, eps float64) error {
	c := len(mean)
	if c == 0 || len(variance) != c || len(bias) != c || len(scale) != c ||
		(gamma != nil && len(gamma) != c) || (beta != nil && len(beta) != c) {
		return fmt.Errorf("%w: batch norm fold of %d scales, %d biases, %d channels", ErrShape, len(scale), len(bias), c)
	}
	for o := range c {
		g, b := 1.0, 0.0
		if gamma != nil {
			g = float64(gamma[o])
		}
		if beta != nil {
			b = float64(beta[o])
		}
		s := g / math.Sqrt(float64(variance[o])+eps)
		scale[o] *= s
		bias[o] = float32((float64(bias[o])-float64(mean[o]))*s + b)
	}
	return nil
}
