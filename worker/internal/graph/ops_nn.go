package graph

import (
	"fmt"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

func nnOps() map[string]*opDef {
	return map[string]*opDef{
		"_convolution": op("input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, benchmark=False, deterministic=False, cudnn_enabled=True, allow_tf32=True",
			func(b *builder, c *opCall) (any, error) {
				if tr, err := c.bool(6); err != nil || tr {
					return nil, fmt.Errorf("%w: transposed convolution", ErrUnsupported)
				}
				return b.conv(c, 8)
			}),
		"conv2d": op("input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1",
			func(b *builder, c *opCall) (any, error) { return b.conv(c, 6) }),
		"linear": op("input, weight, bias=None", func(b *builder, c *opCall) (any, error) {
			x, w, bias, err := b.inputWeightBias(c)
			if err != nil {
				return nil, err
			}
			return b.linear(c.pos, x, w, bias)
		}),
		"addmm": op("self, mat1, mat2, beta=1, alpha=1", addmm),
		"matmul": op("self, other", func(b *builder, c *opCall) (any, error) {
			return b.matmul(c, false)
		}),
		"bmm": op("self, mat2", func(b *builder, c *opCall) (any, error) {
			return b.matmul(c, true)
		}),
		"batch_norm": op("input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled", batchNorm),
		"layer_norm": op("input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True", layerNorm),
		"embedding":  op("weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False", embedding),
		"max_pool2d": op("self, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False",
			func(b *builder, c *opCall) (any, error) { return b.pool(c, true) }),
		"avg_pool2d": op("self, kernel_size, stride=[], padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None",
			func(b *builder, c *opCall) (any, error) { return b.pool(c, false) }),
		"adaptive_avg_pool2d":            op("self, output_size", adaptiveAvgPool),
		"scaled_dot_product_attention":   op("query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False", sdpa),
		"_transformer_encoder_layer_fwd": op("src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask=None, mask_type=None", transformerEncoderLayer),
	}
}

// inputWeightBias reads the leading (input, weight, bias=None) arguments that linear and the
// convolutions share.
func (b *builder) inputWeightBias(c *opCall) (x, w, bias *Value, err error) {
	if x, err = b.floatTensor(c, 0); err != nil {
		return nil, nil, nil, err
	}
	if w, err = c.tensor(1); err != nil {
		return nil, nil, nil, err
	}
	if bias, err = c.optTensor(2); err != nil {
		return nil, nil, nil, err
	}
	return x, w, bias, nil
}

// conv builds a 2-D convolution; groups is the index of the groups argument.
func (b *builder) conv(c *opCall, groupsArg int) (any, error) {
	x, w, bias, err := b.inputWeightBias(c)
	if err != nil {
		return nil, err
	}
	if w.Const == nil || w.DType != ts.Float32 || len(w.Shape) != 4 {
		return nil, fmt.Errorf("%w: convolution needs a constant 4-D float weight, got %v", ErrUnsupported, w.Shape)
	}
	stride, err := c.ints(3, 2)
	if err != nil {
		return nil, err
	}
	dil, err := c.ints(5, 2)
	if err != nil {
		return nil, err
	}
	groups, err := c.int(groupsArg)
	if err != nil {
		return nil, err
	}
	var pad []int
	if s, ok := c.a[4].(string); ok {
		switch s {
		case "valid":
			pad = []int{0, 0}
		case "same":
			pad = []int{dil[0] * (w.Shape[2] - 1) / 2, dil[1] * (w.Shape[3] - 1) / 2}
			if dil[0]*(w.Shape[2]-1)%2 != 0 || dil[1]*(w.Shape[3]-1)%2 != 0 {
				return nil, fmt.Errorf("%w: asymmetric 'same' padding", ErrUnsupported)
			}
		default:
			return nil, c.errArg(4, "padding")
		}
	} else if pad, err = c.ints(4, 2); err != nil {
		return nil, err
	}
	if len(stride) != 2 || len(pad) != 2 || len(dil) != 2 {
		return nil, fmt.Errorf("%w: only 2-D convolutions are supported", ErrUnsupported)
	}
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("%w: conv2d input %v, want [N, C, H, W]", ErrInput, x.Shape)
	}
	if groups <= 0 || w.Shape[0]%groups != 0 || x.Shape[1] != w.Shape[1]*groups {
		return nil, fmt.Errorf("%w: conv2d input %v for weight %v and %d groups", ErrInput, x.Shape, w.Shape, groups)
	}
	if bias != nil && (bias.DType != ts.Float32 || !slices.Equal(bias.Shape, w.Shape[:1])) {
		return nil, fmt.Errorf("%w: conv2d bias %v for weight %v", ErrModel, bias.Shape, w.Shape)
	}
	for _, v := range append(append(slices.Clone(stride), dil...), pad...) {
		if v < 0 {
			return nil, fmt.Errorf("%w: conv2d parameters %v %v %v", ErrModel, stride, pad, dil)
		}
	}
	if stride[0] == 0 || stride[1] == 0 || dil[0] == 0 || dil[1] == 0 {
		return nil, fmt.Errorf("%w: conv2d stride or dilation 0", ErrModel)
	}
	oh := (x.Shape[2]+2*pad[0]-dil[0]*(w.Shape[2]-1)-1)/stride[0] + 1
	ow := (x.Shape[3]+2*pad[1]-dil[1]*(w.Shape[3]-1)-1)/stride[1] + 1
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("%w: conv2d input %v too small for weight %v", ErrInput, x.Shape, w.Shape)
	}
	attr := Conv2d{StrideH: stride[0], StrideW: stride[1], PadH: pad[0], PadW: pad[1], DilationH: dil[0], DilationW: dil[1], Groups: groups}
	return b.g.add(OpConv2d, c.pos, attr, []*Value{x, w, bias}, ts.Float32, []int{x.Shape[0], w.Shape[0], oh, ow}).Out[0], nil
}

