package cpu

import (
	"fmt"
	"math"
)

// FoldBatchNorm folds an inference-mode BatchNorm that follows a convolution or linear layer
// into that layer's weight and bias, in place: with s = gamma/√(var + eps) per output channel
// o, weight[o, ...] *= s[o] and bias[o] = (bias[o] − mean[o])·s[o] + beta[o]. weight holds
// len(mean) equal blocks (one per output channel). bias must have one entry per channel (pass
// zeros for a layer without bias). gamma and beta may be nil (affine=False: 1 and 0).
func FoldBatchNorm(weight, bias, mean, variance, gamma, beta []float32, eps float64) error {
	c := len(mean)
	if c == 0 || len(variance) != c || len(bias) != c || len(weight)%c != 0 ||
		(gamma != nil && len(gamma) != c) || (beta != nil && len(beta) != c) {
		return fmt.Errorf("%w: batch norm fold of %d weights, %d biases, %d channels", ErrShape, len(weight), len(bias), c)
	}
	per := len(weight) / c
	for o := range c {
		g, b := 1.0, 0.0
		if gamma != nil {
			g = float64(gamma[o])
		}
		if beta != nil {
			b = float64(beta[o])
		}
		s := g / math.Sqrt(float64(variance[o])+eps)
		for i := o * per; i < (o+1)*per; i++ {
			weight[i] = float32(float64(weight[i]) * s)
		}
		bias[o] = float32((float64(bias[o])-float64(mean[o]))*s + b)
	}
	return nil
}
