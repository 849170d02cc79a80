// jinja2's built-in filters, plus HF's tojson (json.dumps with ensure_ascii=False and no key
// sorting, unlike jinja2's own). Semantics follow jinja2 3.1 (sort/unique/dictsort ignore case
// by default, `default` only replaces Undefined unless boolean=true, `first` of an empty
// sequence is Undefined, ...).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tokenizer/jinja/json_dump.h"
#include "tokenizer/jinja/library.h"
#include "tokenizer/jinja/ops.h"
#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {

using Params = std::vector<std::string_view>;

std::string str_arg(const Value& v) { return to_str(v); }

namespace {

Value arg_or(const std::optional<Value>& v, Value fallback) { return v ? *v : std::move(fallback); }

// jinja2's make_attrgetter: "a.b.0" looks up each part with subscript semantics.
Value attr_path(const Value& obj, const Value& attribute) {
  if (attribute.is_int()) return get_item(obj, attribute);
  std::string path = to_str(attribute);
  Value cur = obj;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    // A number too large for an index looks up nothing, as the string it is.
    const auto index = numeric ? parse_decimal(part) : std::nullopt;
    cur = index && *index <= static_cast<uint64_t>(INT64_MAX) ? get_item(cur, Value::integer(static_cast<int64_t>(*index)))
                                                               : get_item(cur, Value::string(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value lower_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(utf8::lower(v.str()));
  return v;
}

int64_t py_len(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: return static_cast<int64_t>(utf8::length(v.str()));
    case Value::Kind::List:
      if (v.is_generator()) break;
      return static_cast<int64_t>(v.items().size());
    case Value::Kind::Dict: return static_cast<int64_t>(v.dict_obj().size());
    case Value::Kind::Undefined: return 0;
    default: break;
  }
  runtime_fail(fmt::format("object of type '{}' has no len()", v.type_name()));
}

std::optional<int64_t> parse_int(std::string s, int base) {
  s = utf8::strip(s, true, true);
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
        std::isalnum(static_cast<unsigned char>(s[i + 1])))
      continue;
    digits += s[i];
  }
  if (digits.empty()) return std::nullopt;
  size_t start = (digits[0] == '+' || digits[0] == '-') ? 1 : 0;
  if (base == 16 && digits.size() > start + 1 && digits[start] == '0' && (digits[start + 1] == 'x' || digits[start + 1] == 'X'))
    digits.erase(start, 2);
  if (digits.size() == start) return std::nullopt;
  for (size_t i = start; i < digits.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(digits[i])));
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c >= 'a' && c <= 'z') ? c - 'a' + 10 : 99;
    if (d >= base) return std::nullopt;
  }
  errno = 0;
  long long v = std::strtoll(digits.c_str(), nullptr, base);
  if (errno == ERANGE) runtime_fail("int: value out of 64-bit range");
  return v;
}

std::optional<double> parse_float(const std::string& text) {
  std::string s = utf8::strip(text, true, true);
  std::string lower = utf8::lower(s);
  std::string body = (!lower.empty() && (lower[0] == '+' || lower[0] == '-')) ? lower.substr(1) : lower;
  double sign = (!lower.empty() && lower[0] == '-') ? -1.0 : 1.0;
  if (body == "inf" || body == "infinity") return sign * INFINITY;
  if (body == "nan") return NAN;
  if (s.empty()) return std::nullopt;
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' || c == '_'))
      return std::nullopt;
  std::string clean;
  for (char c : s)
    if (c != '_') clean += c;
  char* end = nullptr;
  double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return v;
}

// jinja2's map/select/reject/selectattr/rejectattr/unique/batch/items are Python generators:
// their errors happen when the result is consumed, not when the filter is applied.
template <typename F>
Value lazily(F&& body) {
  try {
    return body();
  } catch (const RuntimeError& e) {
    return Value::failed_generator(e.what());
  }
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("default", Params{"default_value", "boolean"});
  bool boolean = b[1] && b[1]->truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return arg_or(b[0], Value::string(""));
  return v;
}

Value f_length(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("length", {});
  return Value::integer(py_len(v));
}

Value f_first(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("first", {});
  auto items = iterate(v);
  return items.empty() ? Value::undefined("no first item, sequence was empty") : items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("last", {});
  if (v.is_generator()) runtime_fail("'generator' object is not reversible");
  auto items = iterate(v);
  return items.empty() ? Value::undefined("no last item, sequence was empty") : items.back();
}

