#pragma once
// Python's json.dumps, byte for byte: HF's `tojson` filter is
// json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys),
// and templates print tool schemas through it, so spacing and escaping must match exactly.
#include <optional>
#include <string>

#include "tokenizer/jinja/value.h"

namespace ax::jinja {

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // none: one line; else the text of one indent level
  std::optional<std::string> item_separator;  // default ", " (or "," when indenting)
  std::optional<std::string> key_separator;   // default ": "
  bool sort_keys = false;
};

std::string json_dumps(const Value& v, const JsonDumpOptions& options);

}  // namespace ax::jinja
