#include "format/gguf.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

// GGUF layout (a file-format fact), all little-endian:
//   u32 magic "GGUF", u32 version (2 or 3), u64 tensor_count, u64 metadata_kv_count
//   metadata_kv_count x { string key, u32 value_type, value }
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the data section; tensor offsets are
//   relative to the data section and multiples of the alignment.
// string = u64 length + bytes (no terminator); array = u32 element type, u64 count, elements.
namespace ax {

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "UINT8";
    case GgufType::I8: return "INT8";
    case GgufType::U16: return "UINT16";
    case GgufType::I16: return "INT16";
    case GgufType::U32: return "UINT32";
    case GgufType::I32: return "INT32";
    case GgufType::F32: return "FLOAT32";
    case GgufType::BOOL: return "BOOL";
    case GgufType::STRING: return "STRING";
    case GgufType::ARRAY: return "ARRAY";
    case GgufType::U64: return "UINT64";
    case GgufType::I64: return "INT64";
    case GgufType::F64: return "FLOAT64";
  }
  return "UNKNOWN";
}

int64_t GgufValue::as_int() const {
  if (auto* u = std::get_if<uint64_t>(&value)) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) fail("GGUF value {} does not fit in int64", *u);
    return static_cast<int64_t>(*u);
  }
  if (auto* i = std::get_if<int64_t>(&value)) return *i;
  if (auto* b = std::get_if<bool>(&value)) return *b ? 1 : 0;
  fail("GGUF value of type {} is not an integer", gguf_type_name(type));
}

