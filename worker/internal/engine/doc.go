// Package engine loads TorchScript archives and runs them: [Load] reads the archive
// (package torchscript), checks every op it uses (package graph) and returns a [Model];
// [Model.Run] builds, optimises and caches a graph per input shape and executes it on a
// [Backend] — the CPU backend of this package (kernels from package cpu) or, later, CUDA.
//
// # Shapes
//
// Traced models bake sizes into their code, so a graph is built for the exact input shapes
// of a call (batch size included) and cached; a model keeps the graphs of its last
// maxPrograms input shapes. The first call with a new shape pays the build (milliseconds).
//
// # Concurrency and memory
//
// A Model may be used from several goroutines: Run calls on one Model are serialised by a
// mutex (the kernels already use every thread the Model was given). Each cached graph owns
// one memory slab planned at build time, so a warmed-up Run allocates only the output
// tensors it returns.
//
// Weights are packed when the first graph that uses them is prepared, once per Model: the
// graphs of other input shapes share them. BatchNorm is folded into the packing (no folded
// copy of a weight is made), and the archive's memory-mapped pages of a weight are evicted
// once it is packed, so a model holds about one copy of its weights. Load itself reads only
// the archive's structure (under 0.2x the parameter bytes for ResNet-50); after the first
// Run at batch 1, peak RSS is about 1.28x them (worker/bench/run.sh measures it).
//
// # Errors
//
// Inference never panics: wrong input counts, dtypes and shapes return errors wrapping
// [ErrInput]; a panic inside a kernel is recovered at the Run boundary as a last resort and
// returned as [ErrInternal].
package engine
