#include "tokenizer/jinja/ops.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {
namespace {

thread_local size_t g_size_limit = size_t{64} << 20;

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  a.require_defined();
  b.require_defined();
  runtime_fail(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name()));
}

void check_overflow(bool overflow) {
  if (overflow) runtime_fail("integer overflow (values are limited to 64 bits)");
}

Value repeat(const Value& seq, int64_t n) {
  if (seq.is_generator()) runtime_fail("unsupported operand type(s) for *: 'generator' and 'int'");
  if (n <= 0) return seq.is_string() ? Value::string("") : Value::list({}, seq.list_obj().is_tuple);
  if (seq.is_string()) {
    if (!seq.str().empty() && static_cast<size_t>(n) > value_size_limit() / seq.str().size())
      runtime_fail("string too large");
    std::string out;
    out.reserve(seq.str().size() * n);
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value::string(std::move(out));
  }
  const auto& items = seq.items();
  if (!items.empty() && static_cast<size_t>(n) > value_size_limit() / 16 / items.size())
    runtime_fail("list too large");
  std::vector<Value> out;
  out.reserve(items.size() * n);
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.list_obj().is_tuple);
}

int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floormod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double pymod(double a, double b) {
  double r = std::fmod(a, b);
  if (r == 0) return std::copysign(0.0, b);  // Python: a zero remainder takes the divisor's sign
  if ((r < 0) != (b < 0)) r += b;
  return r;
}

}  // namespace

void set_value_size_limit(size_t bytes) { g_size_limit = bytes; }
size_t value_size_limit() { return g_size_limit; }
void check_size(size_t size) {
  if (size > g_size_limit) runtime_fail(fmt::format("value too large ({} bytes, limit {})", size, g_size_limit));
}

std::optional<uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

size_t parse_size(std::string_view s, std::string_view what) {
  const auto v = parse_decimal(s);
  if (!v) runtime_fail(fmt::format("{} '{}' is not a number that fits", what, s));
  if (*v > value_size_limit()) runtime_fail(fmt::format("{} {} is too large (limit {})", what, *v, value_size_limit()));
  return static_cast<size_t>(*v);
}

