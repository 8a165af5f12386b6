// Package kernels holds the CUDA kernels of the GPU backend: their .cu source, the PTX nvcc
// made from it for compute capability 8.0 and 9.0 (committed, embedded with go:embed, so a
// normal build needs no nvcc), the kernel names and how to size a launch.
//
// Nothing here talks to a GPU; the package builds and tests everywhere. Every kernel
// parameter is 8 bytes wide (a pointer, long long or double) because gorgonia.org/cu copies
// launch parameters as 8-byte words.
package kernels
