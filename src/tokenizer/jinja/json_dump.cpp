#include "tokenizer/jinja/json_dump.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {
namespace {

struct Dumper {
  const JsonDumpOptions& opt;
  std::string item_sep;
  std::string key_sep;
  std::string out;
  int depth = 0;

  void newline_indent(int level) {
    out += '\n';
    for (int i = 0; i < level; ++i) out += *opt.indent;
  }

  void string(std::string_view s) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
      size_t start = i;
      char32_t c = utf8::next(s, i);
      switch (c) {
        case '"': out += "\\\""; continue;
        case '\\': out += "\\\\"; continue;
        case '\n': out += "\\n"; continue;
        case '\r': out += "\\r"; continue;
        case '\t': out += "\\t"; continue;
        case '\b': out += "\\b"; continue;
        case '\f': out += "\\f"; continue;
        default: break;
      }
      if (c < 0x20) {
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      } else if (opt.ensure_ascii && c >= 0x80) {
        if (c >= 0x10000) {
          char32_t v = c - 0x10000;
          out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<unsigned>(0xD800 + (v >> 10)),
                             static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
        } else {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        }
      } else {
        out.append(s.substr(start, i - start));
      }
    }
    out += '"';
  }

  // Python turns non-string keys into strings: True -> "true", None -> "null", 1.5 -> "1.5".
  std::string key_text(const Value& k) {
    switch (k.kind()) {
      case Value::Kind::String: return k.str();
      case Value::Kind::Bool: return k.as_bool() ? "true" : "false";
      case Value::Kind::None: return "null";
      case Value::Kind::Int: return std::to_string(k.as_int());
      case Value::Kind::Float: return float_text(k.as_double());
      default:
        runtime_fail(fmt::format("tojson: keys must be str, int, float, bool or None, not {}",
                                 k.type_name()));
    }
  }

  static std::string float_text(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return float_repr(d);
  }

  void value(const Value& v) {
    if (++depth > 512) runtime_fail("tojson: value nested too deeply");
    switch (v.kind()) {
      case Value::Kind::None: out += "null"; break;
      case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; break;
      case Value::Kind::Int: out += std::to_string(v.as_int()); break;
      case Value::Kind::Float: out += float_text(v.as_double()); break;
      case Value::Kind::String: string(v.str()); break;
      case Value::Kind::List: {
        if (v.is_generator()) runtime_fail("tojson: object of type generator is not JSON serializable");
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          break;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (opt.indent) newline_indent(depth);
          value(items[i]);
        }
        if (opt.indent) newline_indent(depth - 1);
        out += ']';
        break;
      }
      case Value::Kind::Dict: {
        const auto& d = v.dict_obj();
        if (d.size() == 0) {
          out += "{}";
          break;
        }
        std::vector<std::pair<std::string, const Value*>> entries;
        entries.reserve(d.size());
        for (const auto& [k, val] : d.items()) entries.emplace_back(key_text(k), &val);
        if (opt.sort_keys)
          std::stable_sort(entries.begin(), entries.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep;
          if (opt.indent) newline_indent(depth);
          string(entries[i].first);
          out += key_sep;
          value(*entries[i].second);
        }
        if (opt.indent) newline_indent(depth - 1);
        out += '}';
        break;
      }
      case Value::Kind::Undefined: v.require_defined(); [[fallthrough]];
      default:
        runtime_fail(fmt::format("tojson: object of type {} is not JSON serializable", v.type_name()));
    }
    --depth;
  }
};

}  // namespace

std::string json_dumps(const Value& v, const JsonDumpOptions& options) {
  Dumper d{options, options.item_separator.value_or(options.indent ? "," : ", "),
           options.key_separator.value_or(": "), {}};
  d.value(v);
  return std::move(d.out);
}

}  // namespace ax::jinja