// linear builds x·wᵀ + bias for a constant weight [out, in].
func (b *builder) linear(pos ts.Pos, x, w, bias *Value) (*Value, error) {
	if w.Const == nil || w.DType != ts.Float32 || len(w.Shape) != 2 {
		return nil, fmt.Errorf("%w: linear needs a constant 2-D float weight, got %v", ErrUnsupported, w.Shape)
	}
	if len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != w.Shape[1] {
		return nil, fmt.Errorf("%w: linear input %v for weight %v", ErrInput, x.Shape, w.Shape)
	}
	if bias != nil && (bias.DType != ts.Float32 || !slices.Equal(bias.Shape, w.Shape[:1])) {
		return nil, fmt.Errorf("%w: linear bias %v for weight %v", ErrModel, bias.Shape, w.Shape)
	}
	shape := append(slices.Clone(x.Shape[:len(x.Shape)-1]), w.Shape[0])
	return b.g.add(OpLinear, pos, Linear{}, []*Value{x, w, bias}, ts.Float32, shape).Out[0], nil
}

// addmm is beta·self + alpha·(mat1 @ mat2); the traced form addmm(b, x, t(W)) with a
// constant W becomes a linear layer.
func addmm(b *builder, c *opCall) (any, error) {
	bias, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	x, err := b.floatTensor(c, 1)
	if err != nil {
		return nil, err
	}
	m2, err := b.floatTensor(c, 2)
	if err != nil {
		return nil, err
	}
	beta, err1 := c.float(3)
	alpha, err2 := c.float(4)
	if err1 != nil || err2 != nil {
		return nil, c.errArg(3, "number")
	}
	if p := m2.Producer; p != nil && p.Op == OpPermute && p.In[0].Const != nil && len(m2.Shape) == 2 &&
		beta == 1 && alpha == 1 && slices.Equal(bias.Shape, m2.Shape[1:]) {
		return b.linear(c.pos, x, p.In[0], bias)
	}
	mm, err := b.matmulValues(c, x, m2, true)
	if err != nil {
		return nil, err
	}
	if alpha != 1 {
		if mm, err = b.arithValue(c, BinMul, mm, alpha); err != nil {
			return nil, err
		}
	}
	scaled := any(bias)
	if beta != 1 {
		if scaled, err = b.arith(c, BinMul, bias, beta, 1, false); err != nil {
			return nil, err
		}
	}
	return b.arith(c, BinAdd, mm, scaled, 1, false)
}

