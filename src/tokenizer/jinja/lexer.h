#pragma once
// Splits template source into tokens exactly as jinja2's lexer does with the settings HF uses
// (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False): `{%- -%}` strip all
// whitespace, `{%+` keeps it, a block tag alone on its line takes its indentation and newline
// with it, one trailing newline of the template is dropped, and \r\n / \r become \n.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ax::jinja {

enum class Tok : uint8_t {
  Data,        // literal text to output (also the body of {% raw %})
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,      // text is the decoded value
  Integer,
  Float,
  Op,          // text is the operator: "+", "//", "==", "(", ...
  Eof,
};

struct Token {
  Tok type;
  uint32_t offset;  // byte offset into the normalized source, for line/column in errors
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
};

// What jinja2 does to template source before lexing: \r\n and \r become \n, and one final
// line break is dropped (keep_trailing_newline=False).
std::string normalize_source(std::string_view source);

// Tokenizes normalized source; throws TemplateError on malformed tags.
std::vector<Token> tokenize(const std::string& source);

}  // namespace ax::jinja
