#include "format/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "format/quantize.h"
#include "util/error.h"

namespace ax {
namespace {

constexpr size_t kDefaultAlignment = 32;
constexpr int64_t kFillChunkValues = int64_t{1} << 22;  // values per fill() call, about 16 MiB

template <typename T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof(T));  // GGUF is little-endian, as are we
}

void put_string(std::ostream& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

void pad_to(std::ostream& out, uint64_t& pos, size_t alignment) {
  static const char zeros[256] = {};
  uint64_t target = (pos + alignment - 1) / alignment * alignment;
  while (pos < target) {
    const uint64_t n = std::min<uint64_t>(sizeof zeros, target - pos);
    out.write(zeros, static_cast<std::streamsize>(n));
    pos += n;
  }
}

// A value must hold the variant alternative its type implies, within that type's range; arrays
// hold items of their element type.
void check_value(const std::string& key, const GgufValue& v) {
  auto bad = [&] { fail("GGUF writer: metadata key '{}' has a value that does not fit type {}", key, gguf_type_name(v.type)); };
  auto check_u = [&](uint64_t max) {
    const auto* u = std::get_if<uint64_t>(&v.value);
    if (!u || *u > max) bad();
  };
  auto check_i = [&](int64_t lo, int64_t hi) {
    const auto* i = std::get_if<int64_t>(&v.value);
    if (!i || *i < lo || *i > hi) bad();
  };
  switch (v.type) {
    case GgufType::U8: check_u(UINT8_MAX); break;
    case GgufType::U16: check_u(UINT16_MAX); break;
    case GgufType::U32: check_u(UINT32_MAX); break;
    case GgufType::U64: check_u(UINT64_MAX); break;
    case GgufType::I8: check_i(INT8_MIN, INT8_MAX); break;
    case GgufType::I16: check_i(INT16_MIN, INT16_MAX); break;
    case GgufType::I32: check_i(INT32_MIN, INT32_MAX); break;
    case GgufType::I64: check_i(INT64_MIN, INT64_MAX); break;
    case GgufType::F32:
    case GgufType::F64:
      if (!std::holds_alternative<double>(v.value)) bad();
      break;
    case GgufType::BOOL:
      if (!std::holds_alternative<bool>(v.value)) bad();
      break;
    case GgufType::STRING:
      if (!std::holds_alternative<std::string>(v.value)) bad();
      break;
    case GgufType::ARRAY: {
      const auto* a = std::get_if<GgufArray>(&v.value);
      if (!a) bad();
      for (const GgufValue& item : a->items) {
        if (item.type != a->elem_type)
          fail("GGUF writer: metadata key '{}' is an array of {} holding a {}", key, gguf_type_name(a->elem_type),
               gguf_type_name(item.type));
        check_value(key, item);
      }
      break;
    }
    default: bad();
  }
}

void put_value(std::ostream& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::U8: put<uint8_t>(out, static_cast<uint8_t>(std::get<uint64_t>(v.value))); break;
    case GgufType::U16: put<uint16_t>(out, static_cast<uint16_t>(std::get<uint64_t>(v.value))); break;
    case GgufType::U32: put<uint32_t>(out, static_cast<uint32_t>(std::get<uint64_t>(v.value))); break;
    case GgufType::U64: put<uint64_t>(out, std::get<uint64_t>(v.value)); break;
    case GgufType::I8: put<int8_t>(out, static_cast<int8_t>(std::get<int64_t>(v.value))); break;
    case GgufType::I16: put<int16_t>(out, static_cast<int16_t>(std::get<int64_t>(v.value))); break;
    case GgufType::I32: put<int32_t>(out, static_cast<int32_t>(std::get<int64_t>(v.value))); break;
    case GgufType::I64: put<int64_t>(out, std::get<int64_t>(v.value)); break;
    case GgufType::F32: put<float>(out, static_cast<float>(std::get<double>(v.value))); break;
    case GgufType::F64: put<double>(out, std::get<double>(v.value)); break;
    case GgufType::BOOL: put<uint8_t>(out, std::get<bool>(v.value) ? 1 : 0); break;
    case GgufType::STRING: put_string(out, std::get<std::string>(v.value)); break;
    case GgufType::ARRAY: {
      const GgufArray& a = std::get<GgufArray>(v.value);
      put<uint32_t>(out, static_cast<uint32_t>(a.elem_type));
      put<uint64_t>(out, a.items.size());
      for (const GgufValue& item : a.items) put_value(out, item);
      break;
    }
  }
}