// arithValue is arith for a tensor and a number, returning the tensor value.
func (b *builder) arithValue(c *opCall, kind BinaryKind, x *Value, y float64) (*Value, error) {
	r, err := b.arith(c, kind, x, y, 1, false)
	if err != nil {
		return nil, err
	}
	return r.(*Value), nil
}

func (b *builder) matmul(c *opCall, bmm bool) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	y, err := b.floatTensor(c, 1)
	if err != nil {
		return nil, err
	}
	if bmm && (len(x.Shape) != 3 || len(y.Shape) != 3 || x.Shape[0] != y.Shape[0]) {
		return nil, fmt.Errorf("%w: bmm of %v and %v", ErrModel, x.Shape, y.Shape)
	}
	return b.matmulValues(c, x, y, false)
}

// matmulValues adds torch.matmul(x, y) with its shape rules.
func (b *builder) matmulValues(c *opCall, x, y *Value, matrices bool) (*Value, error) {
	xs, ys := x.Shape, y.Shape
	bad := fmt.Errorf("%w: %s of %v and %v", ErrModel, c.name, xs, ys)
	if len(xs) == 0 || len(ys) == 0 || (matrices && (len(xs) != 2 || len(ys) != 2)) {
		return nil, bad
	}
	if len(xs) == 1 {
		xs = []int{1, xs[0]}
	}
	if len(ys) == 1 {
		ys = []int{ys[0], 1}
	}
	if xs[len(xs)-1] != ys[len(ys)-2] {
		return nil, bad
	}
	batch, err := tensor.BroadcastShapes(xs[:len(xs)-2], ys[:len(ys)-2])
	if err != nil {
		return nil, bad
	}
	shape := slices.Clone(batch)
	if len(x.Shape) > 1 {
		shape = append(shape, xs[len(xs)-2])
	}
	if len(y.Shape) > 1 {
		shape = append(shape, ys[len(ys)-1])
	}
	return b.g.add(OpMatmul, c.pos, nil, []*Value{x, y}, ts.Float32, shape).Out[0], nil
}

func batchNorm(b *builder, c *opCall) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	if tr, err := c.bool(5); err != nil || tr {
		return nil, fmt.Errorf("%w: batch_norm in training mode", ErrUnsupported)
	}
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("%w: batch_norm input %v", ErrInput, x.Shape)
	}
	in := []*Value{x}
	for _, i := range []int{3, 4, 1, 2} { // mean, var, weight, bias
		v, err := c.optTensor(i)
		if err != nil {
			return nil, err
		}
		if (v == nil && i >= 3) || (v != nil && (v.DType != ts.Float32 || !slices.Equal(v.Shape, x.Shape[1:2]))) {
			return nil, fmt.Errorf("%w: batch_norm statistics for input %v", ErrModel, x.Shape)
		}
		in = append(in, v)
	}
	eps, err := c.float(7)
	if err != nil {
		return nil, err
	}
	return b.g.add(OpBatchNorm, c.pos, Eps(eps), in, ts.Float32, x.Shape).Out[0], nil
}

