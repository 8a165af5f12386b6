package graph

// Op is a graph operation. The comment of each names its inputs and its Attr type.
type Op int

// Ops. Unless noted, inputs and outputs are Float32 and the output has a fresh buffer.
const (
	// OpConv2d: In x, weight, bias (may be nil), residual (optional 4th); Attr Conv2d.
	OpConv2d Op = iota
	// OpLinear: In x, weight [out, in], bias (may be nil), residual (optional 4th); Attr
	// Linear.
	OpLinear
	// OpMatmul: In a, b (torch.matmul semantics, also bmm).
	OpMatmul
	// OpBatchNorm: In x, mean, var, weight (may be nil), bias (may be nil); Attr Eps.
	OpBatchNorm
	// OpLayerNorm: In x, weight (may be nil), bias (may be nil); Attr LayerNorm.
	OpLayerNorm
	// OpActivation: In x; Attr Activation.
	OpActivation
	// OpSoftmax: In x; Attr Softmax.
	OpSoftmax
	// OpEmbedding: In weight, ids (Int64).
	OpEmbedding
	// OpBinary: In a, b (broadcasting); Attr Binary.
	OpBinary
	// OpCompare: In a, b; Attr Compare; Out Bool.
	OpCompare
	// OpMaskedFill: In x, mask (Bool); Attr float32 fill value.
	OpMaskedFill
	// OpMaxPool2d and OpAvgPool2d: In x; Attr Pool2d.
	OpMaxPool2d
	OpAvgPool2d
	// OpAdaptiveAvgPool2d: In x; the output shape gives the size.
	OpAdaptiveAvgPool2d
	// OpReshape: In x; Out shares x's buffer with another shape (view, reshape, flatten,
	// squeeze, unsqueeze, contiguous, dropout in eval mode, ...). Any dtype.
	OpReshape
	// OpPermute: In x; Attr []int permutation.
	OpPermute
	// OpSlice: In x; Attr Slice.
	OpSlice
	// OpSelect: In x; Attr Select.
	OpSelect
	// OpCat: In tensors; Attr int dim.
	OpCat
	// OpReduce: In x; Attr Reduce.
	OpReduce
	// OpAttention: In q, k, v, mask (optional; Float32 additive or Bool); Attr Attention.
	OpAttention
	// OpCast: In x of any dtype; Out Float32.
	OpCast
	numOps
)

var opNames = [numOps]string{
	"conv2d", "linear", "matmul", "batch_norm", "layer_norm", "activation", "softmax",
	"embedding", "binary", "compare", "masked_fill", "max_pool2d", "avg_pool2d",
	"adaptive_avg_pool2d", "reshape", "permute", "slice", "select", "cat", "reduce",
	"attention", "cast",
}

// String returns the op's name.
func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return "op?"
}

// Activation is an element-wise activation function.
type Activation int

// Activations.
const (
	ActNone Activation = iota
	ActReLU
	ActGELU     // gelu(approximate="none")
	ActGELUTanh // gelu(approximate="tanh")
	ActTanh
	ActSigmoid
)

// Epilogue is the work fused into a convolution or linear layer's output: bias (the bias
// input), then the residual input, then Act.
type Epilogue struct {
	Act Activation
}

// Conv2d holds the parameters of OpConv2d.
type Conv2d struct {
	StrideH, StrideW, PadH, PadW, DilationH, DilationW, Groups int
	// Scale, when set, multiplies each output channel's weights: the convolution computes
	// with weight[o, ...]·Scale[o] (computed in float64, rounded to float32). FoldBatchNorm
	// sets it instead of copying the weight; backends apply it when they pack the weight.
	Scale []float64
	Epilogue
}

// Linear holds the parameters of OpLinear.
type Linear struct {
	Epilogue
}

// Eps is the epsilon of OpBatchNorm.
type Eps float64

// LayerNorm holds the parameters of OpLayerNorm.
type LayerNorm struct {
	Shape []int
	Eps   float64
}

// Softmax holds the parameters of OpSoftmax.
type Softmax struct {
	Dim int
	Log bool
}

// BinaryKind selects the arithmetic of OpBinary.
type BinaryKind int

// Binary kinds.
const (
	BinAdd  BinaryKind = iota // a + Alpha·b
	BinSub                    // a − Alpha·b
	BinRsub                   // b − Alpha·a
	BinMul
	BinDiv      // true division
	BinDivTrunc // rounding_mode="trunc"
	BinDivFloor // rounding_mode="floor"
)

// Binary holds the parameters of OpBinary.
type Binary struct {
	Kind  BinaryKind
	Alpha float32
}

// CompareKind selects OpCompare's comparison.
type CompareKind int

// Comparisons.
const (
	CmpGT CompareKind = iota
	CmpLT
	CmpEQ
)

// Pool2d holds the parameters of OpMaxPool2d and OpAvgPool2d.
type Pool2d struct {
	KernelH, KernelW, StrideH, StrideW, PadH, PadW, DilationH, DilationW int
	CeilMode, CountIncludePad                                            bool
}

// Slice holds the parameters of OpSlice (start normalised, N elements taken).
type Slice struct {
	Dim, Start, End, Step int
}

// Select holds the parameters of OpSelect (index normalised).
type Select struct {
	Dim, Index int
}

// ReduceKind selects OpReduce's reduction.
type ReduceKind int

// Reductions.
const (
	ReduceSum ReduceKind = iota
	ReduceMean
)

// Reduce holds the parameters of OpReduce: Dims sorted and normalised (all dims when the
// model reduces everything).
type Reduce struct {
	Kind    ReduceKind
	Dims    []int
	KeepDim bool
}

// Attention holds the parameters of OpAttention.
type Attention struct {
	Causal bool
	Scale  float64 // 0 means 1/√E
}
