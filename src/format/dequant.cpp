#include "format/dequant.h"

#include <cstring>

#include "util/error.h"
#include "util/half.h"

// Scalar reference dequantizers. Written for reading, not speed: each block is copied into its
// struct (so no alignment or aliasing assumptions about the source), then decoded with the same
// float operations, in the same order, as the GGML reference (and gguf-py), so results are
// bit-exact. The block layouts below are the on-disk GGUF formats (a file-format fact).
namespace ax {
namespace {

constexpr int QK = 32;    // values per block, legacy quants
constexpr int QK_K = 256; // values per super-block, K-quants and IQ4_XS

float h2f(uint16_t h) { return fp16_to_f32(h); }

// x = d * q, q in [-128, 127]
struct BlockQ8_0 {
  uint16_t d;      // fp16 scale
  int8_t qs[QK];
};
// x = d * (q - 8); qs[j] holds value j in its low nibble and value j + 16 in its high nibble
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[QK / 2];
};
// x = d * q + m, q in [0, 15]; nibbles as Q4_0
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[QK / 2];
};
// x = d * (q - 16), q 5 bits: low 4 in nibbles as Q4_0, bit 4 of value j in bit j of qh
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // little-endian u32
  uint8_t qs[QK / 2];
};
// x = d * q + m, q 5 bits as Q5_0
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};
// 16 sub-blocks of 16: x = d * (scale & 15) * q - dmin * (scale >> 4), q 2 bits
struct BlockQ2_K {
  uint8_t scales[QK_K / 16];  // low nibble: scale, high nibble: min
  uint8_t qs[QK_K / 4];       // 2-bit quants, 4 per byte
  uint16_t d;                 // super-block scale for the scales
  uint16_t dmin;              // super-block scale for the mins
};
// 16 sub-blocks of 16: x = d * (scale - 32) * (q - (high bit ? 0 : 4)), q low 2 bits in qs,
// high bit in hmask; 16 scales of 6 bits packed into 12 bytes
struct BlockQ3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
// 8 sub-blocks of 32: x = d * scale * q - dmin * min, q 4 bits; 8 scales + 8 mins of 6 bits in 12 bytes
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[QK_K / 2];
};
// As Q4_K with a fifth bit per value in qh
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
// 16 sub-blocks of 16: x = d * scale * (q - 32), q 6 bits: low 4 in ql, high 2 in qh
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  uint16_t d;
};
// 8 sub-blocks of 32: x = d * (scale - 32) * kvalues_iq4nl[q], q 4 bits (non-linear grid);
// 6-bit scales: low 4 bits in scales_l nibbles, high 2 bits in scales_h
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
};

static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockIQ4_XS) == 136);

constexpr int8_t kValuesIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

template <typename Block>
Block load(const uint8_t* src, int64_t i) {
  Block b;
  std::memcpy(&b, src + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

void dequant_q8_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<BlockQ8_0>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < QK; ++j) y[j] = d * static_cast<float>(b.qs[j]);
  }
}

void dequant_q4_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<BlockQ4_0>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = d * static_cast<float>((b.qs[j] & 0x0f) - 8);
      y[j + QK / 2] = d * static_cast<float>((b.qs[j] >> 4) - 8);
    }
  }
}

void dequant_q4_1(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<BlockQ4_1>(src, i);
    const float d = h2f(b.d), m = h2f(b.m);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = d * static_cast<float>(b.qs[j] & 0x0f) + m;
      y[j + QK / 2] = d * static_cast<float>(b.qs[j] >> 4) + m;
    }
  }
}

uint32_t u32le(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }

void dequant_q5_0(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<BlockQ5_0>(src, i);
    const float d = h2f(b.d);
    const uint32_t qh = u32le(b.qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int hi0 = (qh >> j) & 1, hi1 = (qh >> (j + 16)) & 1;
      y[j] = d * static_cast<float>(((b.qs[j] & 0x0f) | (hi0 << 4)) - 16);
      y[j + QK / 2] = d * static_cast<float>(((b.qs[j] >> 4) | (hi1 << 4)) - 16);
    }
  }
}

void dequant_q5_1(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<BlockQ5_1>(src, i);
    const float d = h2f(b.d), m = h2f(b.m);
    const uint32_t qh = u32le(b.qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int hi0 = (qh >> j) & 1, hi1 = (qh >> (j + 16)) & 1;
      y[j] = d * static_cast<float>((b.qs[j] & 0x0f) | (hi0 << 4)) + m;
      y[j + QK / 2] = d * static_cast<float>((b.qs[j] >> 4) | (hi1 << 4)) + m;
    }
  }
}

void dequant_q2_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ2_K>(src, i);
    const float d = h2f(b.d), dmin = h2f(b.dmin);
    // Two halves of 128 values; each reads 32 bytes of qs four times (2 bits per pass), and each
    // pass covers two sub-blocks of 16 (bytes 0-15 and 16-31).
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = b.scales[is++];
          const float dl = d * static_cast<float>(sc & 0x0f), ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K's 16 six-bit scales: bytes 0-7 hold the low 4 bits (sub-block j in byte j % 8, low nibble
