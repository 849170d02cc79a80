// The CUDA backend's row and elementwise ops: embedding rows, RMSNorm, residual adds, SwiGLU, RoPE,
// gathering logit rows. Each element or row is computed the same way whatever the number of rows.
#include <cuda_fp16.h>

#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_kernels.h"

namespace ax::cuda {
namespace {

__device__ __forceinline__ float f16_at(const uint8_t* p) { return __half2float(*reinterpret_cast<const __half*>(p)); }

// Scale and min of sub-block j of a Q4_K/Q5_K block's 12 scale bytes q.
__device__ __forceinline__ void scale_min_k4(const uint8_t* q, int j, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Value k of a device-layout row (device_layout.h), as float32.
__device__ float layout_value(DevType type, const uint8_t* row, int64_t kp, int64_t k) {
  switch (type) {
    case DevType::F16: return f16_at(row + 2 * k);
    case DevType::Q8_0: return f16_at(row + kp + 2 * (k / 32)) * static_cast<float>(static_cast<int8_t>(row[k]));
    case DevType::Q4_0: {
      const int64_t b = k / 32;
      const int i = static_cast<int>(k % 32);
      const uint8_t byte = row[b * 16 + i % 16];
      const int q = i < 16 ? (byte & 0x0f) : (byte >> 4);
      return f16_at(row + kp / 2 + 2 * b) * static_cast<float>(q - 8);
    }
    case DevType::MXFP4: {
      const int64_t b = k / 32;
      const int i = static_cast<int>(k % 32);
      const uint8_t byte = row[b * 16 + i % 16];
      return mxfp4_scale(row[kp / 2 + b]) * mxfp4_value(i < 16 ? (byte & 0x0f) : (byte >> 4));
    }
    case DevType::Q4_K:
    case DevType::Q5_K: {
      const bool q5 = type == DevType::Q5_K;
      const uint8_t* b = row + (k / 256) * (q5 ? 176 : 144);
      const int v = static_cast<int>(k % 256), j4 = v / 64, l = v % 64;
      const uint8_t byte = b[(q5 ? 48 : 16) + 32 * j4 + l % 32];
      int q = l < 32 ? (byte & 0x0f) : (byte >> 4);
      const int sub = 2 * j4 + (l >= 32);
      if (q5) q += ((b[16 + l % 32] >> sub) & 1) << 4;
      int sc, m;
      scale_min_k4(b + 4, sub, sc, m);
      return f16_at(b) * static_cast<float>(sc) * static_cast<float>(q) - f16_at(b + 2) * static_cast<float>(m);
    }
    case DevType::Q6_K: {
      const uint8_t* b = row + (k / 256) * 208;
      const int v = static_cast<int>(k % 256), n = v / 128, w = v % 128, k4 = w / 32, l = w % 32;
      const uint8_t lb = b[64 * n + l + 32 * (k4 & 1)];
      const int lo = k4 >= 2 ? (lb >> 4) : (lb & 0x0f);
      const int hi = (b[128 + 32 * n + l] >> (2 * k4)) & 3;
      const float d = f16_at(row + kp / 256 * 208 + 2 * (k / 256));
      return d * static_cast<float>(static_cast<int8_t>(b[192 + v / 16])) * static_cast<float>((lo | (hi << 4)) - 32);
    }
  }
  return 0.0f;
}

__global__ void embedding_kernel(DevType type, const uint8_t* __restrict__ w, size_t row_stride, int64_t kp,
                                 int64_t cols, const int32_t* __restrict__ tokens, float* __restrict__ out) {
  const int64_t i = blockIdx.y;
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= cols) return;
  out[i * cols + k] = layout_value(type, w + static_cast<int64_t>(tokens[i]) * row_stride, kp, k);
}

// One block per row: each thread sums the squares of its strided elements, the block adds the
// partial sums in a fixed tree. With `res` (the residual add fused in), x += res first: the same
// values as add() then rms_norm().
__global__ void rms_norm_kernel(float* __restrict__ x, const float* __restrict__ res, const float* __restrict__ w,
                                int64_t dim, float eps, float* __restrict__ y) {
  __shared__ float warp_sums[32];
  float* xr = x + blockIdx.x * dim;
  float* yr = y + blockIdx.x * dim;
  float ss = 0.0f;
  if (res != nullptr) {
    const float* rr = res + blockIdx.x * dim;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
      const float v = xr[i] + rr[i];
      xr[i] = v;
      ss += v * v;
    }
  } else {
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  }
  ss = warp_sum(ss);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float s = threadIdx.x < blockDim.x / 32 ? warp_sums[threadIdx.x] : 0.0f;
    s = warp_sum(s);
    if (threadIdx.x == 0) warp_sums[0] = s;
  }
  __syncthreads();
  const float inv = 1.0f / sqrtf(warp_sums[0] / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = w[i] * (xr[i] * inv);
}

__global__ void add_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) y[i] += x[i];
}

