package kernels

// The PTX is generated from kernels.cu and committed; regenerate after editing the .cu file
// (needs nvcc: ../../../shared/tools/cuda-sdk.sh --nvcc installs Debian's nvcc 11.8).
//go:generate nvcc -ptx -O3 -arch=compute_80 kernels.cu -o kernels_sm80.ptx
//go:generate nvcc -ptx -O3 -arch=compute_90 kernels.cu -o kernels_sm90.ptx
