package cpu

import (
	"fmt"
	"math"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// AttentionOptions are the optional arguments of scaled_dot_product_attention. The zero
// value means no mask, not causal and the default scale.
type AttentionOptions struct {
	// Mask is an additive float mask broadcastable to [..., L, S] (attn_mask of a float dtype).
	Mask *tensor.Tensor
	// BoolMask is a boolean mask broadcastable to [..., L, S]; true means the query may attend
	// to the key (attn_mask of dtype bool). At most one of Mask and BoolMask may be set.
	BoolMask *tensor.Bool
	// Causal masks keys after the query's position (is_causal=True: query i attends to keys
	// 0..i); it excludes the masks, as in PyTorch.
	Causal bool
	// Scale multiplies q·kᵀ; 0 means 1/√E.
	Scale float64
}

// attentionRows is the number of query rows one attention task handles.
const attentionRows = 64

// ScaledDotProductAttention computes torch.nn.functional.scaled_dot_product_attention(q, k,
// v, attn_mask, dropout_p=0, is_causal, scale) for q [..., L, E], k [..., S, E] and
// v [..., S, Ev] with equal leading (batch) dimensions, into dst [..., L, Ev]:
// softmax(q·kᵀ·scale + mask)·v. It runs fused per block of query rows: the scores stay in a
// per-thread buffer and never reach memory as a tensor. A query row whose keys are all masked
// gives NaN, as PyTorch's math kernel does.
func (e *Engine) ScaledDotProductAttention(dst, q, k, v *tensor.Tensor, opts AttentionOptions) error {
	if err := validate(dst, q, k, v); err != nil {
		return err
	}
	r := q.Rank()
	if r < 2 || k.Rank() != r || v.Rank() != r || !tensor.EqualShapes(q.Shape[:r-2], k.Shape[:r-2]) ||
		!tensor.EqualShapes(q.Shape[:r-2], v.Shape[:r-2]) || q.Shape[r-1] != k.Shape[r-1] || k.Shape[r-2] != v.Shape[r-2] {
		return fmt.Errorf("%w: attention q %v, k %v, v %v", ErrShape, q.Shape, k.Shape, v.Shape)
	}
	batch := q.Shape[:r-2]
	l, ed, s, ev := q.Shape[r-2], q.Shape[r-1], k.Shape[r-2], v.Shape[r-1]
	var buf [maxDims + 2]int
	if err := checkDst(dst, append(append(buf[:0], batch...), l, ev)); err != nil {
		return err
	}
	if opts.Mask != nil && opts.BoolMask != nil || opts.Causal && (opts.Mask != nil || opts.BoolMask != nil) {
		return fmt.Errorf("%w: attention takes one of a float mask, a bool mask or is_causal", ErrArgument)
	}
	full := append(append(buf[:0], batch...), l, s)
	var mshape []int
	switch {
	case opts.Mask != nil:
		if err := opts.Mask.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrShape, err)
		}
		mshape = opts.Mask.Shape
	case opts.BoolMask != nil:
		if err := opts.BoolMask.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrShape, err)
		}
		mshape = opts.BoolMask.Shape
	}
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	j := &e.attn
	*j = attentionJob{}
	if mshape != nil {
		var err error
		if j.mstrides, err = tensor.AppendBroadcastStrides(j.buf[:0:maxDims+2], mshape, full); err != nil {
			return fmt.Errorf("%w: attention mask: %w", ErrShape, err)
		}
	}
	scale := float32(opts.Scale)
	if opts.Scale == 0 {
		scale = float32(1 / math.Sqrt(float64(ed)))
	}
	j.q, j.k, j.v, j.out = q.Data, k.Data, v.Data, dst.Data
	j.l, j.e, j.s, j.ev = l, ed, s, ev
	j.scale, j.opts, j.batch = scale, opts, batch
	j.chunks, j.scratch = ceilDiv(l, attentionRows), e.scratch
	e.pool.run(tensor.Numel(batch)*j.chunks, j)
	*j = attentionJob{}
	return nil
}

// attentionJob computes one block of query rows of one batch entry per task.
type attentionJob struct {
	q, k, v, out []float32
	l, e, s, ev  int
	scale        float32
	opts         AttentionOptions
	batch        []int
	mstrides     []int
	chunks       int
	scratch      []workerScratch
	buf          [maxDims + 2]int // storage for mstrides
}

func (j *attentionJob) do(w, t int) {
	b, r0 := t/j.chunks, t%j.chunks*attentionRows
	rows := min(attentionRows, j.l-r0)
	ws := &j.scratch[w]
	ws.rows = grow(ws.rows, rows*j.s)
	scores := ws.rows
	ws.da = denseA{data: j.q[(b*j.l+r0)*j.e:], ld: max(j.e, 1), m: rows, alpha: j.scale}
	ws.db = denseB{data: j.k[b*j.s*j.e:], ld: max(j.e, 1), n: j.s, trans: true}
	gemmSerial(j.scratch, w, rows, j.s, j.e, &ws.da, nil, &ws.db, 0, scores, max(j.s, 1), nil)
	moff := 0
	if j.mstrides != nil {
		rem := b
		for d := len(j.batch) - 1; d >= 0; d-- {
			moff += rem % j.batch[d] * j.mstrides[d]
			rem /= j.batch[d]
		}
	}
	for i := range rows {
		row := scores[i*j.s : (i+1)*j.s]
		q := r0 + i
		switch {
		case j.opts.Causal:
			for c := q + 1; c < j.s; c++ {
				row[c] = float32(math.Inf(-1))
			}
		case j.mstrides != nil:
			ms := j.mstrides[len(j.mstrides)-2:]
			base := moff + q*ms[0]
			for c := range row {
				if j.opts.Mask != nil {
					row[c] += j.opts.Mask.Data[base+c*ms[1]]
				} else if !j.opts.BoolMask.Data[base+c*ms[1]] {
					row[c] = float32(math.Inf(-1))
				}
			}
		}
		softmaxRow(row)
	}
	ws.da = denseA{data: scores, ld: max(j.s, 1), m: rows, alpha: 1}
	ws.db = denseB{data: j.v[b*j.s*j.ev:], ld: max(j.ev, 1), n: j.ev}
	gemmSerial(j.scratch, w, rows, j.ev, j.s, &ws.da, nil, &ws.db, 0, j.out[(b*j.l+r0)*j.ev:], max(j.ev, 1), nil)
	ws.da, ws.db = denseA{}, denseB{}
}

// softmaxRow normalises a contiguous row in place with the float32 exponential.
func softmaxRow(row []float32) {
	m := float32(math.Inf(-1))
	for _, v := range row {
		if v > m || v != v {
			m = v
		}
	}
	inv := 1 / expSubSum(row, m)
	for i := range row {
		row[i] *= inv
	}
}
