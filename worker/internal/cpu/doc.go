// Package cpu holds the worker's CPU kernels: a blocked, packed, parallel SGEMM with an
// AVX2/FMA assembly micro-kernel (and a portable Go fallback), and on top of it linear layers,
// batched matrix products, convolution and attention, plus the pooling, normalisation,
// element-wise and layout kernels the graph needs. Every kernel's doc comment names the
// PyTorch operation whose semantics it matches.
//
// # Conventions
//
// Kernels write into a destination tensor the caller provides (the memory plan owns the
// buffers), check every shape and return an error wrapping [ErrShape], [ErrArgument] or
// [ErrIndex] on a mismatch; they never panic on bad input. Tensors are dense row-major float32
// ([tensor.Tensor]); ids are [tensor.Int64] and masks [tensor.Bool]. Unless a comment says so,
// the destination must not overlap an input.
//
// # Threads and allocation
//
// An [Engine] owns a fixed pool of worker goroutines and the packing scratch; the heavy
// kernels (GEMM, linear, matmul, convolution, attention, max pooling) are its methods and run
// one at a time. With the same shapes, repeated calls allocate nothing, and neither do the
// element-wise, normalisation and layout functions (for tensors of up to 8 dimensions).
//
// # Kernels
//
// The GEMM follows the BLIS scheme: A is packed into 6-row micro-panels (mcBlock rows at a
// time), B into 16-column micro-panels, kcBlock deep, and a 6x16 micro-kernel keeps the C tile
// in twelve YMM registers. Weights are packed once, at load ([PackLinear], [PackConv2d], which
// also applies the per-channel scales of a BatchNorm folded by [FoldBatchNorm]). The
// fused [Epilogue] (bias, residual, activation) runs on each C tile as it is finished. A 4x24
// kernel was measured against the 6x16 one on this project's AMD EPYC (Zen 3) machine: both
// reach about 95 GFLOP/s on one core from cache, so the 6x16 shape, whose 16 columns match two
// YMM registers, stays. The micro-kernel, one-row variants, the exponential behind softmax and
// attention, GELU and the epilogue have AVX2 versions chosen at run time from the CPU's
// features; building with the purego tag, or for another architecture, uses the portable Go
// code, which the tests also force on amd64.
//
// # Batch invariance
//
// A row's (or an image's) result does not depend, to the bit, on the batch it is computed
// in, nor on the thread count: the server's dynamic batching relies on it. Every element of
// C is one chain of multiply-adds (fused, with AVX2) in k order, kcBlock deep at a time
// whatever m and n, in every kernel of a flavour: the 6x16 micro-kernel and the one-row
// kernels that compute a lone last row (a batch of one) on up to four B panels at once to
// hide the chain's latency. The epilogue and the activations compute each element alone (GELU's AVX2
// code also takes a slice's scalar tail, padded, as its results differ from the portable
// code's), and reductions run along one row.
//
// Convolutions run as one GEMM per image and group, except small images (ResNet's 7x7
// planes), which share GEMMs several at a time so that the packed weights are read once per
// batch (see imagesPerGEMM). On several threads, a batch is shared out by whole images (or
// groups of images that share a GEMM): each worker runs the GEMMs of its images alone, with
// its own packing and scratch buffers, so that no thread waits for another inside a
// convolution (two threads on one image lose 15–20% to synchronisation); only the images left
// over once every thread has had as many run one at a time on the whole pool. Most
// convolutions use the shifted formulation (conv_shift.go): the padded input is split once
// into stride-phase images, on which every im2col row is a contiguous run, so B panels are
// packed by block copies; the few extra columns this computes are dropped when the result is
// copied out (large outputs are computed in bands of rows, so the grid stays small;
// [Engine.ReserveConv2d] sizes the scratch for a whole model up front). Planes where that
// waste would pass 15% gather im2col panels directly, 1x1 stride-1 convolutions read the
// input as B, and depthwise convolutions run a direct kernel.
package cpu
