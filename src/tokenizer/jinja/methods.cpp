// Attribute and item lookup as jinja2's sandbox does it, and the Python methods of str, dict
// and list that templates call (`content.split('</think>')[-1].lstrip('\n')`, `d.items()`).
#include <cctype>

#include <fmt/format.h>

#include "tokenizer/jinja/library.h"
#include "tokenizer/jinja/ops.h"
#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {
namespace {

using Params = std::vector<std::string_view>;

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe", name, obj.type_name()));
}

Value missing_attr(const Value& obj, const std::string& name) {
  return Value::undefined(fmt::format("'{} object' has no attribute '{}'", obj.type_name(), name));
}

const std::string& need_str(const Value& v, const char* what) {
  if (!v.is_string()) {
    v.require_defined();
    runtime_fail(fmt::format("{} must be str, not {}", what, v.type_name()));
  }
  return v.str();
}

int64_t need_int(const Value& v, const char* what) {
  if (!v.is_int() && !v.is_bool()) {
    v.require_defined();
    runtime_fail(fmt::format("{} must be an integer, not {}", what, v.type_name()));
  }
  return v.as_int();
}

// Code point index of a byte offset.
int64_t cp_index(const std::string& s, size_t byte) { return static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, byte))); }

// Byte offset of a code point index (clamped, Python-style negatives).
size_t byte_offset(const std::string& s, int64_t cp) {
  int64_t n = static_cast<int64_t>(utf8::length(s));
  if (cp < 0) cp = std::max<int64_t>(0, cp + n);
  if (cp > n) cp = n;
  size_t i = 0;
  for (int64_t k = 0; k < cp; ++k) utf8::next(s, i);
  return i;
}

std::vector<Value> split_ws(const std::string& s, int64_t maxsplit, bool from_right) {
  auto cps = utf8::decode(s);
  std::vector<std::vector<char32_t>> parts;
  if (!from_right) {
    size_t i = 0, n = cps.size();
    while (true) {
      while (i < n && utf8::is_space(cps[i])) ++i;
      if (i >= n) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t e = n;
        while (e > i && utf8::is_space(cps[e - 1])) --e;
        parts.emplace_back(cps.begin() + i, cps.begin() + e);
        break;
      }
      size_t j = i;
      while (j < n && !utf8::is_space(cps[j])) ++j;
      parts.emplace_back(cps.begin() + i, cps.begin() + j);
      i = j;
    }
  } else {
    int64_t i = static_cast<int64_t>(cps.size()) - 1;
    while (true) {
      while (i >= 0 && utf8::is_space(cps[i])) --i;
      if (i < 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        int64_t b = 0;
        while (b <= i && utf8::is_space(cps[b])) ++b;
        parts.emplace_back(cps.begin() + b, cps.begin() + i + 1);
        break;
      }
      int64_t j = i;
      while (j >= 0 && !utf8::is_space(cps[j])) --j;
      parts.emplace_back(cps.begin() + j + 1, cps.begin() + i + 1);
      i = j;
    }
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<Value> out;
  for (auto& p : parts) out.push_back(Value::string(utf8::encode(p)));
  return out;
}

std::vector<Value> split_sep(const std::string& s, const std::string& sep, int64_t maxsplit, bool from_right) {
  if (sep.empty()) runtime_fail("empty separator");
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      size_t p = s.find(sep, start);
      if (p == std::string::npos) break;
      parts.push_back(s.substr(start, p - start));
      start = p + sep.size();
    }
    parts.push_back(s.substr(start));
  } else {
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      if (end < sep.size()) break;
      size_t p = s.rfind(sep, end - sep.size());
      if (p == std::string::npos) break;
      parts.push_back(s.substr(p + sep.size(), end - p - sep.size()));
      end = p;
    }
    parts.push_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return out;
}

std::string replace_all(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts `repl` around every character
    auto cps = utf8::decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (i < cps.size()) utf8::append(out, cps[i]);
      check_size(out.size());
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(old, start);
    if (p == std::string::npos) break;
    out.append(s, start, p - start);
    out += repl;
    start = p + old.size();
    ++done;
    check_size(out.size());
  }
  out.append(s, start, std::string::npos);
  check_size(out.size());
  return out;
}