Value f_join(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("join", Params{"d", "attribute"});
  std::string sep = b[0] ? to_str(*b[0]) : "";
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(b[1] && !b[1]->is_none() ? attr_path(item, *b[1]) : item);
    check_size(out.size());
  }
  return Value::string(std::move(out));
}

Value f_list(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("list", {});
  return Value::list(iterate(v));
}

Value f_string(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("string", {});
  return Value::string(to_str(v));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("trim", Params{"chars"});
  if (!b[0] || b[0]->is_none()) return Value::string(utf8::strip(to_str(v), true, true));
  return Value::string(utf8::strip_chars(to_str(v), to_str(*b[0]), true, true));
}

Value f_upper(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("upper", {});
  return Value::string(utf8::upper(to_str(v)));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("lower", {});
  return Value::string(utf8::lower(to_str(v)));
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("capitalize", {});
  std::string out;
  bool first = true;
  std::string s = to_str(v);
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8::next(s, i);
    utf8::append(out, first ? utf8::to_upper(c) : utf8::to_lower(c));
    first = false;
  }
  return Value::string(std::move(out));
}

// jinja2's title: words begin after runs of whitespace, '-', '(', '{', '[' or '<'.
Value f_title(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("title", {});
  std::string s = to_str(v), out;
  bool word_start = true;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8::next(s, i);
    bool sep = utf8::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      utf8::append(out, c);
      word_start = true;
    } else {
      utf8::append(out, word_start ? utf8::to_upper(c) : utf8::to_lower(c));
      word_start = false;
    }
  }
  return Value::string(std::move(out));
}

Value f_replace(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("replace", Params{"old", "new", "count"});
  if (!b[0] || !b[1]) runtime_fail("replace() needs the old and new strings");
  auto m = find_method(Value::string(to_str(v)), "replace");
  CallArgs inner;
  inner.positional = {Value::string(to_str(*b[0])), Value::string(to_str(*b[1]))};
  if (b[2] && !b[2]->is_none()) inner.positional.push_back(*b[2]);
  return m->function_obj().call(inner);
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("int", Params{"default", "base"});
  Value fallback = arg_or(b[0], Value::integer(0));
  int base = b[1] ? static_cast<int>(b[1]->as_int()) : 10;
  v.require_defined();  // jinja2's Undefined fails in int()
  if (v.is_int()) return v;
  if (v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (auto i = parse_int(v.str(), base)) return Value::integer(*i);
    if (base == 10)
      if (auto d = parse_float(v.str()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18)
        return Value::integer(static_cast<int64_t>(*d));
  }
  return fallback;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("float", Params{"default"});
  Value fallback = arg_or(b[0], Value::number(0.0));
  v.require_defined();  // jinja2's Undefined fails in float()
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string())
    if (auto d = parse_float(v.str())) return Value::number(*d);
  return fallback;
}

Value f_abs(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("abs", {});
  if (v.is_float()) return Value::number(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) return v.as_int() < 0 ? negate(v) : Value::integer(v.as_int());
  v.require_defined();
  runtime_fail(fmt::format("bad operand type for abs(): '{}'", v.type_name()));
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("round", Params{"precision", "method"});
  int64_t precision = b[0] ? b[0]->as_int() : 0;
  std::string method = b[1] ? to_str(*b[1]) : "common";
  if (!v.is_number()) {
    v.require_defined();
    runtime_fail(fmt::format("round: a number is required, not {}", v.type_name()));
  }
  double x = v.as_double();
  if (precision < -300 || precision > 300) runtime_fail("round: precision out of range");
  if (method == "common" && !v.is_float()) {
    // Python's round() of an int stays an int: exact, ties to even.
    int64_t i = v.as_int();
    if (precision >= 0) return Value::integer(i);
    if (precision < -18) return Value::integer(0);
    int64_t scale = 1;
    for (int64_t k = 0; k < -precision; ++k) scale *= 10;
    int64_t q = i / scale, r = i % scale;
    if (r < 0) r += scale, --q;  // floor division
    if (2 * r > scale || (2 * r == scale && (q % 2 != 0))) ++q;
    return Value::integer(q * scale);
  }
  if (method == "common") {
    // Python rounds the exact binary value to nearest, ties to even: what printf does too.
    char buf[512];
    if (precision >= 0) {
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);
      return Value::number(std::strtod(buf, nullptr));
    }
    double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value::number(std::nearbyint(x / scale) * scale);
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "ceil") return Value::number(std::ceil(x * scale) / scale);
  if (method == "floor") return Value::number(std::floor(x * scale) / scale);
  runtime_fail("round: method must be 'common', 'ceil' or 'floor'");
}