Value binary_op(std::string_view op, const Value& a, const Value& b) {
  if (op == "~") {
    // jinja joins str() of both sides; an Undefined side prints as "".
    std::string s = to_str(a);
    s += to_str(b);
    check_size(s.size());
    return Value::string(std::move(s));
  }
  if (a.is_number() && b.is_number()) {
    bool ints = !a.is_float() && !b.is_float();
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int(), r = 0;
      if (op == "+") {
        check_overflow(__builtin_add_overflow(x, y, &r));
        return Value::integer(r);
      }
      if (op == "-") {
        check_overflow(__builtin_sub_overflow(x, y, &r));
        return Value::integer(r);
      }
      if (op == "*") {
        check_overflow(__builtin_mul_overflow(x, y, &r));
        return Value::integer(r);
      }
      if (op == "/") {
        if (y == 0) runtime_fail("division by zero");
        return Value::number(static_cast<double>(x) / static_cast<double>(y));
      }
      if (op == "//" || op == "%") {
        if (y == 0) runtime_fail(op == "//" ? "integer division by zero" : "integer modulo by zero");
        if (x == std::numeric_limits<int64_t>::min() && y == -1) runtime_fail("integer overflow (values are limited to 64 bits)");
        return Value::integer(op == "//" ? floordiv(x, y) : floormod(x, y));
      }
      if (op == "**") {
        if (y < 0) {
          if (x == 0) runtime_fail("0.0 cannot be raised to a negative power");
          return Value::number(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
        int64_t result = 1, base = x;
        while (y > 0) {
          if (y & 1) check_overflow(__builtin_mul_overflow(result, base, &result));
          y >>= 1;
          if (y > 0) check_overflow(__builtin_mul_overflow(base, base, &base));
        }
        return Value::integer(result);
      }
    } else {
      double x = a.as_double(), y = b.as_double();
      if (op == "+") return Value::number(x + y);
      if (op == "-") return Value::number(x - y);
      if (op == "*") return Value::number(x * y);
      if (op == "/") {
        if (y == 0) runtime_fail("float division by zero");
        return Value::number(x / y);
      }
      if (op == "//") {
        if (y == 0) runtime_fail("float floor division by zero");
        return Value::number(std::floor(x / y));
      }
      if (op == "%") {
        if (y == 0) runtime_fail("float modulo");
        return Value::number(pymod(x, y));
      }
      if (op == "**") {
        if (x == 0 && y < 0) runtime_fail("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(x, y));
      }
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_size(a.str().size() + b.str().size());
      return Value::string(a.str() + b.str());
    }
    if (a.is_list() && b.is_list() && a.list_obj().is_tuple == b.list_obj().is_tuple && !a.is_generator() &&
        !b.is_generator()) {
      check_size((a.items().size() + b.items().size()) * 16);
      std::vector<Value> items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(items), a.list_obj().is_tuple);
    }
    if (a.is_string() && b.kind() != Value::Kind::Undefined)
      runtime_fail(fmt::format("can only concatenate str (not \"{}\") to str", b.type_name()));
    if (a.is_list() && !a.list_obj().is_tuple && b.kind() != Value::Kind::Undefined)
      runtime_fail(fmt::format("can only concatenate list (not \"{}\") to list", b.type_name()));
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
  }
  if (op == "%" && a.is_string()) {
    if (b.is_list() && b.list_obj().is_tuple) return Value::string(percent_format(a.str(), b.items()));
    bool mapping_like = b.is_dict() || b.is_undefined() || (b.is_list() && !b.is_generator());
    return Value::string(percent_format(a.str(), {b}, mapping_like ? &b : nullptr));
  }
  unsupported(op, a, b);
}

Value negate(const Value& a) {
  if (a.is_float()) return Value::number(-a.as_double());
  if (a.is_int() || a.is_bool()) {
    if (a.as_int() == std::numeric_limits<int64_t>::min()) runtime_fail("integer overflow (values are limited to 64 bits)");
    return Value::integer(-a.as_int());
  }
  a.require_defined();
  runtime_fail(fmt::format("bad operand type for unary -: '{}'", a.type_name()));
}

bool less_than(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 order is code point order
  if (a.is_list() && b.is_list() && a.list_obj().is_tuple == b.list_obj().is_tuple && !a.is_generator() &&
      !b.is_generator()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  a.require_defined();
  b.require_defined();
  runtime_fail(fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string()) {
        item.require_defined();
        runtime_fail(fmt::format("'in <string>' requires string as left operand, not {}", item.type_name()));
      }
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& v : iterate(container))  // a failed generator raises here, as Python would
        if (equals(v, item)) return true;
      return false;
    case Value::Kind::Dict: return container.dict_obj().find(item) != nullptr;
    case Value::Kind::Undefined: return false;  // iterating an Undefined yields nothing
    default:
      runtime_fail(fmt::format("argument of type '{}' is not iterable", container.type_name()));
  }
}

Value compare_op(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return Value::boolean(equals(a, b));
  if (op == "!=") return Value::boolean(!equals(a, b));
  if (op == "<") return Value::boolean(less_than(a, b));
  if (op == ">") return Value::boolean(less_than(b, a));
  if (op == "<=") return Value::boolean(less_than(a, b) || equals(a, b));
  if (op == ">=") return Value::boolean(less_than(b, a) || equals(a, b));
  if (op == "in") return Value::boolean(contains(b, a));
  if (op == "notin") return Value::boolean(!contains(b, a));
  runtime_fail(fmt::format("unknown comparison '{}'", op));
}

