#include "tokenizer/jinja/value.h"

#include <charconv>
#include <cmath>
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {

void runtime_fail(std::string why) { throw RuntimeError(std::move(why)); }

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.data_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}
Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.data_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.data_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::Float;
  v.data_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.data_ = std::make_shared<const std::string>(std::move(s));
  return v;
}
Value Value::list(std::vector<Value> items, bool is_tuple) {
  Value v;
  v.kind_ = Kind::List;
  auto obj = std::make_shared<ListObj>();
  obj->items = std::move(items);
  obj->is_tuple = is_tuple;
  for (const auto& item : obj->items) obj->depth = std::max(obj->depth, item.depth() + 1);
  if (obj->depth > kMaxValueDepth) runtime_fail("value nested too deeply");
  v.data_ = std::move(obj);
  return v;
}
Value Value::generator(std::vector<Value> items) {
  Value v = list(std::move(items));
  std::get<std::shared_ptr<ListObj>>(v.data_)->is_generator = true;
  return v;
}

Value Value::failed_generator(std::string error) {
  Value v = generator({});
  std::get<std::shared_ptr<ListObj>>(v.data_)->pending_error = std::move(error);
  return v;
}

Value Value::dict(std::shared_ptr<DictObj> d) {
  Value v;
  v.kind_ = Kind::Dict;
  v.data_ = d ? std::move(d) : std::make_shared<DictObj>();
  return v;
}
Value Value::namespace_obj(std::shared_ptr<DictObj> d) {
  Value v = dict(std::move(d));
  v.kind_ = Kind::Namespace;
  return v;
}
Value Value::function(std::string name, std::function<Value(CallArgs&)> fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.data_ = std::make_shared<Function>(Function{std::move(name), std::move(fn)});
  return v;
}

int64_t Value::as_int() const {
  if (kind_ == Kind::Bool) return std::get<bool>(data_) ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (kind_ == Kind::Float) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

const std::string& Value::str() const {
  static const std::string empty;
  auto* p = std::get_if<std::shared_ptr<const std::string>>(&data_);
  return (p && *p) ? **p : empty;
}

const void* Value::identity() const {
  switch (kind_) {
    case Kind::List: return std::get<std::shared_ptr<ListObj>>(data_).get();
    case Kind::Dict:
    case Kind::Namespace: return std::get<std::shared_ptr<DictObj>>(data_).get();
    case Kind::Function: return std::get<std::shared_ptr<Function>>(data_).get();
    default: return nullptr;
  }
}

uint32_t Value::depth() const {
  switch (kind_) {
    case Kind::List: return list_obj().depth;
    case Kind::Dict:
    case Kind::Namespace: return std::get<std::shared_ptr<DictObj>>(data_)->depth();
    default: return 0;
  }
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return std::get<bool>(data_);
    case Kind::Int: return std::get<int64_t>(data_) != 0;
    case Kind::Float: return std::get<double>(data_) != 0.0;
    case Kind::String: return !str().empty();
    case Kind::List: return is_generator() || !items().empty();
    case Kind::Dict: return dict_obj().size() != 0;
    default: return true;
  }
}

void Value::require_defined() const {
  if (kind_ != Kind::Undefined) return;
  runtime_fail(str().empty() ? "a value is undefined" : str());
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return list_obj().is_generator ? "generator" : list_obj().is_tuple ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Function: return "function";
  }
  return "?";
}

// Strings are their own key (so lookups by name need no allocation); every other type, and
// strings that begin with \x01, get a \x01-prefixed tag.
std::string hash_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String:
      if (!key.str().empty() && key.str()[0] == '\x01') return "\x01s" + key.str();
      return key.str();
    case Value::Kind::Bool:
    case Value::Kind::Int: return "\x01i" + std::to_string(key.as_int());
    case Value::Kind::Float: {
      double d = key.as_double();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)
        return "\x01i" + std::to_string(static_cast<int64_t>(d));
      return "\x01f" + float_repr(d);
    }
    case Value::Kind::None: return "\x01n";
    case Value::Kind::List:
      if (key.list_obj().is_tuple) {
        std::string k = "\x01t(";
        for (const auto& item : key.items()) k += hash_key(item) + ",";
        return k + ")";
      }
      break;
    case Value::Kind::Undefined: return "\x01u";  // jinja2's Undefined is hashable (and never a JSON key)
    default: break;
  }
  runtime_fail(fmt::format("unhashable type: '{}'", key.type_name()));
}

namespace {

// Python dict key equality for hashable values (1 == 1.0 == True share a slot).
bool same_key(const Value& a, const Value& b) {
  if (a.is_string() && b.is_string()) return a.str() == b.str();
  if (a.is_string() != b.is_string()) return false;
  return hash_key(a) == hash_key(b);
}

}  // namespace

const Value* DictObj::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.str()));
  std::string h = hash_key(key);  // also rejects unhashable keys
  if (index_.empty()) {
    for (const auto& [k, v] : items_)
      if (!k.is_string() && hash_key(k) == h) return &v;
    return nullptr;
  }
  auto it = index_.find(h);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