// Python's str.title(): a cased character after a cased character is lowered, others raised.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8::next(s, i);
    utf8::append(out, prev_cased ? utf8::to_lower(c) : utf8::to_upper(c));
    prev_cased = utf8::is_cased(c);
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::string out;
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8::next(s, i);
    utf8::append(out, first ? utf8::to_upper(c) : utf8::to_lower(c));
    first = false;
  }
  return out;
}

bool affix_match(const std::string& s, const Value& affix, bool prefix, const CallArgs& a) {
  auto b = a.bind(prefix ? "str.startswith" : "str.endswith", Params{"affix", "start", "end"});
  size_t lo = 0, hi = s.size();
  if (b[1] && !b[1]->is_none()) lo = byte_offset(s, need_int(*b[1], "start"));
  if (b[2] && !b[2]->is_none()) hi = byte_offset(s, need_int(*b[2], "end"));
  if (hi < lo) return false;
  std::string_view view = std::string_view(s).substr(lo, hi - lo);
  auto one = [&](const Value& v) {
    const std::string& x = need_str(v, prefix ? "startswith first arg" : "endswith first arg");
    if (x.size() > view.size()) return false;
    return prefix ? view.substr(0, x.size()) == x : view.substr(view.size() - x.size()) == x;
  };
  if (affix.is_list() && affix.list_obj().is_tuple) {
    for (const auto& v : affix.items())
      if (one(v)) return true;
    return false;
  }
  return one(affix);
}

// Python's str.format(): {} / {0} / {name} fields, {{ and }} escapes, and simple format specs.
std::string py_format(const std::string& f, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else runtime_fail("single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = f.find('}', i);
    if (close == std::string::npos) runtime_fail("expected '}' before end of string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) field.resize(bang);
    Value v;
    if (field.empty()) {
      if (auto_index >= a.positional.size()) runtime_fail("format: not enough positional arguments");
      v = a.positional[auto_index++];
    } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
      size_t k = parse_size(field, "format field");
      if (k >= a.positional.size()) runtime_fail(fmt::format("format: no positional argument {}", k));
      v = a.positional[k];
    } else {
      bool found = false;
      for (const auto& [name, val] : a.keyword)
        if (name == field) v = val, found = true;
      if (!found) runtime_fail(fmt::format("format: no argument named '{}'", field));
    }
    std::string text;
    if (!spec.empty() && spec.find('f') != std::string::npos && v.is_number()) {
      char buf[512];
      std::string cfmt = "%" + spec;
      std::snprintf(buf, sizeof buf, cfmt.c_str(), v.as_double());
      text = buf;
    } else {
      text = to_str(v);
      if (!spec.empty()) {
        char align = v.is_number() ? '>' : '<';
        size_t k = 0;
        if (spec[0] == '<' || spec[0] == '>' || spec[0] == '^') align = spec[k++];
        // The width: the digits after the alignment (a type letter after them is not interpreted).
        const bool has_width = k < spec.size() && std::isdigit(static_cast<unsigned char>(spec[k]));
        size_t width = has_width ? parse_size(spec.substr(k), "format width") : 0;
        size_t len = utf8::length(text);
        if (len < width) {
          size_t pad = width - len;
          if (align == '<') text += std::string(pad, ' ');
          else if (align == '>') text = std::string(pad, ' ') + text;
          else text = std::string(pad / 2, ' ') + text + std::string(pad - pad / 2, ' ');
        }
      }
    }
    out += text;
    check_size(out.size());
  }
  return out;
}

Value method(const Value& self, const std::string& name, Value (*fn)(const Value&, CallArgs&)) {
  return Value::function(self.type_name() + "." + name, [self, fn](CallArgs& a) { return fn(self, a); });
}