double GgufValue::as_float() const {
  if (auto* d = std::get_if<double>(&value)) return *d;
  if (auto* u = std::get_if<uint64_t>(&value)) return static_cast<double>(*u);
  if (auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  fail("GGUF value of type {} is not a number", gguf_type_name(type));
}

bool GgufValue::as_bool() const {
  if (auto* b = std::get_if<bool>(&value)) return *b;
  fail("GGUF value of type {} is not a bool", gguf_type_name(type));
}

const std::string& GgufValue::as_string() const {
  if (auto* s = std::get_if<std::string>(&value)) return *s;
  fail("GGUF value of type {} is not a string", gguf_type_name(type));
}

const GgufArray& GgufValue::as_array() const {
  if (auto* a = std::get_if<GgufArray>(&value)) return *a;
  fail("GGUF value of type {} is not an array", gguf_type_name(type));
}

bool operator==(const GgufArray& a, const GgufArray& b) {
  return a.elem_type == b.elem_type && a.items == b.items;
}
bool operator==(const GgufValue& a, const GgufValue& b) { return a.type == b.type && a.value == b.value; }

// Reads the header from the mapped bytes. Every read is bounds-checked first, and every count is
// checked against the bytes left before anything is allocated for it, so a corrupt count cannot
// make us reserve gigabytes.
class GgufParser {
 public:
  explicit GgufParser(GgufFile& f)
      : f_(f), path_(f.file_->path()), data_(f.file_->data()), size_(f.file_->size()) {}

  void parse() {
    if (size_ < 4 || std::memcmp(data_, "GGUF", 4) != 0) fail("{}: not a GGUF file (bad magic)", path_);
    pos_ = 4;
    what_ = "the header";
    f_.version_ = u32();
    if (f_.version_ == 0x02000000u || f_.version_ == 0x03000000u)
      fail("{}: big-endian GGUF files are not supported", path_);
    if (f_.version_ != 2 && f_.version_ != 3)
      fail("{}: GGUF version {} is not supported (only 2 and 3)", path_, f_.version_);
    const uint64_t n_tensors = u64();
    const uint64_t n_kv = u64();
    // The smallest metadata entry is 8 (key length) + 4 (type) + 1 bytes; a tensor info is
    // 8 + 4 + 8 + 4 + 8 bytes.
    if (n_kv > left() / 13) fail("{}: metadata count {} is larger than the file can hold", path_, n_kv);

    for (uint64_t i = 0; i < n_kv; ++i) {
      what_ = fmt::format("metadata entry #{}", i);
      std::string key = str();
      what_ = fmt::format("metadata key '{}'", key);
      const uint32_t type = u32();
      GgufValue v = value(type, key, 0);
      if (!f_.metadata_.emplace(key, std::move(v)).second) fail("{}: metadata key '{}' appears twice", path_, key);
    }

    if (const GgufValue* a = f_.find("general.alignment")) {
      int64_t align = 0;
      try {
        align = a->as_int();
      } catch (const Error&) {
        fail("{}: metadata key 'general.alignment' has type {}, expected an integer", path_, gguf_type_name(a->type));
      }
      if (align <= 0 || align > (int64_t{1} << 30) || (align & (align - 1)) != 0)
        fail("{}: metadata key 'general.alignment' is {}, not a power of two", path_, align);
      f_.alignment_ = static_cast<size_t>(align);
    }

    if (n_tensors > left() / 32) fail("{}: tensor count {} is larger than the file can hold", path_, n_tensors);
    struct Info {
      TensorView view;
      uint64_t offset;
    };
    std::vector<Info> infos;
    infos.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      what_ = fmt::format("tensor info #{}", i);
      Info info;
      TensorView& t = info.view;
      t.name = str();
      what_ = fmt::format("tensor info '{}'", t.name);
      const uint32_t n_dims = u32();
      if (n_dims < 1 || n_dims > 4) fail("{}: tensor '{}' has {} dimensions (1 to 4 allowed)", path_, t.name, n_dims);
      std::vector<int64_t> ne(n_dims);
      for (auto& d : ne) {
        const uint64_t v = u64();
        if (v > static_cast<uint64_t>(INT64_MAX)) fail("{}: tensor '{}' has dimension {} out of range", path_, t.name, v);
        d = static_cast<int64_t>(v);
      }
      const uint32_t type_id = u32();
      info.offset = u64();
      const auto type = dtype_info(type_id);
      if (!type) fail("{}: tensor '{}' has unknown type id {}", path_, t.name, type_id);
      t.dtype = static_cast<DType>(type_id);
      if (ne[0] % type->block_size != 0)
        fail("{}: tensor '{}' rows of {} values are not a whole number of {} blocks ({} values each)",
             path_, t.name, ne[0], type->name, type->block_size);
      // Bytes = blocks per row * block bytes * rows, each step checked for overflow.
      uint64_t rows = 1;
      for (size_t d = 1; d < ne.size(); ++d) rows = mul(rows, static_cast<uint64_t>(ne[d]), t.name);
      const uint64_t nbytes = mul(mul(static_cast<uint64_t>(ne[0] / type->block_size), type->type_size, t.name), rows, t.name);
      mul(rows, static_cast<uint64_t>(ne[0]), t.name);  // numel must fit too
      t.nbytes = nbytes;
      t.shape.assign(ne.rbegin(), ne.rend());  // GGUF lists innermost first
      if (f_.tensor_index_.count(t.name)) fail("{}: tensor '{}' appears twice", path_, t.name);
      f_.tensor_index_[t.name] = infos.size();
      infos.push_back(std::move(info));
    }

    // The data section starts at the next multiple of the alignment.
    const uint64_t header_end = pos_;
    const uint64_t data_start = (header_end + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;
    f_.data_offset_ = data_start;
    if (n_tensors > 0 && data_start > size_)
      fail("{}: file ends at byte {} before the data section at byte {}", path_, size_, data_start);
    const uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;
    std::vector<std::pair<uint64_t, size_t>> spans;  // (offset, index) of non-empty tensors
    for (size_t i = 0; i < infos.size(); ++i) {
      Info& info = infos[i];
      TensorView& t = info.view;
      if (info.offset % f_.alignment_ != 0)
        fail("{}: tensor '{}' offset {} is not a multiple of the alignment {}", path_, t.name, info.offset, f_.alignment_);
      if (info.offset > data_size || t.nbytes > data_size - info.offset)
        fail("{}: tensor '{}' bytes [{}, {}) run past the end of the {}-byte data section", path_, t.name,
             info.offset, info.offset + t.nbytes, data_size);
      t.data = data_ + data_start + info.offset;
      if (t.nbytes > 0) spans.emplace_back(info.offset, i);
    }
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i) {
      const Info& prev = infos[spans[i - 1].second];
      if (spans[i].first < prev.offset + prev.view.nbytes)
        fail("{}: tensors '{}' and '{}' overlap in the data section", path_, prev.view.name,
             infos[spans[i].second].view.name);
    }
    f_.tensors_.reserve(infos.size());
    for (auto& info : infos) f_.tensors_.push_back(std::move(info.view));
  }

 private:
  static constexpr int kMaxDepth = 4;  // arrays of arrays nest at most this deep

  uint64_t left() const { return size_ - pos_; }
  void need(uint64_t n) {
    if (n > left()) fail("{}: file is truncated while reading {}", path_, what_);
  }
  template <typename T>
  T read() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // GGUF is little-endian, as are our targets
    pos_ += sizeof(T);
    return v;
  }
  uint32_t u32() { return read<uint32_t>(); }
  uint64_t u64() { return read<uint64_t>(); }
  std::string str() {
    const uint64_t n = u64();
    need(n);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  uint64_t mul(uint64_t a, uint64_t b, const std::string& tensor) const {
    if (a != 0 && b > static_cast<uint64_t>(INT64_MAX) / a) fail("{}: tensor '{}' size overflows", path_, tensor);
    return a * b;
  }
  static uint64_t min_bytes(GgufType t) {
    switch (t) {
      case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
      case GgufType::U16: case GgufType::I16: return 2;
      case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
      case GgufType::U64: case GgufType::I64: case GgufType::F64: case GgufType::STRING: return 8;
      case GgufType::ARRAY: return 12;
    }
    return 1;
  }

  GgufValue value(uint32_t type_id, const std::string& key, int depth) {
    if (type_id > static_cast<uint32_t>(GgufType::F64))
      fail("{}: metadata key '{}' has unknown value type {}", path_, key, type_id);
    GgufValue v;
    v.type = static_cast<GgufType>(type_id);
    switch (v.type) {
      case GgufType::U8: v.value = uint64_t{read<uint8_t>()}; break;
      case GgufType::U16: v.value = uint64_t{read<uint16_t>()}; break;
      case GgufType::U32: v.value = uint64_t{read<uint32_t>()}; break;
      case GgufType::U64: v.value = read<uint64_t>(); break;
      case GgufType::I8: v.value = int64_t{read<int8_t>()}; break;
      case GgufType::I16: v.value = int64_t{read<int16_t>()}; break;
      case GgufType::I32: v.value = int64_t{read<int32_t>()}; break;
      case GgufType::I64: v.value = read<int64_t>(); break;
      case GgufType::F32: v.value = double{read<float>()}; break;
      case GgufType::F64: v.value = read<double>(); break;
      case GgufType::BOOL: {
        const uint8_t b = read<uint8_t>();
        if (b > 1) fail("{}: metadata key '{}' holds bool byte {} (0 or 1 allowed)", path_, key, b);
        v.value = b == 1;
        break;
      }
      case GgufType::STRING: v.value = str(); break;
      case GgufType::ARRAY: {
        if (depth >= kMaxDepth) fail("{}: metadata key '{}' nests arrays deeper than {}", path_, key, kMaxDepth);
        GgufArray arr;
        const uint32_t elem = u32();
        if (elem > static_cast<uint32_t>(GgufType::F64))
          fail("{}: metadata key '{}' is an array of unknown type {}", path_, key, elem);
        arr.elem_type = static_cast<GgufType>(elem);
        const uint64_t count = u64();
        if (count > left() / min_bytes(arr.elem_type))
          fail("{}: metadata key '{}' array count {} is larger than the file can hold", path_, key, count);
        arr.items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) arr.items.push_back(value(elem, key, depth + 1));
        v.value = std::move(arr);
        break;
      }
    }
    return v;
  }

  GgufFile& f_;
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string what_;
};

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto f = std::unique_ptr<GgufFile>(new GgufFile());
  f->file_ = std::make_unique<MappedFile>(path);
  GgufParser(*f).parse();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::open_memory(const uint8_t* data, size_t size, const std::string& name) {
  auto f = std::unique_ptr<GgufFile>(new GgufFile());
  f->file_ = MappedFile::borrow(data, size, name);
  GgufParser(*f).parse();
  return f;
}

const std::string& GgufFile::path() const { return file_->path(); }

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorView* GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
template <typename F>
auto typed(const GgufFile& f, const std::string& key, const char* want, F get) {
  const GgufValue* v = f.find(key);
  if (!v) fail("{}: metadata key '{}' is missing", f.path(), key);
  try {
    return get(*v);
  } catch (const Error&) {
    fail("{}: metadata key '{}' has type {}, expected {}", f.path(), key, gguf_type_name(v->type), want);
  }
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  return typed(*this, key, "a string", [](const GgufValue& v) { return v.as_string(); });
}
std::string GgufFile::get_string_or(const std::string& key, const std::string& def) const {
  return find(key) ? get_string(key) : def;
}
int64_t GgufFile::get_int(const std::string& key) const {
  return typed(*this, key, "an integer", [](const GgufValue& v) { return v.as_int(); });
}
int64_t GgufFile::get_int_or(const std::string& key, int64_t def) const {
  return find(key) ? get_int(key) : def;
}
double GgufFile::get_float_or(const std::string& key, double def) const {
  return find(key) ? typed(*this, key, "a number", [](const GgufValue& v) { return v.as_float(); }) : def;
}

}  // namespace ax
