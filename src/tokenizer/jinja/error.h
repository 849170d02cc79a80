#pragma once
// Template errors carry where they happened: "line 3, column 14: unknown filter 'foo'".
#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.h"

namespace ax::jinja {

class TemplateError : public ax::Error {
 public:
  TemplateError(int line, int column, std::string reason);
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& reason() const { return reason_; }

 private:
  int line_, column_;
  std::string reason_;
};

// 1-based line and column (in characters) of a byte offset into normalized source.
struct SourcePos {
  int line, column;
};
SourcePos source_pos(std::string_view source, uint32_t offset);

[[noreturn]] void syntax_fail(std::string_view source, uint32_t offset, std::string reason);

}  // namespace ax::jinja
