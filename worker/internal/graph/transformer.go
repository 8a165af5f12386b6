package graph

import (
	"fmt"
	"math"
	"slices"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// transformerEncoderLayer decomposes aten::_transformer_encoder_layer_fwd, what tracing
// nn.TransformerEncoderLayer under no_grad records, into graph ops. PyTorch's semantics
// (aten/src/ATen/native/transformers/transformer.cpp) for src [B, L, E]:
//
//	x = norm_first ? layer_norm(src, w1, b1) : src
//	x = mha(x) + src            (qkv = x·qkv_weightᵀ + qkv_bias, split as [q; k; v] of E
//	                             rows each, H heads of E/H, softmax(q·kᵀ/√(E/H))·v, proj)
//	x = norm_first ? x : layer_norm(x, w1, b1)
//	y = norm_first ? layer_norm(x, w2, b2) : x
//	x = linear2(act(linear1(y))) + x     (act gelu(approximate="none") or relu)
//	x = norm_first ? x : layer_norm(x, w2, b2)
func transformerEncoderLayer(b *builder, c *opCall) (any, error) {
	src, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	e, err1 := c.int(1)
	h, err2 := c.int(2)
	if err1 != nil || err2 != nil || e <= 0 || h <= 0 || e%h != 0 {
		return nil, fmt.Errorf("%w: %s embed_dim and num_heads", ErrModel, c.name)
	}
	if len(src.Shape) != 3 || src.Shape[2] != e {
		return nil, fmt.Errorf("%w: %s input %v, want [batch, seq, %d]", ErrInput, c.name, src.Shape, e)
	}
	t := make([]*Value, 18)
	for _, i := range []int{3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16, 17} {
		if t[i], err = c.tensor(i); err != nil {
			return nil, err
		}
	}
	useGelu, err1 := c.bool(7)
	normFirst, err2 := c.bool(8)
	eps, err3 := c.float(9)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, c.errArg(7, "bool, bool, float")
	}
	if c.a[18] != nil {
		return nil, fmt.Errorf("%w: %s with a mask", ErrUnsupported, c.name)
	}
	norm := func(x *Value, w, bias int) *Value {
		return b.layerNormValue(c.pos, x, t[w], t[bias], []int{e}, eps)
	}
	add := func(x, y *Value) (*Value, error) {
		r, err := b.arith(c, BinAdd, x, y, 1, false)
		if err != nil {
			return nil, err
		}
		return r.(*Value), nil
	}
	x := src
	if normFirst {
		x = norm(src, 10, 11)
	}
	attn, err := b.multiHeadAttention(c.pos, x, t[3], t[4], t[5], t[6], h)
	if err != nil {
		return nil, err
	}
	if x, err = add(attn, src); err != nil {
		return nil, err
	}
	if !normFirst {
		x = norm(x, 10, 11)
	}
	y := x
	if normFirst {
		y = norm(x, 12, 13)
	}
	ff, err := b.linear(c.pos, y, t[14], t[15])
	if err != nil {
		return nil, err
	}
	act := ActReLU
	if useGelu {
		act = ActGELU
	}
	ff = b.g.add(OpActivation, c.pos, act, []*Value{ff}, ts.Float32, ff.Shape).Out[0]
	if ff, err = b.linear(c.pos, ff, t[16], t[17]); err != nil {
		return nil, err
	}
	if x, err = add(ff, x); err != nil {
		return nil, err
	}
	if !normFirst {
		x = norm(x, 12, 13)
	}
	return x, nil
}

// multiHeadAttention is self-attention over x [B, L, E] with a packed in-projection.
func (b *builder) multiHeadAttention(pos ts.Pos, x, qkvW, qkvB, projW, projB *Value, heads int) (*Value, error) {
	bsz, l, e := x.Shape[0], x.Shape[1], x.Shape[2]
	d := e / heads
	if !slices.Equal(qkvW.Shape, []int{3 * e, e}) {
		return nil, fmt.Errorf("%w: in-projection weight %v for embed_dim %d", ErrModel, qkvW.Shape, e)
	}
	qkv, err := b.linear(pos, x, qkvW, qkvB) // [B, L, 3E]
	if err != nil {
		return nil, err
	}
	if qkv, err = b.reshape(pos, qkv, []int{bsz, l, 3, heads, d}); err != nil {
		return nil, err
	}
	if qkv, err = b.permute(pos, qkv, []int{2, 0, 3, 1, 4}); err != nil { // [3, B, H, L, D]
		return nil, err
	}
	var parts [3]*Value
	for i := range parts {
		parts[i] = b.g.add(OpSelect, pos, Select{Dim: 0, Index: i}, []*Value{qkv}, ts.Float32, []int{bsz, heads, l, d}).Out[0]
	}
	o, err := b.attention(pos, parts[0], parts[1], parts[2], nil, Attention{Scale: 1 / math.Sqrt(float64(d))})
	if err != nil {
		return nil, err
	}
	if o, err = b.permute(pos, o, []int{0, 2, 1, 3}); err != nil { // [B, L, H, D]
		return nil, err
	}
	if o, err = b.reshape(pos, o, []int{bsz, l, e}); err != nil {
		return nil, err
	}
	return b.linear(pos, o, projW, projB)
}
