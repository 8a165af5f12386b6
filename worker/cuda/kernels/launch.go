package kernels

// Name is a kernel's entry point in the PTX module.
type Name string

// Kernel entry points (extern "C" in kernels.cu).
const (
	Binary          Name = "binary_f32"
	Compare         Name = "compare_f32"
	MaskedFill      Name = "masked_fill_f32"
	Activation      Name = "activation_f32"
	Epilogue        Name = "epilogue_f32"
	BatchNorm       Name = "batch_norm_f32"
	StridedCopy     Name = "strided_copy_f32"
	Reduce          Name = "reduce_f32"
	Softmax         Name = "softmax_f32"
	AttnSoftmax     Name = "attn_softmax_f32"
	LayerNorm       Name = "layer_norm_f32"
	Embedding       Name = "embedding_f32"
	CastInt64       Name = "cast_i64_f32"
	CastBool        Name = "cast_bool_f32"
	MaxPool2d       Name = "max_pool2d_f32"
	AvgPool2d       Name = "avg_pool2d_f32"
	AdaptiveAvgPool Name = "adaptive_avg_pool2d_f32"
	Im2col          Name = "im2col_f32"
)

// Names lists every kernel, for loading them all from the module at once.
var Names = []Name{
	Binary, Compare, MaskedFill, Activation, Epilogue, BatchNorm, StridedCopy, Reduce,
	Softmax, AttnSoftmax, LayerNorm, Embedding, CastInt64, CastBool, MaxPool2d, AvgPool2d,
	AdaptiveAvgPool, Im2col,
}

// Activation codes of activation_f32 and epilogue_f32 (kernels.cu's activate).
const (
	ActNone int64 = iota
	ActReLU
	ActGELU
	ActGELUTanh
	ActTanh
	ActSigmoid
)

// Binary kinds of binary_f32.
const (
	BinAdd int64 = iota
	BinSub
	BinRsub
	BinMul
	BinDiv
	BinDivTrunc
	BinDivFloor
)

// Comparisons of compare_f32.
const (
	CmpGT int64 = iota
	CmpLT
	CmpEQ
)

// Attention mask kinds of attn_softmax_f32.
const (
	MaskNone int64 = iota
	MaskAdditive
	MaskBool
)

// Launch sizes.
const (
	// ElementwiseBlock is the block size of the grid-stride element-wise kernels.
	ElementwiseBlock = 256
	// MaxGrid caps grids of grid-stride kernels: enough blocks to fill any current GPU
	// several times over, few enough that launches stay cheap.
	MaxGrid = 1 << 16
	// MaxBlock is the largest block of the row kernels.
	MaxBlock = 1024
	// minRowBlock is one warp.
	minRowBlock = 32
)

// Launch is a kernel's grid, block and dynamic shared memory (one-dimensional).
type Launch struct {
	Grid, Block, Shared int
}

// Elementwise sizes a grid-stride launch over n elements (n ≥ 1; n ≤ 0 gives one block).
func Elementwise(n int64) Launch {
	g := (n + ElementwiseBlock - 1) / ElementwiseBlock
	return Launch{Grid: int(min(max(g, 1), MaxGrid)), Block: ElementwiseBlock}
}

// Rows sizes a row kernel (softmax, attention softmax, layer norm): one block per row, as
// many threads as the row has elements rounded up to a power of two within [32, 1024], and
// one float of shared memory per thread for the block reductions.
func Rows(rows, cols int64) Launch {
	b := int64(minRowBlock)
	for b < cols && b < MaxBlock {
		b *= 2
	}
	return Launch{Grid: int(min(max(rows, 1), MaxGrid)), Block: int(b), Shared: int(b) * 4}
}