Value f_items(Interpreter&, const Value& v, CallArgs& a) {
  return lazily([&]() -> Value {
    a.bind("items", {});
    if (v.is_undefined()) return Value::generator({});
    if (!v.is_dict()) runtime_fail(fmt::format("items: can only get item pairs from a mapping, not {}", v.type_name()));
    std::vector<Value> out;
    for (const auto& [k, val] : v.dict_obj().items()) out.push_back(Value::list({k, val}, true));
    return Value::generator(std::move(out));
  });
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("dictsort", Params{"case_sensitive", "by", "reverse"});
  bool cs = b[0] && b[0]->truthy();
  std::string by = b[1] ? to_str(*b[1]) : "key";
  bool reverse = b[2] && b[2]->truthy();
  if (by != "key" && by != "value") runtime_fail("dictsort: you can only sort by either 'key' or 'value'");
  if (!v.is_dict()) {
    v.require_defined();
    runtime_fail(fmt::format("dictsort: a mapping is required, not {}", v.type_name()));
  }
  std::vector<Value> pairs;
  for (const auto& [k, val] : v.dict_obj().items()) pairs.push_back(Value::list({k, val}, true));
  int pos = by == "key" ? 0 : 1;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    Value kx = lower_key(x.items()[pos], cs), ky = lower_key(y.items()[pos], cs);
    return reverse ? less_than(ky, kx) : less_than(kx, ky);
  });
  return Value::list(std::move(pairs));
}

Value f_sort(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("sort", Params{"reverse", "case_sensitive", "attribute"});
  return Value::list(sorted_values(iterate(v), b[1] && b[1]->truthy(), b[0] && b[0]->truthy(),
                                   b[2] && !b[2]->is_none() ? to_str(*b[2]) : ""));
}

Value f_unique(Interpreter&, const Value& v, CallArgs& a) {
  return lazily([&]() -> Value {
    auto b = a.bind("unique", Params{"case_sensitive", "attribute"});
    bool cs = b[0] && b[0]->truthy();
    std::vector<Value> out, seen;
    for (const auto& item : iterate(v)) {
      Value key = lower_key(b[1] && !b[1]->is_none() ? attr_path(item, *b[1]) : item, cs);
      bool dup = false;
      for (const auto& s : seen)
        if (equals(s, key)) dup = true;
      if (dup) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return Value::generator(std::move(out));
  });
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("reverse", {});
  if (v.is_string()) {
    auto cps = utf8::decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value::string(utf8::encode(cps));
  }
  // Python's reversed(): an iterator (true in `if`, no len()); Undefined reverses to nothing.
  auto items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::generator(std::move(items));
}

// Shared by map/select/reject: call a filter or test by name with the remaining arguments.
CallArgs rest_args(const CallArgs& a, size_t from) {
  CallArgs r;
  r.interp = a.interp;
  for (size_t i = from; i < a.positional.size(); ++i) r.positional.push_back(a.positional[i]);
  r.keyword = a.keyword;
  return r;
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&]() -> Value {
    std::vector<Value> out;
    if (!v.truthy()) return Value::generator({});  // jinja2: `if value:` before iterating
  bool by_attribute = a.positional.empty();
    for (const auto& [k, val] : a.keyword)
      if (k == "attribute") by_attribute = true;
    if (by_attribute) {
      auto b = a.bind("map", Params{"attribute", "default"});
      if (!b[0]) runtime_fail("map: needs a filter name or attribute=");
      for (const auto& item : iterate(v)) {
        in.step();
        Value got = attr_path(item, *b[0]);
        out.push_back(got.is_undefined() && b[1] ? *b[1] : got);
      }
      return Value::generator(std::move(out));
    }
    std::string name = to_str(a.positional[0]);
    CallArgs rest = rest_args(a, 1);
    for (const auto& item : iterate(v)) {
      in.step();
      CallArgs copy = rest;
      out.push_back(in.apply_filter(name, item, copy));
    }
    return Value::generator(std::move(out));
  });
}

Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool keep, bool by_attr) {
  std::vector<Value> out;
  if (!v.truthy()) return Value::generator({});  // jinja2: `if value:` before iterating
  size_t next = 0;
  Value attribute;
  if (by_attr) {
    if (a.positional.empty()) runtime_fail("selectattr/rejectattr need an attribute name");
    attribute = a.positional[next++];
  }
  std::string test = next < a.positional.size() ? to_str(a.positional[next++]) : "";
  CallArgs rest = rest_args(a, next);
  for (const auto& item : iterate(v)) {
    in.step();
    Value subject = by_attr ? attr_path(item, attribute) : item;
    bool ok;
    if (test.empty()) {
      ok = subject.truthy();
    } else {
      CallArgs copy = rest;
      ok = in.apply_test(test, subject, copy);
    }
    if (ok == keep) out.push_back(item);
  }
  return Value::generator(std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&] { return select_impl(in, v, a, true, false); });
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&] { return select_impl(in, v, a, false, false); });
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&] { return select_impl(in, v, a, true, true); });
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return lazily([&] { return select_impl(in, v, a, false, true); });
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
  // HF: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
  auto b = a.bind("tojson", Params{"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions o;
  o.ensure_ascii = b[0] && b[0]->truthy();
  if (b[1] && !b[1]->is_none()) {
    if (b[1]->is_string()) {
      o.indent = b[1]->str();
    } else if (b[1]->is_int()) {
      o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(b[1]->as_int(), 0, 1000)), ' ');
    } else {
      runtime_fail(fmt::format("tojson: indent must be an int or str, not {}", b[1]->type_name()));
    }
  }
  if (b[2] && !b[2]->is_none()) {
    if (!b[2]->is_list() || b[2]->items().size() != 2 || !b[2]->items()[0].is_string() || !b[2]->items()[1].is_string())
      runtime_fail("tojson: separators must be an (item_separator, key_separator) pair of strings");
    o.item_separator = b[2]->items()[0].str();
    o.key_separator = b[2]->items()[1].str();
  }
  o.sort_keys = b[3] && b[3]->truthy();
  std::string out = json_dumps(v, o);
  check_size(out.size());
  return Value::string(std::move(out));
}

