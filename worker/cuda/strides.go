package cuda

// contiguous returns the row-major element strides of shape.
func contiguous(shape []int) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for d := len(shape) - 1; d >= 0; d-- {
		s[d] = acc
		acc *= int64(shape[d])
	}
	return s
}

// broadcastStrides returns, for every dimension of out, the element stride of an operand
// of shape in broadcast to out (numpy rules: in aligned to the right, size-1 and missing
// dimensions get stride 0). ok is false when in does not broadcast to out.
func broadcastStrides(in, out []int) (strides []int64, ok bool) {
	if len(in) > len(out) {
		return nil, false
	}
	s := make([]int64, len(out))
	src := contiguous(in)
	lead := len(out) - len(in)
	for d := range in {
		switch in[d] {
		case out[lead+d]:
			if in[d] != 1 {
				s[lead+d] = src[d]
			}
		case 1:
		default:
			return nil, false
		}
	}
	return s, true
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func toInt64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}
