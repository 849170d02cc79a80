#include "format/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "util/error.h"

namespace ax {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Largest header we accept: real headers are a few hundred KiB even for thousands of tensors;
// the bound keeps a corrupt length from making the JSON parser chew on gigabytes.
constexpr uint64_t kMaxHeaderBytes = uint64_t{256} << 20;

// a * b, or false on uint64 overflow.
bool mul_checked(uint64_t a, uint64_t b, uint64_t& out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  out = a * b;
  return true;
}

}  // namespace

std::optional<DType> safetensors_dtype(const std::string& s) {
  static const std::map<std::string, DType> kMap = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
      {"I8", DType::I8},   {"I16", DType::I16}, {"I32", DType::I32},   {"I64", DType::I64},
      {"U8", DType::U8},
  };
  auto it = kMap.find(s);
  if (it == kMap.end()) return std::nullopt;
  return it->second;
}

SafetensorsFile::SafetensorsFile(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile(std::make_unique<MappedFile>(path)));
  f->parse();
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open_memory(const uint8_t* data, size_t size,
                                                              const std::string& name) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile(MappedFile::borrow(data, size, name)));
  f->parse();
  return f;
}

const TensorView* SafetensorsFile::tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::parse() {
  const std::string& path = file_->path();
  const uint8_t* base = file_->data();
  const uint64_t file_size = file_->size();
  if (file_size < 8) fail("{}: file is {} bytes, too short for a safetensors header", path, file_size);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];
  if (header_len > file_size - 8)
    fail("{}: header length {} runs past the end of the {}-byte file", path, header_len, file_size);
  if (header_len > kMaxHeaderBytes)
    fail("{}: header length {} exceeds the {}-byte limit", path, header_len, kMaxHeaderBytes);
  const uint8_t* data = base + 8 + header_len;
  const uint64_t data_size = file_size - 8 - header_len;

  json header;
  try {
    header = json::parse(base + 8, base + 8 + header_len);
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON ({})", path, e.what());
  }
  if (!header.is_object()) fail("{}: header is not a JSON object", path);

  struct Span {
    uint64_t begin, end;
    size_t tensor;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("{}: __metadata__ is not an object", path);
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail("{}: __metadata__ value '{}' is not a string", path, k);
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) fail("{}: tensor '{}' entry is not an object", path, name);
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string()) fail("{}: tensor '{}' has no string dtype", path, name);
    if (sh == entry.end() || !sh->is_array()) fail("{}: tensor '{}' has no shape array", path, name);
    if (off == entry.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      fail("{}: tensor '{}' data_offsets is not a pair of non-negative integers", path, name);

    TensorView t;
    t.name = name;
    auto dtype = safetensors_dtype(dt->get<std::string>());
    if (!dtype) fail("{}: tensor '{}' has unsupported dtype '{}'", path, name, dt->get<std::string>());
    t.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) fail("{}: tensor '{}' shape holds a non-negative-integer entry", path, name);
      uint64_t v = d.get<uint64_t>();
      if (v > uint64_t{INT64_MAX} || !mul_checked(numel, v, numel))
        fail("{}: tensor '{}' shape overflows", path, name);
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const uint64_t begin = (*off)[0].get<uint64_t>();
    const uint64_t end = (*off)[1].get<uint64_t>();
    if (begin > end || end > data_size)
      fail("{}: tensor '{}' data_offsets [{}, {}] fall outside the {}-byte data section", path, name,
           begin, end, data_size);
    uint64_t want = 0;
    if (!mul_checked(numel, dtype_info(t.dtype).type_size, want) || want != end - begin)
      fail("{}: tensor '{}' has {} bytes but shape and dtype {} need {}", path, name, end - begin,
           dtype_name(t.dtype), want);
    t.data = data + begin;
    t.nbytes = end - begin;
    spans.push_back({begin, end, tensors_.size()});
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  // Two tensors sharing bytes means a corrupt or hand-crafted header.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  uint64_t covered_end = 0;  // end of the furthest-reaching non-empty span so far
  size_t covered_by = 0;
  for (const Span& s : spans) {
    if (s.begin == s.end) continue;  // empty tensors own no bytes
    if (s.begin < covered_end)
      fail("{}: tensors '{}' and '{}' overlap in the data section", path,
           tensors_[covered_by].name, tensors_[s.tensor].name);
    covered_end = s.end;
    covered_by = s.tensor;
  }
}

// ---------------------------------------------------------------------------------------------

const TensorView* SafetensorsModel::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::string SafetensorsModel::file_of(const std::string& name) const {
  auto it = file_index_.find(name);
  return it == file_index_.end() ? std::string() : files_[it->second]->path();
}

void SafetensorsModel::add_file(std::unique_ptr<SafetensorsFile> f,
                                const std::vector<std::string>* only) {
  const size_t idx = files_.size();
  for (const auto& t : f->tensors()) {
    auto prev = file_index_.find(t.name);
    if (prev != file_index_.end())
      fail("{}: tensor '{}' is also in {}", f->path(), t.name, files_[prev->second]->path());
    tensors_[t.name] = t;
    file_index_[t.name] = idx;
  }
  if (only) {
    for (const auto& name : *only)
      if (!f->tensor(name))
        fail("{}: tensor '{}' is listed in the index but missing from this shard", f->path(), name);
  }
  files_.push_back(std::move(f));
}

std::unique_ptr<SafetensorsModel> SafetensorsModel::open(const std::string& path) {
  auto m = std::make_unique<SafetensorsModel>();
  fs::path p(path);
  if (fs::is_directory(p)) {
    if (fs::exists(p / "model.safetensors.index.json")) {
      p = p / "model.safetensors.index.json";
    } else if (fs::exists(p / "model.safetensors")) {
      p = p / "model.safetensors";
    } else {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(p))
        if (e.path().extension() == ".safetensors") found.push_back(e.path());
      if (found.size() != 1)
        fail("{}: expected model.safetensors.index.json, model.safetensors or exactly one "
             "*.safetensors file, found {} .safetensors files", path, found.size());
      p = found[0];
    }
  }
  if (p.extension() != ".json") {
    m->add_file(SafetensorsFile::open(p.string()), nullptr);
    return m;
  }

  // Sharded: read the index, open each shard once, check it holds what the index says.
  std::ifstream in(p);
  if (!in) fail("{}: cannot open", p.string());
  json index;
  try {
    index = json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON ({})", p.string(), e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail("{}: has no weight_map object", p.string());
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) fail("{}: weight_map entry '{}' is not a file name", p.string(), name);
    by_shard[shard.get<std::string>()].push_back(name);
  }
  if (by_shard.empty()) fail("{}: weight_map is empty", p.string());
  const fs::path dir = p.parent_path();
  for (const auto& [shard, names] : by_shard) {
    const fs::path sp = dir / shard;
    if (!fs::exists(sp)) fail("{}: shard '{}' listed in the index does not exist", p.string(), shard);
    m->add_file(SafetensorsFile::open(sp.string()), &names);
  }
  return m;
}

}  // namespace ax
