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
// # Errors
//
// Inference never panics: wrong input counts, dtypes and shapes return errors wrapping
// [ErrInput]; a panic inside a kernel is recovered at the Run boundary as a last resort and
// returned as [ErrInternal].
package engine