std::optional<Value> str_method(const Value& self, const std::string& name) {
  using F = Value (*)(const Value&, CallArgs&);
  static const std::unordered_map<std::string, F> kMethods = {
      {"startswith", [](const Value& s, CallArgs& a) {
         if (a.positional.empty()) runtime_fail("startswith() takes at least 1 argument");
         return Value::boolean(affix_match(s.str(), a.positional[0], true, a));
       }},
      {"endswith", [](const Value& s, CallArgs& a) {
         if (a.positional.empty()) runtime_fail("endswith() takes at least 1 argument");
         return Value::boolean(affix_match(s.str(), a.positional[0], false, a));
       }},
      {"strip", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.strip", Params{"chars"});
         if (!b[0] || b[0]->is_none()) return Value::string(utf8::strip(s.str(), true, true));
         return Value::string(utf8::strip_chars(s.str(), need_str(*b[0], "strip arg"), true, true));
       }},
      {"lstrip", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.lstrip", Params{"chars"});
         if (!b[0] || b[0]->is_none()) return Value::string(utf8::strip(s.str(), true, false));
         return Value::string(utf8::strip_chars(s.str(), need_str(*b[0], "lstrip arg"), true, false));
       }},
      {"rstrip", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.rstrip", Params{"chars"});
         if (!b[0] || b[0]->is_none()) return Value::string(utf8::strip(s.str(), false, true));
         return Value::string(utf8::strip_chars(s.str(), need_str(*b[0], "rstrip arg"), false, true));
       }},
      {"split", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.split", Params{"sep", "maxsplit"});
         int64_t maxsplit = b[1] ? need_int(*b[1], "maxsplit") : -1;
         if (!b[0] || b[0]->is_none()) return Value::list(split_ws(s.str(), maxsplit, false));
         return Value::list(split_sep(s.str(), need_str(*b[0], "separator"), maxsplit, false));
       }},
      {"rsplit", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.rsplit", Params{"sep", "maxsplit"});
         int64_t maxsplit = b[1] ? need_int(*b[1], "maxsplit") : -1;
         if (!b[0] || b[0]->is_none()) return Value::list(split_ws(s.str(), maxsplit, true));
         return Value::list(split_sep(s.str(), need_str(*b[0], "separator"), maxsplit, true));
       }},
      {"splitlines", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.splitlines", Params{"keepends"});
         bool keep = b[0] && b[0]->truthy();
         std::vector<Value> out;
         const std::string& t = s.str();
         size_t start = 0;
         for (size_t i = 0; i < t.size();) {
           size_t at = i;
           char32_t c = utf8::next(t, i);
           bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                      c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
           if (!brk) continue;
           if (c == '\r' && i < t.size() && t[i] == '\n') ++i;
           out.push_back(Value::string(t.substr(start, (keep ? i : at) - start)));
           start = i;
         }
         if (start < t.size()) out.push_back(Value::string(t.substr(start)));
         return Value::list(std::move(out));
       }},
      {"upper", [](const Value& s, CallArgs&) { return Value::string(utf8::upper(s.str())); }},
      {"lower", [](const Value& s, CallArgs&) { return Value::string(utf8::lower(s.str())); }},
      {"casefold", [](const Value& s, CallArgs&) { return Value::string(utf8::lower(s.str())); }},
      {"title", [](const Value& s, CallArgs&) { return Value::string(py_title(s.str())); }},
      {"capitalize", [](const Value& s, CallArgs&) { return Value::string(py_capitalize(s.str())); }},
      {"replace", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.replace", Params{"old", "new", "count"});
         if (!b[0] || !b[1]) runtime_fail("replace() takes at least 2 arguments");
         return Value::string(replace_all(s.str(), need_str(*b[0], "replace arg 1"), need_str(*b[1], "replace arg 2"),
                                          b[2] ? need_int(*b[2], "count") : -1));
       }},
      {"find", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.find", Params{"sub", "start", "end"});
         if (!b[0]) runtime_fail("find() takes at least 1 argument");
         size_t lo = b[1] && !b[1]->is_none() ? byte_offset(s.str(), need_int(*b[1], "start")) : 0;
         size_t hi = b[2] && !b[2]->is_none() ? byte_offset(s.str(), need_int(*b[2], "end")) : s.str().size();
         const std::string& sub = need_str(*b[0], "find arg");
         size_t p = s.str().find(sub, lo);
         if (p == std::string::npos || p + sub.size() > hi) return Value::integer(-1);
         return Value::integer(cp_index(s.str(), p));
       }},
      {"rfind", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.rfind", Params{"sub"});
         if (!b[0]) runtime_fail("rfind() takes 1 argument");
         size_t p = s.str().rfind(need_str(*b[0], "rfind arg"));
         return Value::integer(p == std::string::npos ? -1 : cp_index(s.str(), p));
       }},
      {"count", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.count", Params{"sub"});
         if (!b[0]) runtime_fail("count() takes 1 argument");
         const std::string& sub = need_str(*b[0], "count arg");
         if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8::length(s.str())) + 1);
         int64_t n = 0;
         for (size_t p = s.str().find(sub); p != std::string::npos; p = s.str().find(sub, p + sub.size())) ++n;
         return Value::integer(n);
       }},
      {"join", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.join", Params{"iterable"});
         if (!b[0]) runtime_fail("join() takes 1 argument");
         std::string out;
         bool first = true;
         for (const auto& v : iterate(*b[0])) {
           if (!first) out += s.str();
           first = false;
           out += need_str(v, "join item");
           check_size(out.size());
         }
         return Value::string(std::move(out));
       }},
      {"format", [](const Value& s, CallArgs& a) { return Value::string(py_format(s.str(), a)); }},
      {"removeprefix", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.removeprefix", Params{"prefix"});
         const std::string& p = need_str(b[0].value_or(Value()), "prefix");
         return Value::string(s.str().compare(0, p.size(), p) == 0 ? s.str().substr(p.size()) : s.str());
       }},
      {"removesuffix", [](const Value& s, CallArgs& a) {
         auto b = a.bind("str.removesuffix", Params{"suffix"});
         const std::string& p = need_str(b[0].value_or(Value()), "suffix");
         const std::string& t = s.str();
         bool has = !p.empty() && t.size() >= p.size() && t.compare(t.size() - p.size(), p.size(), p) == 0;
         return Value::string(has ? t.substr(0, t.size() - p.size()) : t);
       }},
      {"isdigit", [](const Value& s, CallArgs&) {
         if (s.str().empty()) return Value::boolean(false);
         for (char c : s.str())
           if (c < '0' || c > '9') return Value::boolean(false);
         return Value::boolean(true);
       }},
      {"isspace", [](const Value& s, CallArgs&) {
         auto cps = utf8::decode(s.str());
         if (cps.empty()) return Value::boolean(false);
         for (char32_t c : cps)
           if (!utf8::is_space(c)) return Value::boolean(false);
         return Value::boolean(true);
       }},
      {"isalpha", [](const Value& s, CallArgs&) {
         auto cps = utf8::decode(s.str());
         if (cps.empty()) return Value::boolean(false);
         for (char32_t c : cps)
           if (!utf8::is_alnum(c) || (c >= '0' && c <= '9')) return Value::boolean(false);
         return Value::boolean(true);
       }},
      {"isalnum", [](const Value& s, CallArgs&) {
         auto cps = utf8::decode(s.str());
         if (cps.empty()) return Value::boolean(false);
         for (char32_t c : cps)
           if (!utf8::is_alnum(c)) return Value::boolean(false);
         return Value::boolean(true);
       }},
      {"isupper", [](const Value& s, CallArgs&) {
         bool cased = false;
         for (char32_t c : utf8::decode(s.str())) {
           if (utf8::to_upper(c) != c) return Value::boolean(false);
           cased = cased || utf8::is_cased(c);
         }
         return Value::boolean(cased);
       }},
      {"islower", [](const Value& s, CallArgs&) {
         bool cased = false;
         for (char32_t c : utf8::decode(s.str())) {
           if (utf8::to_lower(c) != c) return Value::boolean(false);
           cased = cased || utf8::is_cased(c);
         }
         return Value::boolean(cased);
       }},
  };
  auto it = kMethods.find(name);
  if (it == kMethods.end()) return std::nullopt;
  return method(self, name, it->second);
}