Value f_indent(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("indent", Params{"width", "first", "blank"});
  std::string indention = !b[0] ? "    " : b[0]->is_string() ? b[0]->str()
                                                            : std::string(static_cast<size_t>(std::clamp<int64_t>(b[0]->as_int(), 0, 10000)), ' ');
  bool first = b[1] && b[1]->truthy();
  bool blank = b[2] && b[2]->truthy();
  v.require_defined();
  if (!v.is_string()) runtime_fail(fmt::format("indent: a string is required, not {}", v.type_name()));
  std::string s = v.str() + "\n";
  CallArgs none;
  Value lines_v = find_method(Value::string(s), "splitlines")->function_obj().call(none);
  const auto& lines = lines_v.items();
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i].str();
    }
  } else {
    rv = lines.empty() ? "" : lines[0].str();
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].str().empty()) rv += indention;
      rv += lines[i].str();
    }
  }
  if (first) rv = indention + rv;
  check_size(rv.size());
  return Value::string(std::move(rv));
}

Value f_center(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("center", Params{"width"});
  std::string s = to_str(v);
  int64_t width = b[0] ? b[0]->as_int() : 80;
  int64_t len = static_cast<int64_t>(utf8::length(s));
  if (width <= len) return Value::string(s);
  check_size(static_cast<size_t>(width));
  int64_t pad = width - len;
  int64_t left = pad / 2 + (pad & width & 1);  // Python's str.center rounding
  return Value::string(std::string(left, ' ') + s + std::string(pad - left, ' '));
}

Value f_safe(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("safe", {});
  return v.is_string() ? v : Value::string(to_str(v));
}

