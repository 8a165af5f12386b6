//go:build cuda

#include <dlfcn.h>
#include <stddef.h>

#include "shim_cuda.h"

// The cuBLAS entry points used, resolved by tg_blas_open. Their C ABI is the same in
// cuBLAS 11, 12 and 13.
static cublasStatus_t (*p_create)(cublasHandle_t*);
static cublasStatus_t (*p_destroy)(cublasHandle_t);
static cublasStatus_t (*p_set_stream)(cublasHandle_t, cudaStream_t);
static cublasStatus_t (*p_gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                   const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                                   int, const void*, void*, cudaDataType, int, cublasComputeType_t,
                                   cublasGemmAlgo_t);
static cublasStatus_t (*p_gemm_sb_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                      const void*, const void*, cudaDataType, int, long long, const void*,
                                      cudaDataType, int, long long, const void*, void*, cudaDataType, int,
                                      long long, int, cublasComputeType_t, cublasGemmAlgo_t);

// tg_blas_open loads cuBLAS from path (NULL: the newest soname found) and returns NULL, or
// a static message naming what failed. Not thread-safe: the Go side calls it once.
const char* tg_blas_open(const char* path) {
  static const char* names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"};
  void* h = NULL;
  if (path) {
    h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  } else {
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
  }
  if (!h) return "cannot dlopen libcublas (set TORCHGATE_CUBLAS or LD_LIBRARY_PATH)";
  p_create = dlsym(h, "cublasCreate_v2");
  p_destroy = dlsym(h, "cublasDestroy_v2");
  p_set_stream = dlsym(h, "cublasSetStream_v2");
  p_gemm_ex = dlsym(h, "cublasGemmEx");
  p_gemm_sb_ex = dlsym(h, "cublasGemmStridedBatchedEx");
  if (!p_create || !p_destroy || !p_set_stream || !p_gemm_ex || !p_gemm_sb_ex) return "libcublas lacks a needed symbol";
  return NULL;
}

// tg_blas_create makes a cuBLAS handle whose work runs on stream s (the model instance's
// stream; cuBLAS otherwise uses the legacy default stream).
int tg_blas_create(cublasHandle_t* h, CUstream s) {
  cublasStatus_t st = p_create(h);
  if (st != CUBLAS_STATUS_SUCCESS) return (int)st;
  st = p_set_stream(*h, (cudaStream_t)s);
  if (st != CUBLAS_STATUS_SUCCESS) p_destroy(*h);
  return (int)st;
}

int tg_blas_destroy(cublasHandle_t h) { return (int)p_destroy(h); }

// tg_gemm runs one column-major GEMM, strided-batched when batch > 1, in FP32 storage with
// TF32 tensor-core compute (tf32 != 0) or exact FP32 compute.
int tg_gemm(cublasHandle_t h, int tf32, int ta, int tb, int m, int n, int k, float alpha,
            unsigned long long a, int lda, long long sa, unsigned long long b, int ldb, long long sb,
            float beta, unsigned long long c, int ldc, long long sc, int batch) {
  cublasComputeType_t ct = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (batch <= 1) {
    return (int)p_gemm_ex(h, opa, opb, m, n, k, &alpha, (const void*)a, CUDA_R_32F, lda, (const void*)b,
                          CUDA_R_32F, ldb, &beta, (void*)c, CUDA_R_32F, ldc, ct, CUBLAS_GEMM_DEFAULT);
  }
  return (int)p_gemm_sb_ex(h, opa, opb, m, n, k, &alpha, (const void*)a, CUDA_R_32F, lda, sa, (const void*)b,
                           CUDA_R_32F, ldb, sb, &beta, (void*)c, CUDA_R_32F, ldc, sc, batch, ct,
                           CUBLAS_GEMM_DEFAULT);
}

// tg_host_alloc allocates page-locked host memory usable for async copies on any context.
int tg_host_alloc(void** p, size_t bytes) { return (int)cuMemHostAlloc(p, bytes, CU_MEMHOSTALLOC_PORTABLE); }

int tg_host_free(void* p) { return (int)cuMemFreeHost(p); }
