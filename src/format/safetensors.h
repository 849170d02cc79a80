#pragma once
// Safetensors reader: one file, or a sharded checkpoint described by model.safetensors.index.json.
//
// File layout (a format fact): u64 little-endian header length N, then N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the data section; offsets are relative to the start of the data section.
//
// Everything is validated on open: header length against the file size, JSON syntax and field
// types, dtype known, data_offsets in range and equal to numel * element size, no two tensors
// sharing bytes. Tensors are views into the mmap (no copies). F32, F16 and BF16 are the weight
// types; the integer types and F64 are read too (reference files hold int32 token ids) but are not
// `supported` weight types (see dtype.h), so ModelSource::get rejects them.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format/tensor.h"
#include "util/mapped_file.h"

namespace ax {

class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);  // throws ax::Error
  // Parses bytes the caller keeps alive; `name` is used in error messages.
  static std::unique_ptr<SafetensorsFile> open_memory(const uint8_t* data, size_t size,
                                                      const std::string& name);

  const std::string& path() const { return file_->path(); }
  // Tensors in header order (nlohmann::json sorts keys, so: by name).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* tensor(const std::string& name) const;
  // The string-to-string "__metadata__" entry (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  explicit SafetensorsFile(std::unique_ptr<MappedFile> file);
  void parse();

  std::unique_ptr<MappedFile> file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a checkpoint: a single .safetensors file, or the shards listed by an index JSON
// ({"weight_map": {"tensor": "shard file"}}, shard paths relative to the index's folder).
class SafetensorsModel {
 public:
  // `path` is a folder (model.safetensors.index.json, else model.safetensors, else the only
  // *.safetensors file in it), an index .json file or a .safetensors file.
  static std::unique_ptr<SafetensorsModel> open(const std::string& path);

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* tensor(const std::string& name) const;
  // The file that holds a tensor (for error messages); empty when unknown.
  std::string file_of(const std::string& name) const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  void add_file(std::unique_ptr<SafetensorsFile> f, const std::vector<std::string>* only);

  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, size_t> file_index_;  // tensor -> files_ index
};

// Safetensors dtype string ("F32", "BF16", "I32", ...) -> DType; nullopt for one this engine does
// not read (U8, BOOL, F8_E4M3, ...).
std::optional<DType> safetensors_dtype(const std::string& s);

}  // namespace ax