GgufValue make(GgufType t, std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> v) {
  GgufValue g;
  g.type = t;
  g.value = std::move(v);
  return g;
}

}  // namespace

GgufWriter::GgufWriter(size_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (size_t{1} << 30))
    fail("GGUF writer: alignment {} is not a power of two", alignment);
  if (alignment != kDefaultAlignment) set_u32("general.alignment", static_cast<uint32_t>(alignment));
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  check_value(key, value);
  if (key == "general.alignment" && value.as_int() != static_cast<int64_t>(alignment_))
    fail("GGUF writer: general.alignment is set by the constructor ({})", alignment_);
  auto it = key_index_.find(key);
  if (it != key_index_.end()) {
    metadata_[it->second].second = std::move(value);
    return;
  }
  key_index_[key] = metadata_.size();
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::set_u8(const std::string& k, uint8_t v) { set(k, make(GgufType::U8, uint64_t{v})); }
void GgufWriter::set_i8(const std::string& k, int8_t v) { set(k, make(GgufType::I8, int64_t{v})); }
void GgufWriter::set_u16(const std::string& k, uint16_t v) { set(k, make(GgufType::U16, uint64_t{v})); }
void GgufWriter::set_i16(const std::string& k, int16_t v) { set(k, make(GgufType::I16, int64_t{v})); }
void GgufWriter::set_u32(const std::string& k, uint32_t v) { set(k, make(GgufType::U32, uint64_t{v})); }
void GgufWriter::set_i32(const std::string& k, int32_t v) { set(k, make(GgufType::I32, int64_t{v})); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) { set(k, make(GgufType::U64, v)); }
void GgufWriter::set_i64(const std::string& k, int64_t v) { set(k, make(GgufType::I64, v)); }
void GgufWriter::set_f32(const std::string& k, float v) { set(k, make(GgufType::F32, double{v})); }
void GgufWriter::set_f64(const std::string& k, double v) { set(k, make(GgufType::F64, v)); }
void GgufWriter::set_bool(const std::string& k, bool v) { set(k, make(GgufType::BOOL, v)); }
void GgufWriter::set_string(const std::string& k, const std::string& v) { set(k, make(GgufType::STRING, v)); }

void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& v) {
  GgufArray a;
  a.elem_type = GgufType::STRING;
  for (const auto& s : v) a.items.push_back(make(GgufType::STRING, s));
  set(k, make(GgufType::ARRAY, std::move(a)));
}
void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& v) {
  GgufArray a;
  a.elem_type = GgufType::I32;
  for (int32_t x : v) a.items.push_back(make(GgufType::I32, int64_t{x}));
  set(k, make(GgufType::ARRAY, std::move(a)));
}
void GgufWriter::set_bools(const std::string& k, const std::vector<bool>& v) {
  GgufArray a;
  a.elem_type = GgufType::BOOL;
  for (bool x : v) a.items.push_back(make(GgufType::BOOL, x));
  set(k, make(GgufType::ARRAY, std::move(a)));
}
void GgufWriter::set_f32s(const std::string& k, const std::vector<float>& v) {
  GgufArray a;
  a.elem_type = GgufType::F32;
  for (float x : v) a.items.push_back(make(GgufType::F32, double{x}));
  set(k, make(GgufType::ARRAY, std::move(a)));
}

void GgufWriter::remove(const std::string& key) {
  auto it = key_index_.find(key);
  if (it == key_index_.end()) return;
  metadata_.erase(metadata_.begin() + static_cast<std::ptrdiff_t>(it->second));
  key_index_.clear();
  for (size_t i = 0; i < metadata_.size(); ++i) key_index_[metadata_[i].first] = i;
}

void GgufWriter::copy_metadata(const GgufFile& src, const std::string& prefix) {
  for (const auto& [key, value] : src.metadata())
    if (key.rfind(prefix, 0) == 0 && key != "general.alignment") set(key, value);
}

GgufWriter::Tensor& GgufWriter::new_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape) {
  if (tensor_index_.count(name)) fail("GGUF writer: tensor '{}' added twice", name);
  if (shape.empty() || shape.size() > 4) fail("GGUF writer: tensor '{}' has {} dimensions (1 to 4 allowed)", name, shape.size());
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && numel > INT64_MAX / d)) fail("GGUF writer: tensor '{}' has a bad shape", name);
    numel *= d;
  }
  const DTypeInfo& info = dtype_info(type);
  if (shape.back() % info.block_size != 0)
    fail("GGUF writer: tensor '{}' rows of {} values are not a whole number of {} blocks", name, shape.back(), info.name);
  Tensor t;
  t.name = name;
  t.type = type;
  t.shape = shape;
  t.nbytes = shape.back() == 0 ? 0 : row_bytes(type, shape.back()) * static_cast<size_t>(numel / shape.back());
  tensor_index_[name] = tensors_.size();
  tensors_.push_back(std::move(t));
  return tensors_.back();
}

void GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape,
                            std::vector<uint8_t> bytes) {
  Tensor& t = new_tensor(name, type, shape);
  if (bytes.size() != t.nbytes) {
    const size_t want = t.nbytes;
    tensors_.pop_back();
    tensor_index_.erase(name);
    fail("GGUF writer: tensor '{}' has {} bytes, its shape and type {} need {}", name, bytes.size(), dtype_name(type), want);
  }
  t.bytes = std::move(bytes);
}

void GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape,
                            const std::vector<float>& values) {
  if (!can_quantize(type)) fail("GGUF writer: tensor '{}': no quantizer for type {}", name, dtype_name(type));
  Tensor& t = new_tensor(name, type, shape);
  const int64_t cols = shape.back();
  const int64_t rows = cols == 0 ? 0 : static_cast<int64_t>(values.size()) / cols;
  if (cols == 0 ? !values.empty() : (static_cast<int64_t>(values.size()) != rows * cols ||
                                     row_bytes(type, cols) * static_cast<size_t>(rows) != t.nbytes)) {
    tensors_.pop_back();
    tensor_index_.erase(name);
    fail("GGUF writer: tensor '{}' got {} values for its shape", name, values.size());
  }
  t.bytes = quantize(type, values.data(), rows, cols);
}

void GgufWriter::add_tensor_fill(const std::string& name, DType type, const std::vector<int64_t>& shape, Fill fill) {
  if (!can_quantize(type)) fail("GGUF writer: tensor '{}': no quantizer for type {}", name, dtype_name(type));
  new_tensor(name, type, shape).fill = std::move(fill);
}

void GgufWriter::add_tensor_view(const TensorView& src, const std::string& name) {
  Tensor& t = new_tensor(name, src.dtype, src.shape);
  if (t.nbytes != src.nbytes) {
    tensors_.pop_back();
    tensor_index_.erase(name);
    fail("GGUF writer: tensor view '{}' has {} bytes, expected {}", src.name, src.nbytes, t.nbytes);
  }
  t.view = src.data;
}

void GgufWriter::write(std::ostream& out) const {
  uint64_t pos = 0;
  std::ostringstream header;
  header.write("GGUF", 4);
  put<uint32_t>(header, 3);
  put<uint64_t>(header, tensors_.size());
  put<uint64_t>(header, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    put_string(header, key);
    put<uint32_t>(header, static_cast<uint32_t>(value.type));
    put_value(header, value);
  }
  uint64_t offset = 0;  // within the data section
  for (const Tensor& t : tensors_) {
    put_string(header, t.name);
    put<uint32_t>(header, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<uint64_t>(header, static_cast<uint64_t>(*it));
    put<uint32_t>(header, static_cast<uint32_t>(t.type));
    put<uint64_t>(header, offset);
    offset = (offset + t.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  const std::string h = std::move(header).str();
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  pos = h.size();
  pad_to(out, pos, alignment_);

  std::vector<float> values;
  std::vector<uint8_t> chunk;
  for (const Tensor& t : tensors_) {
    if (t.fill) {
      const int64_t cols = t.shape.back();
      const int64_t rows = cols == 0 ? 0 : static_cast<int64_t>(t.nbytes / row_bytes(t.type, cols));
      const int64_t step = std::max<int64_t>(1, kFillChunkValues / std::max<int64_t>(cols, 1));
      for (int64_t r = 0; r < rows; r += step) {
        const int64_t n = std::min(step, rows - r);
        values.assign(static_cast<size_t>(n * cols), 0.0f);
        t.fill(r, n, values.data());
        chunk.resize(row_bytes(t.type, cols) * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i)
          quantize_row(t.type, values.data() + i * cols, chunk.data() + i * row_bytes(t.type, cols), cols);
        out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
      }
    } else {
      const uint8_t* data = t.view ? t.view : t.bytes.data();
      out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(t.nbytes));
    }
    pos += t.nbytes;
    pad_to(out, pos, alignment_);
  }
}

void GgufWriter::write(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("{}: cannot open for writing", path);
  write(out);
  out.flush();
  if (!out) fail("{}: write failed", path);
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::ostringstream out;
  write(out);
  const std::string s = std::move(out).str();
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace ax
