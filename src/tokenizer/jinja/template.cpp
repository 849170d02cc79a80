#include "tokenizer/jinja/template.h"

#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/library.h"
#include "tokenizer/jinja/parser.h"

namespace ax::jinja {

Template::Template(std::string_view source) : source_(normalize_source(source)) {
  body_ = parse(tokenize(source_), source_);
}

std::string Template::render(const std::vector<std::pair<std::string, Value>>& context,
                             const RenderOptions& options) const {
  auto globals = std::make_shared<Scope>(nullptr);
  add_globals(*globals);
  auto vars = std::make_shared<Scope>(globals);
  for (const auto& [name, value] : context) vars->set(name, value);
  auto root = std::make_shared<Scope>(vars);  // the template's own top-level `set`s
  Interpreter interp(source_, options.limits, options.clock);
  return interp.render(body_, root);
}

}  // namespace ax::jinja
