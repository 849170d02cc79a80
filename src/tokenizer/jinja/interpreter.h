#pragma once
// Walks the statement tree and writes the output, with jinja2's scoping: `for` bodies and
// macro calls get a fresh scope each iteration/call (so `set` inside a loop does not leak out,
// hence namespace()), `if` does not. Guards make runaway templates fail instead of hanging:
// a step budget (loop iterations, macro calls), a call depth limit and an output size limit.
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace ax::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{32} << 20;  // also the largest string a template may build
  uint64_t max_steps = 20'000'000;             // loop iterations + macro calls + filter items
  int max_call_depth = 200;                    // nested macro calls
};

class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  const Value* lookup(std::string_view name) const;
  void set(std::string_view name, Value v);
  const std::shared_ptr<Scope>& parent() const { return parent_; }

 private:
  std::vector<std::pair<std::string, Value>> vars_;
  std::shared_ptr<Scope> parent_;
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter;

struct CallArgs {
  Interpreter* interp = nullptr;
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Python-style binding to parameter names: result[i] is the argument for params[i] (empty
  // when not given). Unknown or duplicate arguments raise errors naming `function`.
  std::vector<std::optional<Value>> bind(std::string_view function,
                                         const std::vector<std::string_view>& params) const;
};

class Interpreter {
 public:
  Interpreter(const std::string& source, const RenderLimits& limits,
              std::function<std::time_t()> clock);

  std::string render(const Body& body, const ScopePtr& scope);

  Value eval(const Expr& e, const ScopePtr& scope);
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(std::string_view name, const Value& subject, CallArgs& args);
  bool apply_test(std::string_view name, const Value& subject, CallArgs& args);
  void step(uint64_t n = 1);  // spends the step budget
  std::time_t now() const { return clock_ ? clock_() : std::time(nullptr); }
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { Normal, Break, Continue };

  const std::string& source_;
  RenderLimits limits_;
  std::function<std::time_t()> clock_;
  std::string* out_ = nullptr;
  uint64_t steps_ = 0;
  int call_depth_ = 0;

  Flow exec(const Body& body, const ScopePtr& scope);
  Flow exec_stmt(const Stmt& s, const ScopePtr& scope);
  Flow exec_for(const Stmt& s, const ScopePtr& scope);
  void exec_set(const Stmt& s, const ScopePtr& scope, Value v);
  std::string capture(const Body& body, const ScopePtr& scope);
  void write(std::string_view text);
  Value make_macro(const std::shared_ptr<MacroDef>& m, const ScopePtr& scope, Value caller);
  Value eval_inner(const Expr& e, const ScopePtr& scope);
  Value eval_filter(const Expr& e, const ScopePtr& scope, Value subject);
  CallArgs eval_args(const Expr& e, size_t first, const ScopePtr& scope);
  [[noreturn]] void fail_at(uint32_t offset, const std::string& why) const;
};

// Lookups as jinja2 does them: `obj.name` tries the attribute (str/dict methods) then the item;
// `obj[key]` tries the item then the attribute. Misses give Undefined; Undefined objects fail.
Value get_attr(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// The items `for` visits: list items, dict keys, string characters.
std::vector<Value> iterate(const Value& v);

}  // namespace ax::jinja