func layerNorm(b *builder, c *opCall) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	shape, err := c.ints(1, 0)
	if err != nil {
		return nil, err
	}
	if len(shape) == 0 || len(shape) > len(x.Shape) || !slices.Equal(x.Shape[len(x.Shape)-len(shape):], shape) {
		return nil, fmt.Errorf("%w: layer_norm over %v of input %v", ErrInput, shape, x.Shape)
	}
	w, err := c.optTensor(2)
	if err != nil {
		return nil, err
	}
	bias, err := c.optTensor(3)
	if err != nil {
		return nil, err
	}
	for _, v := range []*Value{w, bias} {
		if v != nil && (v.DType != ts.Float32 || !slices.Equal(v.Shape, shape)) {
			return nil, fmt.Errorf("%w: layer_norm weight %v for %v", ErrModel, v.Shape, shape)
		}
	}
	eps, err := c.float(4)
	if err != nil {
		return nil, err
	}
	return b.layerNormValue(c.pos, x, w, bias, shape, eps), nil
}

func (b *builder) layerNormValue(pos ts.Pos, x, w, bias *Value, shape []int, eps float64) *Value {
	return b.g.add(OpLayerNorm, pos, LayerNorm{Shape: shape, Eps: eps}, []*Value{x, w, bias}, ts.Float32, x.Shape).Out[0]
}

func embedding(b *builder, c *opCall) (any, error) {
	w, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	ids, err := c.tensor(1)
	if err != nil {
		return nil, err
	}
	if ids.DType != ts.Int64 {
		return nil, fmt.Errorf("%w: embedding indices are %s, want int64", ErrInput, ids.DType)
	}
	if len(w.Shape) != 2 {
		return nil, fmt.Errorf("%w: embedding weight %v", ErrModel, w.Shape)
	}
	shape := append(slices.Clone(ids.Shape), w.Shape[1])
	return b.g.add(OpEmbedding, c.pos, nil, []*Value{w, ids}, ts.Float32, shape).Out[0], nil
}

func (b *builder) pool(c *opCall, isMax bool) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) != 4 && len(x.Shape) != 3 {
		return nil, fmt.Errorf("%w: %s input %v", ErrInput, c.name, x.Shape)
	}
	k, err := c.ints(1, 2)
	if err != nil {
		return nil, err
	}
	s, err := c.ints(2, 2)
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		s = k
	}
	pad, err := c.ints(3, 2)
	if err != nil {
		return nil, err
	}
	p := Pool2d{DilationH: 1, DilationW: 1, CountIncludePad: true}
	if isMax {
		dil, err := c.ints(4, 2)
		if err != nil {
			return nil, err
		}
		if len(dil) != 2 {
			return nil, c.errArg(4, "int[2]")
		}
		p.DilationH, p.DilationW = dil[0], dil[1]
		if p.CeilMode, err = c.bool(5); err != nil {
			return nil, err
		}
	} else {
		if p.CeilMode, err = c.bool(4); err != nil {
			return nil, err
		}
		if p.CountIncludePad, err = c.bool(5); err != nil {
			return nil, err
		}
		if c.a[6] != nil {
			return nil, fmt.Errorf("%w: avg_pool2d divisor_override", ErrUnsupported)
		}
	}
	if len(k) != 2 || len(s) != 2 || len(pad) != 2 {
		return nil, fmt.Errorf("%w: %s parameters", ErrModel, c.name)
	}
	p.KernelH, p.KernelW, p.StrideH, p.StrideW, p.PadH, p.PadW = k[0], k[1], s[0], s[1], pad[0], pad[1]
	if p.KernelH <= 0 || p.KernelW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 || p.DilationH <= 0 || p.DilationW <= 0 ||
		p.PadH < 0 || p.PadW < 0 || 2*p.PadH > (p.KernelH-1)*p.DilationH+1 || 2*p.PadW > (p.KernelW-1)*p.DilationW+1 {
		return nil, fmt.Errorf("%w: %s parameters %+v", ErrModel, c.name, p)
	}
	r := len(x.Shape)
	oh := poolOut(x.Shape[r-2], p.KernelH, p.PadH, p.StrideH, p.DilationH, p.CeilMode)
	ow := poolOut(x.Shape[r-1], p.KernelW, p.PadW, p.StrideW, p.DilationW, p.CeilMode)
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("%w: %s input %v too small", ErrInput, c.name, x.Shape)
	}
	shape := append(slices.Clone(x.Shape[:r-2]), oh, ow)
	o := OpAvgPool2d
	if isMax {
		o = OpMaxPool2d
	}
	return b.g.add(o, c.pos, p, []*Value{x}, ts.Float32, shape).Out[0], nil
}