// for j < 8, high nibble for j >= 8); bytes 8-11 hold the high 2 bits (sub-block j in byte
// 8 + j % 4, bits 2 * (j / 4)).
void unpack_q3_k_scales(const uint8_t* s, int8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
    const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

void dequant_q3_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ3_K>(src, i);
    const float d = h2f(b.d);
    int8_t scales[16];
    unpack_q3_k_scales(b.scales, scales);
    int is = 0;
    uint8_t m = 1;  // hmask bit of the current pass
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d * static_cast<float>(scales[is++]);
          for (int l = 16 * part; l < 16 * part + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

// Q4_K/Q5_K's 8 six-bit scales and mins in 12 bytes: sub-blocks 0-3 in the low 6 bits of bytes
// 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 have their low 4 bits in bytes 8-11 (scale: low
// nibble, min: high nibble) and their high 2 bits in the top bits of bytes 0-3 / 4-7.
void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& mn) {
  if (j < 4) {
    sc = q[j] & 63;
    mn = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    mn = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void dequant_q4_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ4_K>(src, i);
    const float d = h2f(b.d), dmin = h2f(b.dmin);
    // Each 32 bytes of qs hold two sub-blocks: low nibbles, then high nibbles.
    for (int pair = 0; pair < 4; ++pair) {
      const uint8_t* q = b.qs + 32 * pair;
      uint8_t sc, mn;
      scale_min_k4(2 * pair, b.scales, sc, mn);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mn);
      scale_min_k4(2 * pair + 1, b.scales, sc, mn);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequant_q5_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ5_K>(src, i);
    const float d = h2f(b.d), dmin = h2f(b.dmin);
    for (int pair = 0; pair < 4; ++pair) {
      const uint8_t* q = b.qs + 32 * pair;
      const uint8_t u1 = static_cast<uint8_t>(1 << (2 * pair)), u2 = static_cast<uint8_t>(2 << (2 * pair));
      uint8_t sc, mn;
      scale_min_k4(2 * pair, b.scales, sc, mn);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mn);
      scale_min_k4(2 * pair + 1, b.scales, sc, mn);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((q[l] & 0x0f) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((q[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
    }
  }
}

void dequant_q6_k(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ6_K>(src, i);
    const float d = h2f(b.d);
    // Two halves of 128 values: 64 bytes of ql, 32 of qh and 8 scales each. Within a half,
    // value l + 32k (k = 0..3) takes its low nibble from ql[l + 32 (k & 1)] (low nibble for
    // k < 2, high otherwise) and its top 2 bits from qh[l] bits 2k.
    for (int half = 0; half < 2; ++half, y += 128) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      const int8_t* sc = b.scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequant_iq4_xs(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockIQ4_XS>(src, i);
    const float d = h2f(b.d);
    for (int ib = 0; ib < QK_K / 32; ++ib, y += 32) {
      const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((b.scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = b.qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kValuesIQ4NL[qs[j] & 0x0f]);
        y[j + 16] = dl * static_cast<float>(kValuesIQ4NL[qs[j] >> 4]);
      }
    }
  }
}

void dequant_mxfp4(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const uint8_t* b = src + 17 * i;
    const float d = mxfp4_scale(b[0]);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = d * static_cast<float>(kMxfp4Values[b[1 + j] & 0x0f]);
      y[j + QK / 2] = d * static_cast<float>(kMxfp4Values[b[1 + j] >> 4]);
    }
  }
}

}  // namespace

void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n < 0 || n % info.block_size != 0)
    fail("dequantize_row: {} values is not a whole number of {} blocks of {}", n, info.name, info.block_size);
  const int64_t nb = n / info.block_size;
  switch (t) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = fp16_to_f32(h);
      }
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    case DType::Q8_0: return dequant_q8_0(src, dst, nb);
    case DType::Q4_0: return dequant_q4_0(src, dst, nb);
    case DType::Q4_1: return dequant_q4_1(src, dst, nb);
    case DType::Q5_0: return dequant_q5_0(src, dst, nb);
    case DType::Q5_1: return dequant_q5_1(src, dst, nb);
    case DType::Q2_K: return dequant_q2_k(src, dst, nb);
    case DType::Q3_K: return dequant_q3_k(src, dst, nb);
    case DType::Q4_K: return dequant_q4_k(src, dst, nb);
    case DType::Q5_K: return dequant_q5_k(src, dst, nb);
    case DType::Q6_K: return dequant_q6_k(src, dst, nb);
    case DType::IQ4_XS: return dequant_iq4_xs(src, dst, nb);
    case DType::MXFP4: return dequant_mxfp4(src, dst, nb);
    default: break;
  }
  fail("dequantize_row: type {} has no dequantizer", info.name);
}

std::vector<float> dequantize(const TensorView& t) {
  const int64_t cols = t.cols(), rows = t.rows();
  if (row_bytes(t.dtype, cols) * static_cast<size_t>(rows) != t.nbytes)
    fail("dequantize: tensor '{}' has {} bytes, its shape and dtype {} need {}", t.name, t.nbytes,
         dtype_name(t.dtype), row_bytes(t.dtype, cols) * static_cast<size_t>(rows));
  std::vector<float> out(static_cast<size_t>(rows * cols));
  const size_t rb = row_bytes(t.dtype, cols);
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t.dtype, t.data + r * rb, out.data() + r * cols, cols);
  return out;
}

}  // namespace ax
