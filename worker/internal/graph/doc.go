// Package graph turns a TorchScript archive into a straight-line graph of tensor operations
// that a backend (the CPU engine today, CUDA later) can execute.
//
// # Building
//
// [Scan] walks the code reachable from the root module's forward once per archive, without
// running it: it counts op call sites and collects every unsupported op or construct with
// its code position, so that loading fails with one error listing all of them
// ([*UnsupportedError]).
//
// [Build] then interprets forward for concrete input shapes: submodule methods (forward,
// forward1, ...) and scripted helper functions are inlined, torch.* and ops.aten.* calls are
// bound to op schemas (positional and keyword arguments, defaults, ScalarType integers),
// module parameters, buffers and CONSTANTS.cN become constant values, ops.prim.* calls,
// int()/float(), if/else and loops are evaluated at build time. Everything that is not a
// runtime tensor (sizes, lists, Python numbers, 0-dim constant tensors) is a build-time
// value, so the result is a list of [Node]s over [Value]s with fully known shapes.
//
// # Dynamic batch: one graph per input shape
//
// Traces bake sizes in (x.size(0) → NumToTensor → int → view), so a graph is specialised to
// the input shapes it was built for; the engine keeps a small cache of graphs keyed by input
// shapes. This is simpler and as fast as symbolic shapes, at the cost of one build (a few
// milliseconds) per new batch size.
//
// # Passes
//
// [FoldBatchNorm] folds an inference-mode batch_norm into the preceding convolution (its
// bias and a per-channel weight scale, [Conv2d].Scale, which backends apply as they pack the
// weight: the weight constant stays the archive's, see [Value].Source),
// [Fuse] moves bias, residual add and activation into the producing convolution or linear
// layer (the kernels' epilogue), [FoldConstants] evaluates nodes whose inputs are all
// constant once through a backend-supplied evaluator, and [PlanMemory] assigns every
// intermediate tensor an offset in one slab so that buffers are reused and a warmed-up
// model allocates nothing.
//
// A Graph is immutable once built and planned; backends may share it between goroutines.
package graph
