// Kernels of torchgate's CUDA backend. Compiled to PTX by `go generate` (see generate.go);
// the PTX is committed and embedded, so a normal build needs no nvcc.
//
// Conventions, relied on by the Go side (lower.go, launch.go):
//   - every kernel is extern "C" and every parameter is 8 bytes wide: pointers, long long
//     or double (gorgonia.org/cu copies each launch parameter as 8 bytes);
//   - element-wise kernels use a grid-stride loop over n elements, so any grid size is valid;
//   - shapes and strides too long for parameters live in a device "meta" array of long long
//     written once at Prepare: meta[0] is the rank r, followed by r-long arrays.
//   - bool tensors are one byte per element (0 or 1).

#include <math.h>

#define GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (long long)blockDim.x * gridDim.x)

// Activation codes: match kernels.Act* in launch.go.
__device__ __forceinline__ float activate(float x, long long act) {
  switch (act) {
    case 1: return x > 0.f ? x : 0.f;                                    // ReLU
    case 2: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));    // GELU (erf)
    case 3: {                                                             // GELU (tanh)
      float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.f + tanhf(u));
    }
    case 4: return tanhf(x);                                             // Tanh
    case 5: return 1.f / (1.f + expf(-x));                               // Sigmoid
  }
  return x;
}

// offset2 maps a linear index of the output shape to offsets in two broadcast operands.
// meta: r, shape[r], strideA[r], strideB[r] (stride 0 on broadcast dims).
__device__ __forceinline__ void offset2(const long long* meta, long long i, long long* oa, long long* ob) {
  long long r = meta[0];
  const long long* shape = meta + 1;
  const long long* sa = shape + r;
  const long long* sb = sa + r;
  long long a = 0, b = 0;
  for (long long d = r - 1; d >= 0; d--) {
    long long q = i % shape[d];
    i /= shape[d];
    a += q * sa[d];
    b += q * sb[d];
  }
  *oa = a;
  *ob = b;
}

// Binary kinds: match kernels.Bin* in launch.go.
extern "C" __global__ void binary_f32(float* out, const float* a, const float* b, const long long* meta,
                                      long long n, long long kind, double alpha) {
  float al = (float)alpha;
  GRID_STRIDE(i, n) {
    long long oa, ob;
    offset2(meta, i, &oa, &ob);
    float x = a[oa], y = b[ob], z;
    switch (kind) {
      case 0: z = x + al * y; break;
      case 1: z = x - al * y; break;
      case 2: z = y - al * x; break;
      case 3: z = x * y; break;
      case 4: z = x / y; break;
      case 5: z = truncf(x / y); break;
      default: z = floorf(x / y); break;
    }
    out[i] = z;
  }
}

// Compare kinds: 0 greater, 1 less, 2 equal.
extern "C" __global__ void compare_f32(unsigned char* out, const float* a, const float* b, const long long* meta,
                                       long long n, long long kind) {
  GRID_STRIDE(i, n) {
    long long oa, ob;
    offset2(meta, i, &oa, &ob);
    float x = a[oa], y = b[ob];
    out[i] = kind == 0 ? x > y : kind == 1 ? x < y : x == y;
  }
}

// masked_fill: out = mask ? value : x, mask broadcast (meta as offset2, a = x, b = mask).
extern "C" __global__ void masked_fill_f32(float* out, const float* x, const unsigned char* mask,
                                           const long long* meta, long long n, double value) {
  GRID_STRIDE(i, n) {
    long long ox, om;
    offset2(meta, i, &ox, &om);
    out[i] = mask[om] ? (float)value : x[ox];
  }
}

extern "C" __global__ void activation_f32(float* out, const float* x, long long n, long long act) {
  GRID_STRIDE(i, n) { out[i] = activate(x[i], act); }
}

// epilogue_f32 finishes a GEMM output in place: out += bias[(i/inner) % channels] (when bias
// is set), += residual[i] (when set), then the activation.
extern "C" __global__ void epilogue_f32(float* out, const float* bias, const float* residual, long long n,
                                        long long channels, long long inner, long long act) {
  GRID_STRIDE(i, n) {
    float v = out[i];
    if (bias) v += bias[(i / inner) % channels];
    if (residual) v += residual[i];
    out[i] = activate(v, act);
  }
}

// batch_norm_f32: inference batch norm over channel (i/inner) % channels.
extern "C" __global__ void batch_norm_f32(float* out, const float* x, const float* mean, const float* var,
                                          const float* w, const float* b, long long n, long long channels,
                                          long long inner, double eps) {
  GRID_STRIDE(i, n) {
    long long c = (i / inner) % channels;
    float v = (x[i] - mean[c]) * rsqrtf(var[c] + (float)eps);
    if (w) v *= w[c];
    if (b) v += b[c];
    out[i] = v;
  }
}

