#include "backend/cuda/device_layout.h"

#include <cmath>
#include <cstring>

#include "format/dequant.h"
#include "util/error.h"
#include "util/half.h"

namespace ax::cuda {
namespace {

constexpr int64_t kChunk = 256;
size_t round16(size_t n) { return (n + 15) / 16 * 16; }

// Stored GGUF block sizes of the types kept quantized.
constexpr size_t kQ80Block = 34, kQ40Block = 18, kMxfp4Block = 17, kQ6KBlock = 210, kQ6KNoD = 208;

}  // namespace

const char* dev_type_name(DevType t) {
  switch (t) {
    case DevType::F16: return "f16";
    case DevType::Q8_0: return "q8_0";
    case DevType::Q4_0: return "q4_0";
    case DevType::Q4_K: return "q4_k";
    case DevType::Q5_K: return "q5_k";
    case DevType::Q6_K: return "q6_k";
    case DevType::MXFP4: return "mxfp4";
  }
  return "?";
}

DevType device_type_for(DType t) {
  switch (t) {
    case DType::Q8_0: return DevType::Q8_0;
    case DType::Q4_0: return DevType::Q4_0;
    case DType::Q4_K: return DevType::Q4_K;
    case DType::Q5_K: return DevType::Q5_K;
    case DType::Q6_K: return DevType::Q6_K;
    case DType::MXFP4: return DevType::MXFP4;
    default: return DevType::F16;
  }
}

DeviceLayout device_layout(DType stored, int64_t rows, int64_t cols) {
  DeviceLayout l;
  l.type = device_type_for(stored);
  l.rows = rows;
  l.cols = cols;
  l.cols_padded = (cols + kChunk - 1) / kChunk * kChunk;
  const size_t kp = static_cast<size_t>(l.cols_padded);
  switch (l.type) {
    case DevType::F16: l.row_stride = 2 * kp; break;
    case DevType::Q8_0: l.row_stride = kp + round16(kp / 32 * 2); break;
    case DevType::Q4_0: l.row_stride = kp / 2 + round16(kp / 32 * 2); break;
    case DevType::Q4_K: l.row_stride = kp / 256 * 144; break;
    case DevType::Q5_K: l.row_stride = kp / 256 * 176; break;
    case DevType::Q6_K: l.row_stride = kp / 256 * kQ6KNoD + round16(kp / 256 * 2); break;
    case DevType::MXFP4: l.row_stride = kp / 2 + round16(kp / 32); break;
  }
  return l;
}

std::vector<uint8_t> repack_for_device(const TensorView& w, const DeviceLayout& l) {
  const int64_t K = l.cols, Kp = l.cols_padded;
  if (w.rows() != l.rows || w.cols() != K) fail("cuda: weight '{}' does not match its device layout", w.name);
  std::vector<uint8_t> out(l.bytes(), 0);
  const size_t src_stride = row_bytes(w.dtype, K);
  if (w.nbytes < src_stride * static_cast<size_t>(l.rows))
    fail("cuda: weight '{}' holds {} bytes, its shape needs {}", w.name, w.nbytes, src_stride * l.rows);
  std::vector<float> tmp;
  for (int64_t r = 0; r < l.rows; ++r) {
    const uint8_t* src = w.data + static_cast<size_t>(r) * src_stride;
    uint8_t* dst = out.data() + static_cast<size_t>(r) * l.row_stride;
    switch (l.type) {
      case DevType::F16: {
        tmp.resize(K);
        dequantize_row(w.dtype, src, tmp.data(), K);
        for (int64_t i = 0; i < K; ++i) {
          if (!(std::fabs(tmp[i]) <= 65504.0f))
            fail("cuda: weight '{}' holds {} at row {}, column {}: beyond the f16 range the CUDA backend keeps "
                 "float weights in", w.name, tmp[i], r, i);
          const uint16_t h = f32_to_fp16(tmp[i]);
          std::memcpy(dst + 2 * i, &h, 2);
        }
        break;
      }
      case DevType::Q8_0: {
        uint8_t* d = dst + Kp;
        for (int64_t b = 0; b < K / 32; ++b) {
          std::memcpy(d + 2 * b, src + b * kQ80Block, 2);
          std::memcpy(dst + 32 * b, src + b * kQ80Block + 2, 32);
        }
        break;
      }
      case DevType::Q4_0: {
        uint8_t* d = dst + Kp / 2;
        for (int64_t b = 0; b < K / 32; ++b) {
          std::memcpy(d + 2 * b, src + b * kQ40Block, 2);
          std::memcpy(dst + 16 * b, src + b * kQ40Block + 2, 16);
        }
        break;
      }
      case DevType::MXFP4: {
        uint8_t* e = dst + Kp / 2;
        for (int64_t b = 0; b < K / 32; ++b) {
          e[b] = src[b * kMxfp4Block];
          std::memcpy(dst + 16 * b, src + b * kMxfp4Block + 1, 16);
        }
        break;
      }
      case DevType::Q4_K:
      case DevType::Q5_K: std::memcpy(dst, src, src_stride); break;
      case DevType::Q6_K: {
        uint8_t* d = dst + Kp / 256 * kQ6KNoD;
        for (int64_t b = 0; b < K / 256; ++b) {
          std::memcpy(dst + b * kQ6KNoD, src + b * kQ6KBlock, kQ6KNoD);
          std::memcpy(d + 2 * b, src + b * kQ6KBlock + kQ6KNoD, 2);
        }
        break;
      }
    }
  }
  return out;
}

void dequantize_device_row(const DeviceLayout& l, const uint8_t* row, float* out) {
  const int64_t K = l.cols, Kp = l.cols_padded;
  uint8_t block[kQ6KBlock];
  switch (l.type) {
    case DevType::F16:
      for (int64_t i = 0; i < K; ++i) {
        uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        out[i] = fp16_to_f32(h);
      }
      return;
    case DevType::Q8_0:
      for (int64_t b = 0; b < K / 32; ++b) {
        std::memcpy(block, row + Kp + 2 * b, 2);
        std::memcpy(block + 2, row + 32 * b, 32);
        dequantize_row(DType::Q8_0, block, out + 32 * b, 32);
      }
      return;
    case DevType::Q4_0:
      for (int64_t b = 0; b < K / 32; ++b) {
        std::memcpy(block, row + Kp / 2 + 2 * b, 2);
        std::memcpy(block + 2, row + 16 * b, 16);
        dequantize_row(DType::Q4_0, block, out + 32 * b, 32);
      }
      return;
    case DevType::MXFP4:
      for (int64_t b = 0; b < K / 32; ++b) {
        block[0] = row[Kp / 2 + b];
        std::memcpy(block + 1, row + 16 * b, 16);
        dequantize_row(DType::MXFP4, block, out + 32 * b, 32);
      }
      return;
    case DevType::Q4_K: dequantize_row(DType::Q4_K, row, out, K); return;
    case DevType::Q5_K: dequantize_row(DType::Q5_K, row, out, K); return;
    case DevType::Q6_K:
      for (int64_t b = 0; b < K / 256; ++b) {
        std::memcpy(block, row + b * kQ6KNoD, kQ6KNoD);
        std::memcpy(block + kQ6KNoD, row + Kp / 256 * kQ6KNoD + 2 * b, 2);
        dequantize_row(DType::Q6_K, block, out + 256 * b, 256);
      }
      return;
  }
}

}  // namespace ax::cuda
