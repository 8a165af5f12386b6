// Package cuda is torchgate's CUDA backend: it runs the graphs of the worker's engine on an
// NVIDIA GPU through gorgonia.org/cu (driver API: context, stream, device memory, PTX
// modules, launches) and cuBLAS, with the kernels of package kernels.
//
// # Builds
//
// gorgonia.org/cu's package init exits the process when no GPU driver is present, so every
// file that imports it is behind the `cuda` build tag, and only the GPU build of the worker
// (cmd/worker, built with -tags cuda) imports it. Without the tag, [New] returns
// [ErrNoCUDA] and everything else — lowering graphs to launches and GEMMs, the memory
// pool's bookkeeping, launch sizes — builds and is tested on machines without a GPU.
//
// # Execution model
//
// [Backend.Prepare] lowers a graph (already BN-folded, fused and memory-planned) into a
// list of steps: cuBLAS GEMMs (convolution as im2col + GEMM, linear, matmul, attention as
// two batched GEMMs around a masked softmax) and kernel launches whose parameters are all
// computed once, then uploads the weights (once per backend: programs prepared for other
// batch sizes share them) and takes one device arena from the pool. Run copies the inputs
// through pinned host buffers, replays the steps on the backend's stream and copies the
// outputs back: no device allocation and no parameter computation per inference.
//
// # Precision
//
// GEMMs use TF32 tensor cores by default (10-bit mantissa: relative error about 1e-3 per
// product); [Options.ExactFP32] switches them to full FP32. The kernels always compute in
// FP32. The GPU golden tests accept max |ours − torch| ≤ 5e-3 · max(1, max |torch|) with
// TF32 and the CPU engine's 1e-4 with ExactFP32.
//
// # Concurrency
//
// A Backend serves one model instance: one stream, one cuBLAS handle. The engine never
// runs two Programs of one Model at once; Programs of different Backends run concurrently.
package cuda