// strided_copy_f32 copies an r-dimensional box: meta = r, shape[r], srcStride[r], dstStride[r],
// srcOffset, dstOffset. Permute, slice, select and each part of cat lower to it.
extern "C" __global__ void strided_copy_f32(float* dst, const float* src, const long long* meta, long long n) {
  long long r = meta[0];
  const long long* shape = meta + 1;
  const long long* ss = shape + r;
  const long long* ds = ss + r;
  long long so = ds[r], dof = ds[r + 1];
  GRID_STRIDE(i, n) {
    long long j = i, s = so, d = dof;
    for (long long k = r - 1; k >= 0; k--) {
      long long q = j % shape[k];
      j /= shape[k];
      s += q * ss[k];
      d += q * ds[k];
    }
    dst[d] = src[s];
  }
}

// reduce_f32: one thread per output. meta = kept rank rk, keptShape[rk], keptStride[rk],
// reduced rank rr, redShape[rr], redStride[rr]. out = scale · Σ.
extern "C" __global__ void reduce_f32(float* out, const float* x, const long long* meta, long long n,
                                      long long count, double scale) {
  long long rk = meta[0];
  const long long* ks = meta + 1;
  const long long* kst = ks + rk;
  long long rr = kst[rk];
  const long long* rs = kst + rk + 1;
  const long long* rst = rs + rr;
  GRID_STRIDE(i, n) {
    long long j = i, base = 0;
    for (long long k = rk - 1; k >= 0; k--) {
      base += (j % ks[k]) * kst[k];
      j /= ks[k];
    }
    double acc = 0;
    for (long long c = 0; c < count; c++) {
      long long q = c, off = base;
      for (long long k = rr - 1; k >= 0; k--) {
        off += (q % rs[k]) * rst[k];
        q /= rs[k];
      }
      acc += x[off];
    }
    out[i] = (float)(acc * scale);
  }
}

// Block reductions for the row kernels (blockDim.x a power of two, at most 1024).
__device__ float block_max(float v, float* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  float r = sh[0];
  __syncthreads();
  return r;
}

__device__ float block_sum(float v, float* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  float r = sh[0];
  __syncthreads();
  return r;
}

// softmax_f32: one block per (outer, inner) row of `dim` elements at stride `inner`;
// shared memory: blockDim.x floats. logsm selects log_softmax.
extern "C" __global__ void softmax_f32(float* out, const float* x, long long rows, long long dim,
                                       long long inner, long long logsm) {
  extern __shared__ float sh[];
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    long long base = (row / inner) * dim * inner + row % inner;
    float m = -INFINITY;
    for (long long j = threadIdx.x; j < dim; j += blockDim.x) m = fmaxf(m, x[base + j * inner]);
    m = block_max(m, sh);
    float s = 0.f;
    for (long long j = threadIdx.x; j < dim; j += blockDim.x) s += expf(x[base + j * inner] - m);
    s = block_sum(s, sh);
    for (long long j = threadIdx.x; j < dim; j += blockDim.x) {
      float v = x[base + j * inner] - m;
      out[base + j * inner] = logsm ? v - logf(s) : expf(v) / s;
    }
  }
}

// attn_softmax_f32 turns scaled scores [rows = batch·L, S] into probabilities in place,
// adding the mask first: maskKind 0 none, 1 additive float, 2 bool (true keeps, as
// torch's scaled_dot_product_attention); the mask is broadcast with meta (offset2 over
// the scores' shape, b = mask). causal hides columns after the row's query position.
extern "C" __global__ void attn_softmax_f32(float* scores, const void* mask, const long long* meta,
                                            long long rows, long long L, long long S, long long maskKind,
                                            long long causal) {
  extern __shared__ float sh[];
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    float* p = scores + row * S;
    long long q = row % L;
    float m = -INFINITY;
    for (long long j = threadIdx.x; j < S; j += blockDim.x) {
      float v = p[j];
      if (maskKind) {
        long long oa, om;
        offset2(meta, row * S + j, &oa, &om);
        if (maskKind == 1) v += ((const float*)mask)[om];
        else if (!((const unsigned char*)mask)[om]) v = -INFINITY;
      }
      if (causal && j > q) v = -INFINITY;
      p[j] = v;
      m = fmaxf(m, v);
    }
    m = block_max(m, sh);
    float s = 0.f;
    for (long long j = threadIdx.x; j < S; j += blockDim.x) {
      float e = m == -INFINITY ? 0.f : expf(p[j] - m);
      p[j] = e;
      s += e;
    }
    s = block_sum(s, sh);
    for (long long j = threadIdx.x; j < S; j += blockDim.x) p[j] = s > 0.f ? p[j] / s : NAN;
  }
}

// layer_norm_f32: one block per row of `cols` elements.
extern "C" __global__ void layer_norm_f32(float* out, const float* x, const float* w, const float* b,
                                          long long rows, long long cols, double eps) {
  extern __shared__ float sh[];
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* xr = x + row * cols;
    float* o = out + row * cols;
    float s = 0.f;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
    float mean = block_sum(s, sh) / (float)cols;
    float v = 0.f;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
      float d = xr[j] - mean;
      v += d * d;
    }
    float rstd = rsqrtf(block_sum(v, sh) / (float)cols + (float)eps);
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
      float y = (xr[j] - mean) * rstd;
      if (w) y *= w[j];
      if (b) y += b[j];
      o[j] = y;
    }
  }
}