std::string percent_format(const std::string& f, const std::vector<Value>& args, const Value* mapping) {
  std::string out;
  size_t next_arg = 0;
  Value named;
  bool use_named = false;
  auto take = [&]() -> const Value& {
    if (use_named) {
      use_named = false;
      return named;
    }
    if (next_arg >= args.size()) runtime_fail("not enough arguments for format string");
    return args[next_arg++];
  };
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out.push_back(f[i]);
      continue;
    }
    if (++i >= f.size()) runtime_fail("incomplete format");
    if (f[i] == '(') {  // %(name)s: a key of the mapping operand
      size_t close = f.find(')', i);
      if (close == std::string::npos) runtime_fail("incomplete format key");
      if (!mapping) runtime_fail("format requires a mapping");
      mapping->require_defined();
      if (!mapping->is_dict()) runtime_fail("format requires a mapping");
      const Value* v = mapping->dict_obj().find(Value::string(f.substr(i + 1, close - i - 1)));
      if (!v) runtime_fail(fmt::format("format key '{}' not found", f.substr(i + 1, close - i - 1)));
      named = *v;
      use_named = true;
      i = close + 1;
      if (i >= f.size()) runtime_fail("incomplete format");
    }
    // Flags, width and precision: [-+ 0#]*\d*(\.\d+)?
    std::string spec;
    while (i < f.size() && std::string_view("-+ 0#").find(f[i]) != std::string_view::npos) spec += f[i++];
    while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]))) spec += f[i++];
    if (i < f.size() && f[i] == '.') {
      spec += f[i++];
      while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]))) spec += f[i++];
    }
    if (i >= f.size()) runtime_fail("incomplete format");
    char conv = f[i];
    std::string piece;
    switch (conv) {
      case '%': out.push_back('%'); continue;
      case 's': piece = to_str(take()); break;
      case 'r': piece = to_repr(take()); break;
      case 'd':
      case 'i': {
        const Value& v = take();
        if (!v.is_number()) runtime_fail(fmt::format("%{} format: a real number is required, not {}", conv, v.type_name()));
        int64_t n = v.is_float() ? static_cast<int64_t>(v.as_double()) : v.as_int();
        piece = std::to_string(n);
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'g': {
        const Value& v = take();
        if (!v.is_number()) runtime_fail(fmt::format("%{} format: a real number is required, not {}", conv, v.type_name()));
        std::string cfmt = "%" + spec + conv;
        char buf[512];
        std::snprintf(buf, sizeof buf, cfmt.c_str(), v.as_double());
        out += buf;
        continue;
      }
      case 'x':
      case 'X':
      case 'o': {
        const Value& v = take();
        if (!v.is_int() && !v.is_bool()) runtime_fail(fmt::format("%{} format: an integer is required, not {}", conv, v.type_name()));
        std::string cfmt = "%" + spec + "ll" + conv;
        char buf[128];
        std::snprintf(buf, sizeof buf, cfmt.c_str(), static_cast<long long>(v.as_int()));
        out += buf;
        continue;
      }
      default: runtime_fail(fmt::format("unsupported format character '{}'", conv));
    }
    // Width / left-justify for %s, %r, %d.
    size_t width = 0;
    bool left = spec.find('-') != std::string::npos;
    bool zero = !left && spec.find('0') == 0 && (conv == 'd' || conv == 'i');
    size_t dot = spec.find('.');
    std::string digits_part;
    for (size_t k = 0; k < spec.size() && k < dot; ++k)
      if (std::isdigit(static_cast<unsigned char>(spec[k])) && !(digits_part.empty() && spec[k] == '0')) digits_part += spec[k];
    if (!digits_part.empty()) width = parse_size(digits_part, "format width");
    if (dot != std::string::npos && conv == 's') {
      size_t prec = parse_size("0" + spec.substr(dot + 1), "format precision");
      auto cps = utf8::decode(piece);
      if (cps.size() > prec) piece = utf8::encode(std::vector<char32_t>(cps.begin(), cps.begin() + prec));
    }
    size_t len = utf8::length(piece);
    if (len < width) {
      std::string pad(width - len, zero ? '0' : ' ');
      piece = left ? piece + pad : (zero && !piece.empty() && piece[0] == '-') ? "-" + pad + piece.substr(1) : pad + piece;
    }
    out += piece;
    check_size(out.size());
  }
  if (next_arg < args.size() && !mapping) runtime_fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace ax::jinja
