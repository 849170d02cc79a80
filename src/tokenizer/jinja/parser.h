#pragma once
// Builds the statement tree from tokens, following jinja2's grammar and operator precedence
// (filters bind tighter than arithmetic: `'a' + x | upper` is 'a' + upper(x)).
#include <string>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace ax::jinja {

// source: the normalized source the tokens came from (for error positions).
Body parse(const std::vector<Token>& tokens, const std::string& source);

}  // namespace ax::jinja
