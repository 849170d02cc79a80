#include "tokenizer/jinja/error.h"

#include <fmt/format.h>

#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {

TemplateError::TemplateError(int line, int column, std::string reason)
    : ax::Error(fmt::format("line {}, column {}: {}", line, column, reason)),
      line_(line),
      column_(column),
      reason_(std::move(reason)) {}

SourcePos source_pos(std::string_view source, uint32_t offset) {
  if (offset > source.size()) offset = static_cast<uint32_t>(source.size());
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (source[i] == '\n') ++line, line_start = i + 1;
  int column = 1 + static_cast<int>(utf8::length(source.substr(line_start, offset - line_start)));
  return {line, column};
}

void syntax_fail(std::string_view source, uint32_t offset, std::string reason) {
  auto pos = source_pos(source, offset);
  throw TemplateError(pos.line, pos.column, std::move(reason));
}

}  // namespace ax::jinja