__global__ void add_bias_kernel(float* __restrict__ y, const float* __restrict__ b, int64_t count, int64_t dim) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) y[i] += b[i % dim];
}

__global__ void glu_kernel(float* __restrict__ gate, const float* __restrict__ up, int64_t count, int kind) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const float g = gate[i];
  if (kind == 2) {  // gpt-oss: (clamp(up, -7, 7) + 1) * g * sigmoid(1.702 g), g = min(gate, 7)
    const float gc = fminf(g, 7.0f), u = fminf(fmaxf(up[i], -7.0f), 7.0f);
    gate[i] = (u + 1.0f) * (gc / (1.0f + expf(-1.702f * gc)));
    return;
  }
  const float a = kind == 1 ? 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)))
                            : g / (1.0f + expf(-g));
  gate[i] = a * up[i];
}

__global__ void scale_kernel(float* __restrict__ x, float s, int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) x[i] *= s;
}

__global__ void softcap_kernel(float* __restrict__ x, float cap, int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) x[i] = cap * tanhf(x[i] / cap);
}

// out[t, :] = sum over i < k of w[t * k + i] * rows[(t * k + i), :]: each row's experts in order.
__global__ void weighted_rows_kernel(const float* __restrict__ rows, const float* __restrict__ w, int64_t k,
                                     int64_t cols, float* __restrict__ out, int64_t ldo) {
  const int64_t t = blockIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float s = 0.0f;
  for (int64_t i = 0; i < k; ++i) s += w[t * k + i] * rows[(t * k + i) * cols + c];
  out[t * ldo + c] = s;
}

// rows[dst[r], :] = src[r, :].
__global__ void scatter_rows_kernel(const float* __restrict__ src, int64_t cols, const int32_t* __restrict__ dst,
                                    float* __restrict__ rows) {
  const int64_t r = blockIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < cols) rows[static_cast<int64_t>(dst[r]) * cols + c] = src[r * cols + c];
}

// out[t, h * (da + db) + i] = i < da ? a[t, h * da + i] : b[t, h * db + i - da]; one thread per value.
__global__ void concat_heads_kernel(const float* __restrict__ a, int64_t da, const float* __restrict__ b, int64_t db,
                                    int64_t total, int64_t heads, float* __restrict__ out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int64_t w = da + db, t = idx / (heads * w), h = (idx / w) % heads, i = idx % w;
  out[idx] = i < da ? a[(t * heads + h) * da + i] : b[(t * heads + h) * db + i - da];
}

// One thread per value of out.
__global__ void copy_columns_kernel(const float* __restrict__ x, int64_t x_cols, int64_t col0, int64_t total,
                                    int64_t out_cols, float* __restrict__ out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  out[idx] = x[(idx / out_cols) * x_cols + col0 + idx % out_cols];
}

// One thread per (token, head, rotated pair); q heads first, then k heads. The angle is formed in
// float32 (pos * inv_freq, as the reference does) and its cosine and sine taken in double.
__global__ void rope_kernel(float* __restrict__ q, int64_t q_stride, int64_t q_heads, float* __restrict__ k,
                            int64_t k_stride, int64_t k_heads, int64_t head_dim, int64_t T, RopeArgs r) {
  const int64_t half = r.rotary_dim / 2;
  const int64_t per_token = (q_heads + k_heads) * half;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= T * per_token) return;
  const int64_t t = idx / per_token, rest = idx % per_token, head = rest / half, i = rest % half;
  float* v = head < q_heads ? q + t * q_stride + head * head_dim : k + t * k_stride + (head - q_heads) * head_dim;
  const float angle = static_cast<float>(r.positions[t]) * r.inv_freq[i];
  double s, c;
  sincos(static_cast<double>(angle), &s, &c);
  const float cs = static_cast<float>(c) * r.attention_factor, sn = static_cast<float>(s) * r.attention_factor;
  float* a = r.adjacent_pairs ? v + 2 * i : v + i;
  float* b = r.adjacent_pairs ? v + 2 * i + 1 : v + i + half;
  const float a0 = *a, b0 = *b;
  *a = a0 * cs - b0 * sn;
  *b = b0 * cs + a0 * sn;
}

__global__ void gather_rows_kernel(const float* __restrict__ x, int64_t cols, const int32_t* __restrict__ rows,
                                   float* __restrict__ out) {
  const int64_t i = blockIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < cols) out[i * cols + c] = x[static_cast<int64_t>(rows[i]) * cols + c];
}

// Streams n 16-byte words (every load kept alive by an xor nobody reads, unless it hits a magic value).
__global__ void read_kernel(const uint4* __restrict__ p, int64_t n, uint32_t* __restrict__ sink) {
  uint32_t acc = 0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcs(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) sink[0] = acc;
}

}  // namespace