// poolOut is PyTorch's pooling_output_shape.
func poolOut(in, k, pad, stride, dil int, ceil bool) int {
	num := in + 2*pad - dil*(k-1) - 1
	if ceil {
		num += stride - 1
	}
	out := num/stride + 1
	if num < 0 && num%stride != 0 {
		out--
	}
	if ceil && (out-1)*stride >= in+pad {
		out--
	}
	return out
}

func adaptiveAvgPool(b *builder, c *opCall) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	size, err := c.ints(1, 2)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	if (r != 3 && r != 4) || len(size) != 2 || size[0] <= 0 || size[1] <= 0 {
		return nil, fmt.Errorf("%w: adaptive_avg_pool2d of %v to %v", ErrInput, x.Shape, size)
	}
	shape := append(slices.Clone(x.Shape[:r-2]), size...)
	if slices.Equal(shape, x.Shape) {
		return x, nil
	}
	return b.g.add(OpAdaptiveAvgPool2d, c.pos, nil, []*Value{x}, ts.Float32, shape).Out[0], nil
}

func sdpa(b *builder, c *opCall) (any, error) {
	var qkv [3]*Value
	for i := range qkv {
		v, err := b.floatTensor(c, i)
		if err != nil {
			return nil, err
		}
		qkv[i] = v
	}
	mask, err := c.optTensor(3)
	if err != nil {
		return nil, err
	}
	if p, err := c.float(4); err != nil || p != 0 {
		return nil, fmt.Errorf("%w: attention dropout", ErrUnsupported)
	}
	causal, err := c.bool(5)
	if err != nil {
		return nil, err
	}
	var scale float64
	if c.a[6] != nil {
		if scale, err = c.float(6); err != nil {
			return nil, err
		}
	}
	if gqa, err := c.bool(7); err != nil || gqa {
		return nil, fmt.Errorf("%w: grouped-query attention", ErrUnsupported)
	}
	return b.attention(c.pos, qkv[0], qkv[1], qkv[2], mask, Attention{Causal: causal, Scale: scale})
}

// attention adds softmax(q·kᵀ·scale + mask)·v.
func (b *builder) attention(pos ts.Pos, q, k, v, mask *Value, attr Attention) (*Value, error) {
	r := len(q.Shape)
	if r < 2 || len(k.Shape) != r || len(v.Shape) != r || !slices.Equal(q.Shape[:r-2], k.Shape[:r-2]) ||
		!slices.Equal(q.Shape[:r-2], v.Shape[:r-2]) || q.Shape[r-1] != k.Shape[r-1] || k.Shape[r-2] != v.Shape[r-2] {
		return nil, fmt.Errorf("%w: attention of %v, %v, %v", ErrInput, q.Shape, k.Shape, v.Shape)
	}
	if mask != nil {
		if attr.Causal {
			return nil, fmt.Errorf("%w: attention with both a mask and is_causal", ErrModel)
		}
		if _, err := tensor.BroadcastStrides(mask.Shape, append(slices.Clone(q.Shape[:r-1]), k.Shape[r-2])); err != nil {
			return nil, fmt.Errorf("%w: attention mask %v", ErrInput, mask.Shape)
		}
		if mask.DType == ts.Int64 {
			return nil, fmt.Errorf("%w: integer attention mask", ErrUnsupported)
		}
	}
	shape := append(slices.Clone(q.Shape[:r-1]), v.Shape[r-1])
	return b.g.add(OpAttention, pos, attr, []*Value{q, k, v, mask}, ts.Float32, shape).Out[0], nil
}
