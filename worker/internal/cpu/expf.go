package cpu

import "math"

// expf is a float32 e^x (Cephes expf: range reduction by ln 2 and a degree-6 polynomial,
// within 2 ulp of the exact value), several times faster than float64 math.Exp. Results that
// would be subnormal flush to 0.
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	z := r * r
	y := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+
		1.6666665459e-1)*r+5.0000001201e-1)*z + r + 1)
	e := int32(n)
	if e < -126 {
		return y * math.Float32frombits(uint32(e+127+64)<<23) * 0x1p-64
	}
	if e > 127 {
		return y * math.Float32frombits(uint32(e+127-1)<<23) * 2
	}
	return y * math.Float32frombits(uint32(e+127)<<23)
}

// expSubSumGeneric replaces x[i] by e^(x[i]−m) (with expf) and returns the sum of the results.
func expSubSumGeneric(x []float32, m float32) float32 {
	var sum float32
	for i, v := range x {
		e := expf(v - m)
		x[i] = e
		sum += e
	}
	return sum
}