Value f_escape(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("escape", {});
  std::string out;
  for (char c : to_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value::string(std::move(out));
}

Value f_attr(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("attr", Params{"name"});
  if (!b[0]) runtime_fail("attr: needs an attribute name");
  std::string name = to_str(*b[0]);
  v.require_defined();
  if (v.is_namespace()) return get_attr(v, name);
  if (!name.empty() && name[0] == '_') return Value::undefined("access to attribute '" + name + "' is unsafe");
  if (auto m = find_method(v, name)) return *m;
  return Value::undefined(fmt::format("'{} object' has no attribute '{}'", v.type_name(), name));
}

Value f_format(Interpreter&, const Value& v, CallArgs& a) {
  if (!a.keyword.empty() && !a.positional.empty()) runtime_fail("format: can't mix positional and keyword arguments");
  if (!a.keyword.empty()) runtime_fail("format: keyword arguments (%(name)s) are not supported");
  return Value::string(percent_format(to_str(v), a.positional));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& a) {
  a.bind("wordcount", {});
  int64_t n = 0;
  bool in_word = false;
  std::string s = to_str(v);
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8::next(s, i);
    bool w = utf8::is_alnum(c) || c == '_';
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

Value f_sum(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("sum", Params{"attribute", "start"});
  Value total = arg_or(b[1], Value::integer(0));
  for (const auto& item : iterate(v))
    total = binary_op("+", total, b[0] && !b[0]->is_none() ? attr_path(item, *b[0]) : item);
  return total;
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
  auto b = a.bind(want_max ? "max" : "min", Params{"case_sensitive", "attribute"});
  bool cs = b[0] && b[0]->truthy();
  auto items = iterate(v);
  if (items.empty()) return Value::undefined(fmt::format("no {} item, sequence was empty", want_max ? "largest" : "smallest"));
  auto key = [&](const Value& item) { return lower_key(b[1] && !b[1]->is_none() ? attr_path(item, *b[1]) : item, cs); };
  Value best = items[0];
  for (size_t i = 1; i < items.size(); ++i) {
    bool better = want_max ? less_than(key(best), key(items[i])) : less_than(key(items[i]), key(best));
    if (better) best = items[i];
  }
  return best;
}
Value f_max(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, true); }
Value f_min(Interpreter&, const Value& v, CallArgs& a) { return min_max(v, a, false); }

Value f_batch(Interpreter&, const Value& v, CallArgs& a) {
  return lazily([&]() -> Value {
    auto b = a.bind("batch", Params{"linecount", "fill_with"});
    if (!b[0]) runtime_fail("batch: needs a line count");
    int64_t n = b[0]->as_int();
    if (n <= 0) runtime_fail("batch: line count must be positive");
    std::vector<Value> out, cur;
    for (const auto& item : iterate(v)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == n) out.push_back(Value::list(std::move(cur))), cur.clear();
    }
    if (!cur.empty()) {
      if (b[1] && !b[1]->is_none())
        while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*b[1]);
      out.push_back(Value::list(std::move(cur)));
    }
    return Value::generator(std::move(out));
  });
}

Value f_truncate(Interpreter&, const Value& v, CallArgs& a) {
  auto b = a.bind("truncate", Params{"length", "killwords", "end", "leeway"});
  std::string s = to_str(v);
  int64_t length = b[0] ? b[0]->as_int() : 255;
  bool killwords = b[1] && b[1]->truthy();
  std::string end = b[2] ? to_str(*b[2]) : "...";
  int64_t leeway = b[3] && !b[3]->is_none() ? b[3]->as_int() : 5;
  auto cps = utf8::decode(s);
  int64_t n = static_cast<int64_t>(cps.size());
  int64_t end_len = static_cast<int64_t>(utf8::length(end));
  if (length < end_len) runtime_fail("truncate: length must be at least the length of the end marker");
  if (n <= length + leeway) return Value::string(s);
  std::vector<char32_t> head(cps.begin(), cps.begin() + (length - end_len));
  std::string out = utf8::encode(head);
  if (!killwords) {
    size_t sp = out.rfind(' ');
    if (sp != std::string::npos) out.resize(sp);
  }
  return Value::string(out + end);
}

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> kFilters = {
      {"abs", f_abs},         {"attr", f_attr},           {"batch", f_batch},
      {"capitalize", f_capitalize}, {"center", f_center}, {"count", f_length},
      {"d", f_default},       {"default", f_default},     {"dictsort", f_dictsort},
      {"e", f_escape},        {"escape", f_escape},       {"first", f_first},
      {"float", f_float},     {"forceescape", f_escape},  {"format", f_format},
      {"indent", f_indent},   {"int", f_int},             {"items", f_items},
      {"join", f_join},       {"last", f_last},           {"length", f_length},
      {"list", f_list},       {"lower", f_lower},         {"map", f_map},
      {"max", f_max},         {"min", f_min},             {"reject", f_reject},
      {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
      {"round", f_round},     {"safe", f_safe},           {"select", f_select},
      {"selectattr", f_selectattr}, {"sort", f_sort},     {"string", f_string},
      {"sum", f_sum},         {"title", f_title},         {"tojson", f_tojson},
      {"trim", f_trim},       {"truncate", f_truncate},   {"unique", f_unique},
      {"upper", f_upper},     {"wordcount", f_wordcount},
  };
  return kFilters;
}

}  // namespace

std::vector<Value> sorted_values(std::vector<Value> items, bool case_sensitive, bool reverse,
                                 const std::string& attribute) {
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const auto& item : items)
    keys.push_back(lower_key(attribute.empty() ? item : attr_path(item, Value::string(attribute)), case_sensitive));
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return reverse ? less_than(keys[y], keys[x]) : less_than(keys[x], keys[y]);
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(std::move(items[i]));
  return out;
}

const FilterFn* find_filter(std::string_view name) {
  const auto& f = filters();
  auto it = f.find(name);
  return it == f.end() ? nullptr : &it->second;
}

}  // namespace ax::jinja
