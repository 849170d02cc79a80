#include "format/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "format/dequant.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {

constexpr int QK = 32;

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Block: fp16 d, then 32 int8 q; x ~ d * q with d = max|x| / 127.
void quantize_q8_0(const float* x, uint8_t* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK, y += 34) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put16(y, f32_to_fp16(d));
    for (int j = 0; j < QK; ++j) y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
  }
}

// Block: fp16 d, then 16 bytes of nibbles (value j low, value j + 16 high); x ~ d * (q - 8).
// d = m / -8 where m is the value of largest magnitude (sign kept), so m maps exactly to q = 0.
void quantize_q4_0(const float* x, uint8_t* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK, y += 18) {
    float amax = 0.0f, m = 0.0f;
    for (int j = 0; j < QK; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        m = x[j];
      }
    }
    const float d = m / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put16(y, f32_to_fp16(d));
    for (int j = 0; j < QK / 2; ++j) {
      // Truncation of (v + 8.5) rounds to nearest; 15 caps the +8 the scale cannot reach.
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + QK / 2] * id + 8.5f)));
      y[2 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// Block: E8M0 exponent e, then 16 bytes of E2M1 codes (value j low nibble, j + 16 high; see
// dequant.h). gguf-py's rule: e = floor(log2(max|x|)) - 2 + 127, so the largest code (12, doubled
// 6) times 2^(e - 128) lands in (0.75, 1.5] * max|x|; each value takes the code nearest to it, the
// first in table order on a tie. The exponent comes from frexp (exact; gguf-py's float32 log2 can
// round up within an ulp below a power of two).
void quantize_mxfp4(const float* x, uint8_t* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK, y += 17) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    int e = 0;
    if (amax > 0.0f) {
      int exp2 = 0;
      std::frexp(amax, &exp2);  // amax = m * 2^exp2, m in [0.5, 1): floor(log2(amax)) = exp2 - 1
      e = std::clamp(exp2 - 1 - 2 + 127, 0, 255);
    }
    const float d = mxfp4_scale(static_cast<uint8_t>(e));
    uint8_t codes[QK];
    for (int j = 0; j < QK; ++j) {
      int best = 0;
      float best_err = std::fabs(d * static_cast<float>(kMxfp4Values[0]) - x[j]);
      for (int c = 1; c < 16; ++c) {
        const float err = std::fabs(d * static_cast<float>(kMxfp4Values[c]) - x[j]);
        if (err < best_err) {
          best = c;
          best_err = err;
        }
      }
      codes[j] = static_cast<uint8_t>(best);
    }
    y[0] = static_cast<uint8_t>(e);
    for (int j = 0; j < QK / 2; ++j) y[1 + j] = static_cast<uint8_t>(codes[j] | (codes[j + QK / 2] << 4));
  }
}

}  // namespace

bool can_quantize(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::Q8_0 || t == DType::Q4_0 ||
         t == DType::MXFP4;
}

void quantize_row(DType t, const float* src, uint8_t* dst, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n < 0 || n % info.block_size != 0)
    fail("quantize_row: {} values is not a whole number of {} blocks of {}", n, info.name, info.block_size);
  switch (t) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) put16(dst + 2 * i, f32_to_fp16(src[i]));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) put16(dst + 2 * i, f32_to_bf16(src[i]));
      return;
    case DType::Q8_0: return quantize_q8_0(src, dst, n / QK);
    case DType::Q4_0: return quantize_q4_0(src, dst, n / QK);
    case DType::MXFP4: return quantize_mxfp4(src, dst, n / QK);
    default: break;
  }
  fail("quantize_row: type {} has no quantizer", info.name);
}

std::vector<uint8_t> quantize(DType t, const float* src, int64_t rows, int64_t cols) {
  const size_t rb = row_bytes(t, cols);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, src + r * cols, out.data() + r * rb, cols);
  return out;
}

}  // namespace ax
