#pragma once
// Tensor element types, numbered as GGML numbers them (the GGUF on-disk ids). Quantized types
// store rows as a sequence of fixed-size blocks: `block_size` values in `type_size` bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ax {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
  MXFP4 = 39,  // OCP microscaling FP4 (gpt-oss experts): 32 E2M1 values with one E8M0 exponent
  // Not a GGML type (no GGUF id): safetensors' raw bytes, e.g. the MXFP4 blocks and scales of
  // gpt-oss's Hugging Face checkpoints, which an architecture converts at open.
  U8 = 0x10000,
};

struct DTypeInfo {
  std::string_view name;  // "Q4_K", as llama.cpp prints it
  int64_t block_size;     // values per block (1 for plain types)
  size_t type_size;       // bytes per block
  bool supported;         // this engine can dequantize / compute with it
};

// nullopt for an id GGML does not define (or that this engine does not know; U8 has none).
std::optional<DTypeInfo> dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
std::optional<DType> dtype_from_name(std::string_view name);  // "q4_k", "Q4_K", "BF16", ...

// Bytes of one row of n values; n must be a multiple of the block size (checked by callers that
// read files: a row that is not is a format error).
inline size_t row_bytes(DType t, int64_t n) {
  const auto& i = dtype_info(t);
  return static_cast<size_t>(n / i.block_size) * i.type_size;
}

}  // namespace ax