// embedding_f32: out[t, :] = weight[ids[t], :]; an id outside [0, vocab) writes zeros and
// sets *status to 1 (the Go side reports it as an input error).
extern "C" __global__ void embedding_f32(float* out, const float* weight, const long long* ids, long long n,
                                         long long dim, long long vocab, int* status) {
  GRID_STRIDE(i, n) {
    long long id = ids[i / dim];
    if (id < 0 || id >= vocab) {
      out[i] = 0.f;
      *status = 1;
    } else {
      out[i] = weight[id * dim + i % dim];
    }
  }
}

extern "C" __global__ void cast_i64_f32(float* out, const long long* x, long long n) {
  GRID_STRIDE(i, n) { out[i] = (float)x[i]; }
}

extern "C" __global__ void cast_bool_f32(float* out, const unsigned char* x, long long n) {
  GRID_STRIDE(i, n) { out[i] = x[i] ? 1.f : 0.f; }
}

// Pooling: meta = N·C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, countIncludePad.
// One thread per output element.
extern "C" __global__ void max_pool2d_f32(float* out, const float* x, const long long* p, long long n) {
  long long H = p[1], W = p[2], OH = p[3], OW = p[4];
  GRID_STRIDE(i, n) {
    long long ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
    const float* xp = x + nc * H * W;
    float m = -INFINITY;
    for (long long kh = 0; kh < p[5]; kh++) {
      long long h = oh * p[7] - p[9] + kh * p[11];
      if (h < 0 || h >= H) continue;
      for (long long kw = 0; kw < p[6]; kw++) {
        long long w = ow * p[8] - p[10] + kw * p[12];
        if (w < 0 || w >= W) continue;
        float v = xp[h * W + w];
        if (v > m || isnan(v)) m = v;
      }
    }
    out[i] = m;
  }
}

extern "C" __global__ void avg_pool2d_f32(float* out, const float* x, const long long* p, long long n) {
  long long H = p[1], W = p[2], OH = p[3], OW = p[4];
  GRID_STRIDE(i, n) {
    long long ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
    const float* xp = x + nc * H * W;
    long long h0 = oh * p[7] - p[9], w0 = ow * p[8] - p[10];
    long long h1 = min(h0 + p[5], H + p[9]), w1 = min(w0 + p[6], W + p[10]);
    long long padded = (h1 - h0) * (w1 - w0);
    long long hs = max(h0, 0LL), ws = max(w0, 0LL), he = min(h1, H), we = min(w1, W);
    float s = 0.f;
    for (long long h = hs; h < he; h++)
      for (long long w = ws; w < we; w++) s += xp[h * W + w];
    long long div = p[13] ? padded : (he - hs) * (we - ws);
    out[i] = div > 0 ? s / (float)div : 0.f;
  }
}

// adaptive_avg_pool2d_f32: meta = N·C, H, W, OH, OW (torch's start/end index rule).
extern "C" __global__ void adaptive_avg_pool2d_f32(float* out, const float* x, const long long* p, long long n) {
  long long H = p[1], W = p[2], OH = p[3], OW = p[4];
  GRID_STRIDE(i, n) {
    long long ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
    long long hs = oh * H / OH, he = ((oh + 1) * H + OH - 1) / OH;
    long long ws = ow * W / OW, we = ((ow + 1) * W + OW - 1) / OW;
    const float* xp = x + nc * H * W;
    float s = 0.f;
    for (long long h = hs; h < he; h++)
      for (long long w = ws; w < we; w++) s += xp[h * W + w];
    out[i] = s / (float)((he - hs) * (we - ws));
  }
}

// im2col_f32 unfolds x [N, C, H, W] (channels c0 .. c0+CG of each image) into
// col [N, CG·KH·KW, OH·OW]. meta = N, C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, CG, c0.
extern "C" __global__ void im2col_f32(float* col, const float* x, const long long* p, long long n) {
  long long C = p[1], H = p[2], W = p[3], OH = p[4], OW = p[5], KH = p[6], KW = p[7];
  long long CG = p[14], c0 = p[15];
  GRID_STRIDE(i, n) {
    long long ow = i % OW, oh = (i / OW) % OH;
    long long r = (i / (OW * OH)) % (CG * KH * KW);
    long long img = i / (OW * OH * CG * KH * KW);
    long long kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH) + c0;
    long long h = oh * p[8] - p[10] + kh * p[12];
    long long w = ow * p[9] - p[11] + kw * p[13];
    col[i] = (h >= 0 && h < H && w >= 0 && w < W) ? x[((img * C + c) * H + h) * W + w] : 0.f;
  }
}