void read_pass(const void* p, size_t bytes, uint32_t* sink, int sms, cudaStream_t stream) {
  read_kernel<<<static_cast<unsigned>(sms * 4), 512, 0, stream>>>(static_cast<const uint4*>(p),
                                                                  static_cast<int64_t>(bytes / 16), sink);
  AX_CUDA_LAUNCHED();
}

void embedding(const DeviceLayout& w, const uint8_t* data, const int32_t* tokens, int64_t n, float* out,
               cudaStream_t stream) {
  if (n == 0) return;
  embedding_kernel<<<dim3(blocks_for(w.cols, 256), static_cast<unsigned>(n)), 256, 0, stream>>>(
      w.type, data, w.row_stride, w.cols_padded, w.cols, tokens, out);
  AX_CUDA_LAUNCHED();
}

void rms_norm(float* x, const float* residual, const float* w, int64_t rows, int64_t dim, float eps, float* y,
              cudaStream_t stream) {
  if (rows == 0) return;
  const int threads = dim >= 1024 ? 512 : dim >= 256 ? 256 : dim >= 64 ? 64 : 32;
  rms_norm_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, residual, w, dim, eps, y);
  AX_CUDA_LAUNCHED();
}

void add(float* y, const float* x, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  add_kernel<<<blocks_for(count, 256), 256, 0, stream>>>(y, x, count);
  AX_CUDA_LAUNCHED();
}

void add_bias(float* y, const float* b, int64_t rows, int64_t dim, cudaStream_t stream) {
  if (rows * dim == 0) return;
  add_bias_kernel<<<blocks_for(rows * dim, 256), 256, 0, stream>>>(y, b, rows * dim, dim);
  AX_CUDA_LAUNCHED();
}

void glu(float* gate, const float* up, int64_t count, int kind, cudaStream_t stream) {
  if (count == 0) return;
  glu_kernel<<<blocks_for(count, 256), 256, 0, stream>>>(gate, up, count, kind);
  AX_CUDA_LAUNCHED();
}

void scale(float* x, float s, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  scale_kernel<<<blocks_for(count, 256), 256, 0, stream>>>(x, s, count);
  AX_CUDA_LAUNCHED();
}

void softcap(float* x, float cap, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  softcap_kernel<<<blocks_for(count, 256), 256, 0, stream>>>(x, cap, count);
  AX_CUDA_LAUNCHED();
}

void weighted_rows(const float* rows, const float* w, int64_t n, int64_t k, int64_t cols, float* out, int64_t ldo,
                   cudaStream_t stream) {
  if (n == 0) return;
  weighted_rows_kernel<<<dim3(blocks_for(cols, 256), static_cast<unsigned>(n)), 256, 0, stream>>>(rows, w, k, cols, out,
                                                                                                  ldo);
  AX_CUDA_LAUNCHED();
}

void scatter_rows(const float* src, int64_t cols, const int32_t* dst, int64_t n, float* rows, cudaStream_t stream) {
  if (n == 0) return;
  scatter_rows_kernel<<<dim3(blocks_for(cols, 256), static_cast<unsigned>(n)), 256, 0, stream>>>(src, cols, dst, rows);
  AX_CUDA_LAUNCHED();
}

void concat_heads(const float* a, int64_t da, const float* b, int64_t db, int64_t n, int64_t heads, float* out,
                  cudaStream_t stream) {
  const int64_t total = n * heads * (da + db);
  if (total == 0) return;
  concat_heads_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(a, da, b, db, total, heads, out);
  AX_CUDA_LAUNCHED();
}

void copy_columns(const float* x, int64_t x_cols, int64_t col0, int64_t n, int64_t out_cols, float* out,
                  cudaStream_t stream) {
  const int64_t total = n * out_cols;
  if (total == 0) return;
  copy_columns_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(x, x_cols, col0, total, out_cols, out);
  AX_CUDA_LAUNCHED();
}

void rope(float* q, int64_t q_stride, int64_t q_heads, float* k, int64_t k_stride, int64_t k_heads, int64_t head_dim,
          int64_t T, const RopeArgs& r, cudaStream_t stream) {
  const int64_t total = T * (q_heads + k_heads) * (r.rotary_dim / 2);
  if (total == 0) return;
  rope_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(q, q_stride, q_heads, k, k_stride, k_heads, head_dim, T, r);
  AX_CUDA_LAUNCHED();
}

void gather_rows(const float* x, int64_t cols, const int32_t* rows, int64_t n, float* out, cudaStream_t stream) {
  if (n == 0) return;
  gather_rows_kernel<<<dim3(blocks_for(cols, 256), static_cast<unsigned>(n)), 256, 0, stream>>>(x, cols, rows, out);
  AX_CUDA_LAUNCHED();
}

}  // namespace ax::cuda
