package cpu

import "math"

// Activation selects the function a fused epilogue or the unary kernels apply.
type Activation int

// Activations, with the PyTorch function each one matches.
const (
	// ActNone applies nothing.
	ActNone Activation = iota
	// ActReLU is torch.relu: max(x, 0) (NaN stays NaN).
	ActReLU
	// ActGELU is torch.nn.functional.gelu(approximate="none"): x·Φ(x) = x/2·(1+erf(x/√2)).
	ActGELU
	// ActGELUTanh is gelu(approximate="tanh"): x/2·(1+tanh(√(2/π)·(x+0.044715x³))).
	ActGELUTanh
	// ActTanh is torch.tanh.
	ActTanh
	// ActSigmoid is torch.sigmoid: 1/(1+e^−x).
	ActSigmoid
)

// valid reports whether a is one of the declared activations.
func (a Activation) valid() bool { return a >= ActNone && a <= ActSigmoid }

// apply applies the activation to x in place.
func (a Activation) apply(x []float32) {
	switch a {
	case ActReLU:
		for i, v := range x {
			x[i] = max(v, 0) // NaN stays NaN
		}
	case ActGELU:
		geluSlice(x, false)
	case ActGELUTanh:
		geluSlice(x, true)
	case ActTanh:
		for i, v := range x {
			x[i] = float32(math.Tanh(float64(v)))
		}
	case ActSigmoid:
		for i, v := range x {
			x[i] = sigmoid(v)
		}
	}
}

// gelu is x·Φ(x) with erf from Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7), the same
// approximation PyTorch's vectorised CPU kernel uses; it is evaluated in float64 apart from the
// float32 exponential.
func gelu(v float32) float32 {
	x := float64(v)
	z := math.Abs(x) * (1 / math.Sqrt2)
	t := 1 / (1 + 0.3275911*z)
	poly := ((((1.061405429*t-1.453152027)*t+1.421413741)*t-0.284496736)*t + 0.254829592) * t
	erf := 1 - poly*float64(expf(float32(-z*z)))
	if x < 0 {
		erf = -erf
	}
	return float32(0.5 * x * (1 + erf))
}

func geluTanh(v float32) float32 {
	x := float64(v)
	const k = 0.7978845608028654 // √(2/π)
	return float32(0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x))))
}

// geluSliceGeneric applies gelu or, with tanh, geluTanh to x in place.
func geluSliceGeneric(x []float32, tanh bool) {
	if tanh {
		for i, v := range x {
			x[i] = geluTanh(v)
		}
		return
	}
	for i, v := range x {
		x[i] = gelu(v)
	}
}

func sigmoid(v float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(v))))
}
