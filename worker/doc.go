// Package worker is torchgate's inference worker: it reads TorchScript archives, runs them with
// its own kernels on the CPU (and, in the GPU build, on CUDA), and serves them over the Open
// Inference Protocol. The engine and server live in the internal packages below this module.
package worker
