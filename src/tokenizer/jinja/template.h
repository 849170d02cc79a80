#pragma once
// A parsed Jinja template: parse once, render many times (concurrently: render is const and
// touches no shared mutable state). The dialect is what Hugging Face's apply_chat_template
// uses: jinja2's ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
// loopcontrols extension ({% break %}, {% continue %}) and the {% generation %} tag.
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"

namespace ax::jinja {

struct RenderOptions {
  RenderLimits limits;
  std::function<std::time_t()> clock;  // strftime_now's "now"; empty: the real clock
};

class Template {
 public:
  // Throws TemplateError ("line 3, column 14: unknown filter 'foo'") when the source is malformed.
  explicit Template(std::string_view source);

  // context: the template's variables (messages, add_generation_prompt, bos_token, ...).
  // Throws TemplateError when rendering fails (raise_exception, undefined values, limits).
  std::string render(const std::vector<std::pair<std::string, Value>>& context,
                     const RenderOptions& options = {}) const;

  const std::string& source() const { return source_; }  // normalized (\n line ends)

 private:
  std::string source_;
  Body body_;
};

}  // namespace ax::jinja
