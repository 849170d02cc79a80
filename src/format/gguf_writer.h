#pragma once
// GGUF writer (version 3): metadata of every value type, tensors of any type with their data
// aligned to general.alignment. What it writes, GgufFile reads back unchanged.
//
// Making a test model, e.g. random weights with a real tokenizer:
//   GgufWriter w;
//   w.set_string("general.architecture", "qwen3");
//   w.set_u32("qwen3.block_count", 28);  ...
//   w.copy_metadata(*GgufFile::open("vocab.gguf"), "tokenizer.");
//   w.add_tensor_fill("blk.0.attn_q.weight", DType::Q8_0, {2048, 1024},
//                     [&](int64_t row0, int64_t rows, float* v) { /* rows * 1024 values */ });
//   w.write("model.gguf");
// Tensor data given as a fill function is produced one tensor at a time while writing, so a
// model larger than RAM can be written.
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "format/gguf.h"

namespace ax {

class GgufWriter {
 public:
  explicit GgufWriter(size_t alignment = 32);

  // Metadata, written in insertion order; setting a key again replaces its value in place.
  void set(const std::string& key, GgufValue value);
  void set_u8(const std::string& key, uint8_t v);
  void set_i8(const std::string& key, int8_t v);
  void set_u16(const std::string& key, uint16_t v);
  void set_i16(const std::string& key, int16_t v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_i64(const std::string& key, int64_t v);
  void set_f32(const std::string& key, float v);
  void set_f64(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_bools(const std::string& key, const std::vector<bool>& v);
  void remove(const std::string& key);
  // Copies every key of `src` that starts with `prefix` ("tokenizer." copies the vocabulary,
  // merges, special ids and chat template); "" copies everything except general.alignment.
  void copy_metadata(const GgufFile& src, const std::string& prefix);

  // Tensors, written in insertion order. Shapes are outermost first (HF order); the file stores
  // them reversed. `bytes` must be exactly the size of `shape` in `type`.
  void add_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape,
                  std::vector<uint8_t> bytes);
  // float32 values converted/quantized to `type` (F32, F16, BF16, Q8_0, Q4_0, MXFP4).
  void add_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape,
                  const std::vector<float>& values);
  // Values produced on demand while writing, a few rows at a time (rows = numel / cols):
  // fill(first_row, n_rows, v) writes the n_rows * cols values of rows [first_row, first_row + n_rows).
  using Fill = std::function<void(int64_t first_row, int64_t n_rows, float* values)>;
  void add_tensor_fill(const std::string& name, DType type, const std::vector<int64_t>& shape, Fill fill);
  // A tensor viewed from another file (copied byte for byte when writing).
  void add_tensor_view(const TensorView& t, const std::string& name);

  void write(const std::string& path) const;  // throws ax::Error naming the path
  void write(std::ostream& out) const;
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    size_t nbytes = 0;
    std::vector<uint8_t> bytes;     // owned data, or
    Fill fill;                      // values produced while writing, or
    const uint8_t* view = nullptr;  // borrowed bytes
  };
  Tensor& new_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape);

  size_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> key_index_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace ax
