#pragma once
// GGUF reader (versions 2 and 3): header, every metadata value type, tensor infos, alignment,
// tensor data used in place from the mmap. Everything is validated on open (magic, version,
// counts and string lengths against the file size, tensor offsets/sizes within the data section,
// alignment, known types, duplicate names); a bad file is an ax::Error naming the file and the key
// or tensor, never a crash or an out-of-bounds read.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "format/tensor.h"
#include "util/mapped_file.h"

namespace ax {

// GGUF metadata value type ids (a file-format fact).
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};

struct GgufValue;
const char* gguf_type_name(GgufType t);  // "UINT32", "STRING", ...

struct GgufArray {
  GgufType elem_type = GgufType::U8;
  std::vector<GgufValue> items;
};
struct GgufValue {
  GgufType type = GgufType::U8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;

  // Typed access; throws ax::Error when the type does not fit.
  int64_t as_int() const;      // any integer type (and bool)
  double as_float() const;     // any numeric type
  bool as_bool() const;
  const std::string& as_string() const;
  const GgufArray& as_array() const;
};

// Deep equality (type, element type and every value), for round-trip checks.
bool operator==(const GgufValue& a, const GgufValue& b);
bool operator==(const GgufArray& a, const GgufArray& b);

class GgufFile {
 public:
  static std::unique_ptr<GgufFile> open(const std::string& path);  // throws ax::Error
  // Parses bytes the caller keeps alive (fuzzers, tests); `name` stands in for the path.
  static std::unique_ptr<GgufFile> open_memory(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const;
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  // Convenience getters; the *_or forms return the default when the key is absent and throw when
  // it is present with the wrong type.
  std::string get_string(const std::string& key) const;
  std::string get_string_or(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int_or(const std::string& key, int64_t def) const;
  double get_float_or(const std::string& key, double def) const;

  // Tensors in file order, shapes outermost first (GGUF's ne reversed), data inside the mmap.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* tensor(const std::string& name) const;
  // Byte offset of the data section in the file (tensor offsets are relative to it).
  size_t data_offset() const { return data_offset_; }

 private:
  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::map<std::string, GgufValue> metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> tensor_index_;
  size_t data_offset_ = 0;
  friend class GgufParser;
};

}  // namespace ax
