// Calls gorgonia.org/cu lacks: cuBLAS bound to a stream with a chosen compute type, and
// pinned host memory. Implemented in shim_cuda.c (built with -tags cuda only). cuBLAS is
// opened with dlopen, so one binary runs with the cuBLAS 11, 12 or 13 of the machine.
#include <cuda.h>
#include <cublas_v2.h>

const char* tg_blas_open(const char* path);
int tg_blas_create(cublasHandle_t* h, CUstream s);
int tg_blas_destroy(cublasHandle_t h);
int tg_gemm(cublasHandle_t h, int tf32, int ta, int tb, int m, int n, int k, float alpha,
            unsigned long long a, int lda, long long sa, unsigned long long b, int ldb, long long sb,
            float beta, unsigned long long c, int ldc, long long sc, int batch);
int tg_host_alloc(void** p, size_t bytes);
int tg_host_free(void* p);