const Value* DictObj::find(std::string_view key) const {
  if (index_.empty()) {
    for (const auto& [k, v] : items_)
      if (k.is_string() && k.str() == key) return &v;
    return nullptr;
  }
  auto it = !key.empty() && key[0] == '\x01' ? index_.find("\x01s" + std::string(key)) : index_.find(key);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

void DictObj::append_unique(const Value& key, Value value) {
  uint32_t d = std::max(key.depth(), value.depth()) + 1;
  if (d > kMaxValueDepth) runtime_fail("value nested too deeply");
  depth_ = std::max(depth_, d);
  items_.emplace_back(key, std::move(value));
  if (!index_.empty()) {
    index_.emplace(hash_key(key), items_.size() - 1);
  } else if (items_.size() >= kIndexFrom) {
    for (size_t i = 0; i < items_.size(); ++i) index_.emplace(hash_key(items_[i].first), i);
  }
}

void DictObj::set(const Value& key, Value value) {
  uint32_t d = std::max(key.depth(), value.depth()) + 1;
  if (d > kMaxValueDepth) runtime_fail("value nested too deeply");
  depth_ = std::max(depth_, d);
  if (index_.empty()) {
    if (!key.is_string()) hash_key(key);  // rejects unhashable keys
    for (auto& [k, v] : items_)
      if (same_key(k, key)) {
        v = std::move(value);
        return;
      }
    items_.emplace_back(key, std::move(value));
    if (items_.size() >= kIndexFrom)
      for (size_t i = 0; i < items_.size(); ++i) index_.emplace(hash_key(items_[i].first), i);
    return;
  }
  auto [it, inserted] = index_.emplace(hash_key(key), items_.size());
  if (inserted) {
    items_.emplace_back(key, std::move(value));
  } else {
    items_[it->second].second = std::move(value);
  }
}

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      // Python compares int and float exactly; int64 -> double is exact below 2^53.
      if (a.is_float() && b.is_float()) return a.as_double() == b.as_double();
      const Value& f = a.is_float() ? a : b;
      const Value& i = a.is_float() ? b : a;
      double d = f.as_double();
      if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) >= 9.2e18) return false;
      return static_cast<int64_t>(d) == i.as_int();
    }
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::Undefined:
    case K::None: return true;
    case K::String: return a.str() == b.str();
    case K::List: {
      if (a.is_generator() || b.is_generator()) return a.identity() == b.identity();
      if (a.list_obj().is_tuple != b.list_obj().is_tuple) return false;
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case K::Dict: {
      const auto& x = a.dict_obj();
      const auto& y = b.dict_obj();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.items()) {
        const Value* other = y.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's layout: fixed notation when the decimal point
  // falls within -4 < decpt <= 16, scientific otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits.push_back(c);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int decpt = exp + 1;
  std::string out = neg ? "-" : "";
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
  } else if (decpt <= 0) {
    out += "0." + std::string(-decpt, '0') + digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits + std::string(decpt - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  return out;
}

std::string repr_string(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8::next(s, i);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0xDC80 && c <= 0xDCFF) {
      out += fmt::format("\\udc{:02x}", static_cast<unsigned>(c - 0xDC00));
    } else if (!utf8::is_printable(c)) {
      if (c < 0x100) out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
      else if (c < 0x10000) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      else out += fmt::format("\\U{:08x}", static_cast<unsigned>(c));
    } else {
      utf8::append(out, c);
    }
  }
  out += quote;
  return out;
}

namespace {

void repr_into(std::string& out, const Value& v, bool top);

void seq_into(std::string& out, const Value& v) {
  const auto& items = v.items();
  bool tuple = v.list_obj().is_tuple;
  out += tuple ? '(' : '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    repr_into(out, items[i], false);
  }
  if (tuple && items.size() == 1) out += ',';
  out += tuple ? ')' : ']';
}

void dict_into(std::string& out, const DictObj& d) {
  out += '{';
  bool first = true;
  for (const auto& [k, val] : d.items()) {
    if (!first) out += ", ";
    first = false;
    repr_into(out, k, false);
    out += ": ";
    repr_into(out, val, false);
  }
  out += '}';
}

void repr_into(std::string& out, const Value& v, bool top) {
  switch (v.kind()) {
    case Value::Kind::Undefined: out += top ? "" : "Undefined"; return;
    case Value::Kind::None: out += "None"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "True" : "False"; return;
    case Value::Kind::Int: out += std::to_string(v.as_int()); return;
    case Value::Kind::Float: out += float_repr(v.as_double()); return;
    case Value::Kind::String: out += top ? v.str() : repr_string(v.str()); return;
    case Value::Kind::List:
      if (v.is_generator()) {
        out += "<generator object>";  // Python adds an address; no template can rely on it
        return;
      }
      seq_into(out, v);
      return;
    case Value::Kind::Dict: dict_into(out, v.dict_obj()); return;
    case Value::Kind::Namespace:
      out += "<Namespace ";
      dict_into(out, v.namespace_storage());
      out += ">";
      return;
    case Value::Kind::Function: out += "<function " + v.function_obj().name + ">"; return;
  }
}

}  // namespace

std::string to_str(const Value& v) {
  if (v.is_string()) return v.str();
  std::string out;
  repr_into(out, v, true);
  return out;
}

std::string to_repr(const Value& v) {
  std::string out;
  repr_into(out, v, false);
  return out;
}

Value from_json(const nlohmann::ordered_json& j, uint32_t depth) {
  using T = nlohmann::ordered_json::value_t;
  if (depth >= kMaxValueDepth) runtime_fail("JSON input nested too deeply");
  switch (j.type()) {
    case T::null: return Value::none();
    case T::boolean: return Value::boolean(j.get<bool>());
    case T::number_integer: return Value::integer(j.get<int64_t>());
    case T::number_unsigned: {
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case T::number_float: return Value::number(j.get<double>());
    case T::string: return Value::string(j.get<std::string>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e, depth + 1));
      return Value::list(std::move(items));
    }
    case T::object: {
      auto d = std::make_shared<DictObj>();
      d->reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)  // JSON object keys are unique
        d->append_unique(Value::string(it.key()), from_json(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default: return Value::none();  // binary / discarded: not produced by JSON text
  }
}

}  // namespace ax::jinja