std::optional<Value> dict_method(const Value& self, const std::string& name) {
  if (name == "items")
    return method(self, name, [](const Value& d, CallArgs& a) {
      a.bind("dict.items", {});
      std::vector<Value> out;
      for (const auto& [k, v] : d.dict_obj().items()) out.push_back(Value::list({k, v}, true));
      return Value::list(std::move(out));
    });
  if (name == "keys")
    return method(self, name, [](const Value& d, CallArgs& a) {
      a.bind("dict.keys", {});
      std::vector<Value> out;
      for (const auto& [k, v] : d.dict_obj().items()) out.push_back(k);
      return Value::list(std::move(out));
    });
  if (name == "values")
    return method(self, name, [](const Value& d, CallArgs& a) {
      a.bind("dict.values", {});
      std::vector<Value> out;
      for (const auto& [k, v] : d.dict_obj().items()) out.push_back(v);
      return Value::list(std::move(out));
    });
  if (name == "get")
    return method(self, name, [](const Value& d, CallArgs& a) {
      auto b = a.bind("dict.get", Params{"key", "default"});
      if (!b[0]) runtime_fail("get expected at least 1 argument, got 0");
      const Value* v = d.dict_obj().find(*b[0]);
      return v ? *v : b[1].value_or(Value::none());
    });
  if (name == "copy") return method(self, name, [](const Value& d, CallArgs&) { return d; });
  if (name == "pop" || name == "popitem" || name == "setdefault" || name == "update" || name == "clear")
    return unsafe(self, name);
  return std::nullopt;
}

std::optional<Value> list_method(const Value& self, const std::string& name) {
  if (name == "index")
    return method(self, name, [](const Value& l, CallArgs& a) {
      auto b = a.bind("list.index", Params{"value"});
      const auto& items = l.items();
      for (size_t i = 0; i < items.size(); ++i)
        if (b[0] && equals(items[i], *b[0])) return Value::integer(static_cast<int64_t>(i));
      runtime_fail(fmt::format("{} is not in list", b[0] ? to_repr(*b[0]) : "value"));
    });
  if (name == "count")
    return method(self, name, [](const Value& l, CallArgs& a) {
      auto b = a.bind("list.count", Params{"value"});
      int64_t n = 0;
      for (const auto& v : l.items())
        if (b[0] && equals(v, *b[0])) ++n;
      return Value::integer(n);
    });
  if (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" ||
      name == "reverse" || name == "sort" || name == "clear")
    return unsafe(self, name);
  return std::nullopt;
}

}  // namespace

std::optional<Value> find_method(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::String: return str_method(obj, name);
    case Value::Kind::Dict: return dict_method(obj, name);
    case Value::Kind::List: return obj.is_generator() ? std::nullopt : list_method(obj, name);
    default: return std::nullopt;
  }
}

Value get_attr(const Value& obj, const std::string& name) {
  obj.require_defined();
  if (!name.empty() && name[0] == '_') return unsafe(obj, name);
  if (obj.is_namespace()) {
    const Value* v = obj.namespace_storage().find(std::string_view(name));
    return v ? *v : Value::undefined(fmt::format("namespace has no attribute '{}'", name));
  }
  if (auto m = find_method(obj, name)) return *m;
  if (obj.is_dict()) {
    const Value* v = obj.dict_obj().find(std::string_view(name));
    if (v) return *v;
  }
  return missing_attr(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  obj.require_defined();
  key.require_defined();
  switch (obj.kind()) {
    case Value::Kind::Dict: {
      if (key.is_list() && !key.list_obj().is_tuple) runtime_fail("unhashable type: 'list'");
      if (key.is_dict()) runtime_fail("unhashable type: 'dict'");
      if (const Value* v = obj.dict_obj().find(key)) return *v;
      break;
    }
    case Value::Kind::Namespace:
      if (key.is_string()) return get_attr(obj, key.str());
      break;
    case Value::Kind::List:
    case Value::Kind::String:
      if ((key.is_int() || key.is_bool()) && !obj.is_generator()) {
        int64_t i = key.as_int();
        if (obj.is_list()) {
          int64_t n = static_cast<int64_t>(obj.items().size());
          if (i < 0) i += n;
          if (i < 0 || i >= n)
            return Value::undefined(fmt::format("{} object has no element {}", obj.type_name(), key.as_int()));
          return obj.items()[i];
        }
        auto cps = utf8::decode(obj.str());
        int64_t n = static_cast<int64_t>(cps.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined(fmt::format("str object has no element {}", key.as_int()));
        std::string out;
        utf8::append(out, cps[i]);
        return Value::string(std::move(out));
      }
      break;
    default: break;
  }
  if (key.is_string()) {
    if (key.str().empty() || key.str()[0] != '_')
      if (auto m = find_method(obj, key.str())) return *m;
    return missing_attr(obj, key.str());
  }
  return Value::undefined(fmt::format("'{} object' has no element {}", obj.type_name(), to_repr(key)));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::List:
      if (!v.list_obj().pending_error.empty()) runtime_fail(v.list_obj().pending_error);
      return v.items();
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict_obj().size());
      for (const auto& [k, val] : v.dict_obj().items()) keys.push_back(k);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      const std::string& s = v.str();
      for (size_t i = 0; i < s.size();) {
        size_t start = i;
        utf8::next(s, i);
        chars.push_back(Value::string(s.substr(start, i - start)));
      }
      return chars;
    }
    case Value::Kind::Undefined: return {};
    default: runtime_fail(fmt::format("'{}' object is not iterable", v.type_name()));
  }
}

}  // namespace ax::jinja
