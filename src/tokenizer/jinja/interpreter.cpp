#include "tokenizer/jinja/interpreter.h"

#include <fmt/format.h>

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/library.h"
#include "tokenizer/jinja/ops.h"
#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {

// ---- scopes and arguments ----

const Value* Scope::lookup(std::string_view name) const {
  for (const Scope* s = this; s; s = s->parent_.get())
    for (const auto& [k, v] : s->vars_)
      if (k == name) return &v;
  return nullptr;
}

void Scope::set(std::string_view name, Value v) {
  for (auto& [k, old] : vars_)
    if (k == name) {
      old = std::move(v);
      return;
    }
  vars_.emplace_back(std::string(name), std::move(v));
}

std::vector<std::optional<Value>> CallArgs::bind(std::string_view function,
                                                 const std::vector<std::string_view>& params) const {
  std::vector<std::optional<Value>> out(params.size());
  if (positional.size() > params.size())
    runtime_fail(fmt::format("{}() takes at most {} argument(s) ({} given)", function, params.size(), positional.size()));
  for (size_t i = 0; i < positional.size(); ++i) out[i] = positional[i];
  for (const auto& [name, v] : keyword) {
    size_t i = 0;
    while (i < params.size() && params[i] != name) ++i;
    if (i == params.size()) runtime_fail(fmt::format("{}() got an unexpected keyword argument '{}'", function, name));
    if (out[i]) runtime_fail(fmt::format("{}() got multiple values for argument '{}'", function, name));
    out[i] = v;
  }
  return out;
}

// ---- interpreter ----

Interpreter::Interpreter(const std::string& source, const RenderLimits& limits,
                         std::function<std::time_t()> clock)
    : source_(source), limits_(limits), clock_(std::move(clock)) {}

void Interpreter::fail_at(uint32_t offset, const std::string& why) const {
  syntax_fail(source_, offset, why);
}

void Interpreter::step(uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps)
    runtime_fail(fmt::format("template exceeded its budget of {} steps (runaway loop?)", limits_.max_steps));
}

void Interpreter::write(std::string_view text) {
  if (out_->size() + text.size() > limits_.max_output_bytes)
    runtime_fail(fmt::format("template output exceeds {} bytes", limits_.max_output_bytes));
  out_->append(text);
}

std::string Interpreter::render(const Body& body, const ScopePtr& scope) {
  size_t saved_limit = value_size_limit();
  set_value_size_limit(limits_.max_output_bytes);
  std::string out;
  out_ = &out;
  try {
    exec(body, scope);
  } catch (...) {
    set_value_size_limit(saved_limit);
    out_ = nullptr;
    throw;
  }
  set_value_size_limit(saved_limit);
  out_ = nullptr;
  return out;
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  try {
    exec(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

Interpreter::Flow Interpreter::exec(const Body& body, const ScopePtr& scope) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, const ScopePtr& scope) {
  try {
    switch (s.kind) {
      case StmtKind::Output: write(s.text); return Flow::Normal;
      case StmtKind::Print: write(to_str(eval(*s.expr, scope))); return Flow::Normal;
      case StmtKind::If:
        for (size_t i = 0; i < s.conditions.size(); ++i)
          if (eval(*s.conditions[i], scope).truthy()) return exec(s.bodies[i], scope);
        return exec(s.else_body, scope);
      case StmtKind::For: return exec_for(s, scope);
      case StmtKind::Set: exec_set(s, scope, eval(*s.expr, scope)); return Flow::Normal;
      case StmtKind::SetBlock: {
        Value v = Value::string(capture(s.body, scope));
        if (s.filter) v = eval_filter(*s.filter, scope, std::move(v));
        exec_set(s, scope, std::move(v));
        return Flow::Normal;
      }
      case StmtKind::Macro: scope->set(s.macro->name, make_macro(s.macro, scope, Value())); return Flow::Normal;
      case StmtKind::CallBlock: {
        const Expr& call_expr = *s.expr;
        Value callee = eval(*call_expr.args[0], scope);
        CallArgs args = eval_args(call_expr, 1, scope);
        args.keyword.emplace_back("caller", make_macro(s.macro, scope, Value()));
        Value result;
        try {
          result = call(callee, args);
        } catch (const RuntimeError& e) {
          fail_at(call_expr.offset, e.what());
        }
        write(to_str(result));
        return Flow::Normal;
      }
      case StmtKind::FilterBlock:
        write(to_str(eval_filter(*s.filter, scope, Value::string(capture(s.body, scope)))));
        return Flow::Normal;
      case StmtKind::With: {
        auto child = std::make_shared<Scope>(scope);
        for (const auto& [name, expr] : s.assignments) child->set(name, eval(*expr, scope));
        return exec(s.body, child);
      }
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
      case StmtKind::Scope: exec(s.body, std::make_shared<Scope>(scope)); return Flow::Normal;
    }
  } catch (const RuntimeError& e) {
    fail_at(s.offset, e.what());
  }
  return Flow::Normal;
}

namespace {

// Binds a `for` / `set` target list to a value (tuple unpacking when there are several names).
void bind_targets(Scope& scope, const std::vector<std::string>& names, bool is_tuple, const Value& v) {
  if (!is_tuple) {
    scope.set(names[0], v);
    return;
  }
  std::vector<Value> parts = iterate(v);
  if (parts.size() < names.size())
    runtime_fail(fmt::format("not enough values to unpack (expected {}, got {})", names.size(), parts.size()));
  if (parts.size() > names.size())
    runtime_fail(fmt::format("too many values to unpack (expected {})", names.size()));
  for (size_t i = 0; i < names.size(); ++i) scope.set(names[i], parts[i]);
}

bool holds_namespace(const Value& v, int depth = 0) {
  if (depth > 64) return true;  // refuse pathological nesting outright
  if (v.is_namespace()) return true;
  if (v.is_list()) {
    for (const auto& item : v.items())
      if (holds_namespace(item, depth + 1)) return true;
  } else if (v.is_dict()) {
    for (const auto& [k, item] : v.dict_obj().items())
      if (holds_namespace(item, depth + 1)) return true;
  }
  return false;
}

// `loop` for iteration i of n. cycle: one function per loop, reading the current index.
Value loop_object(size_t i, size_t n, const std::vector<Value>& items, const Value& cycle) {
  static const struct Keys {
    Value index = Value::string("index"), index0 = Value::string("index0"), revindex = Value::string("revindex"),
          revindex0 = Value::string("revindex0"), first = Value::string("first"), last = Value::string("last"),
          length = Value::string("length"), depth = Value::string("depth"), depth0 = Value::string("depth0"),
          previtem = Value::string("previtem"), nextitem = Value::string("nextitem"), cycle = Value::string("cycle");
  } keys;
  auto d = std::make_shared<DictObj>();
  d->reserve(12);
  auto set = [&](const Value& k, Value v) { d->append_unique(k, std::move(v)); };
  set(keys.index, Value::integer(static_cast<int64_t>(i + 1)));
  set(keys.index0, Value::integer(static_cast<int64_t>(i)));
  set(keys.revindex, Value::integer(static_cast<int64_t>(n - i)));
  set(keys.revindex0, Value::integer(static_cast<int64_t>(n - i - 1)));
  set(keys.first, Value::boolean(i == 0));
  set(keys.last, Value::boolean(i + 1 == n));
  set(keys.length, Value::integer(static_cast<int64_t>(n)));
  set(keys.depth, Value::integer(1));
  set(keys.depth0, Value::integer(0));
  set(keys.previtem, i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
  set(keys.nextitem, i + 1 < n ? items[i + 1] : Value::undefined("there is no next item"));
  set(keys.cycle, cycle);
  return Value::dict(std::move(d));
}

}  // namespace

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope) {
  std::vector<Value> items = iterate(eval(*s.expr, scope));
  if (s.filter) {
    std::vector<Value> kept;
    for (auto& item : items) {
      step();
      auto probe = std::make_shared<Scope>(scope);
      bind_targets(*probe, s.targets, s.target_is_tuple, item);
      if (eval(*s.filter, probe).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(s.else_body, scope);
  const size_t n = items.size();
  auto current = std::make_shared<size_t>(0);
  Value cycle = Value::function("loop.cycle", [current](CallArgs& a) -> Value {
    if (a.positional.empty()) runtime_fail("loop.cycle() needs at least one item");
    return a.positional[*current % a.positional.size()];
  });
  for (size_t i = 0; i < n; ++i) {
    step();
    *current = i;
    auto child = std::make_shared<Scope>(scope);
    bind_targets(*child, s.targets, s.target_is_tuple, items[i]);
    child->set("loop", loop_object(i, n, items, cycle));
    if (exec(s.body, child) == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::exec_set(const Stmt& s, const ScopePtr& scope, Value v) {
  if (!s.ns_attr.empty()) {
    const Value* ns = scope->lookup(s.targets[0]);
    if (!ns || !ns->is_namespace())
      runtime_fail(fmt::format("cannot assign attribute '{}' on '{}': it is not a namespace()", s.ns_attr, s.targets[0]));
    // A namespace inside a namespace could form a reference cycle; real templates never need it.
    if (holds_namespace(v)) runtime_fail("a namespace attribute cannot hold a namespace");
    ns->namespace_storage().set(Value::string(s.ns_attr), std::move(v));
    return;
  }
  bind_targets(*scope, s.targets, s.target_is_tuple, v);
}

Value Interpreter::make_macro(const std::shared_ptr<MacroDef>& m, const ScopePtr& scope, Value caller) {
  std::weak_ptr<Scope> weak = scope;  // weak: the macro lives in the scope it captures
  return Value::function("macro '" + m->name + "'", [this, m, weak](CallArgs& args) -> Value {
    ScopePtr parent = weak.lock();
    if (!parent) runtime_fail(fmt::format("macro '{}' called after its scope ended", m->name));
    if (call_depth_ >= limits_.max_call_depth)
      runtime_fail(fmt::format("macro calls nested deeper than {} (runaway recursion?)", limits_.max_call_depth));
    auto sc = std::make_shared<Scope>(parent);
    const size_t np = m->params.size();
    std::vector<bool> given(np, false);
    std::vector<Value> extra;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < np) {
        sc->set(m->params[i], args.positional[i]);
        given[i] = true;
      } else {
        extra.push_back(args.positional[i]);
      }
    }
    if (!extra.empty() && !m->uses_varargs)
      runtime_fail(fmt::format("macro '{}' takes not more than {} argument(s)", m->name, np));
    auto kwargs = std::make_shared<DictObj>();
    for (const auto& [name, v] : args.keyword) {
      size_t i = 0;
      while (i < np && m->params[i] != name) ++i;
      if (i < np) {
        if (given[i]) runtime_fail(fmt::format("macro '{}' got multiple values for argument '{}'", m->name, name));
        sc->set(name, v);
        given[i] = true;
      } else if (name == "caller" && m->uses_caller) {
        sc->set("caller", v);
      } else if (m->uses_kwargs) {
        kwargs->set(Value::string(name), v);
      } else {
        runtime_fail(fmt::format("macro '{}' takes no keyword argument '{}'", m->name, name));
      }
    }
    ++call_depth_;
    struct DepthRestore {
      int& d;
      ~DepthRestore() { --d; }
    } restore{call_depth_};
    for (size_t i = 0; i < np; ++i) {
      if (given[i]) continue;
      sc->set(m->params[i], m->defaults[i] ? eval(*m->defaults[i], sc)
                                           : Value::undefined(fmt::format("parameter '{}' was not provided", m->params[i])));
    }
    if (m->uses_varargs) sc->set("varargs", Value::list(std::move(extra), true));
    if (m->uses_kwargs) sc->set("kwargs", Value::dict(std::move(kwargs)));
    return Value::string(capture(m->body, sc));
  });
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (!callee.is_function()) {
    callee.require_defined();
    runtime_fail(fmt::format("'{}' object is not callable", callee.type_name()));
  }
  step();
  args.interp = this;
  return callee.function_obj().call(args);
}

Value Interpreter::apply_filter(std::string_view name, const Value& subject, CallArgs& args) {
  const FilterFn* f = find_filter(name);
  if (!f) runtime_fail(fmt::format("unknown filter '{}'", name));
  args.interp = this;
  return (*f)(*this, subject, args);
}

bool Interpreter::apply_test(std::string_view name, const Value& subject, CallArgs& args) {
  const TestFn* t = find_test(name);
  if (!t) runtime_fail(fmt::format("unknown test '{}'", name));
  args.interp = this;
  return (*t)(*this, subject, args);
}

CallArgs Interpreter::eval_args(const Expr& e, size_t first, const ScopePtr& scope) {
  CallArgs a;
  a.interp = this;
  const size_t nkw = e.kwarg_names.size();
  const size_t npos = e.args.size() - nkw;
  for (size_t i = first; i < npos; ++i) a.positional.push_back(eval(*e.args[i], scope));
  if (e.star_args)
    for (auto& v : iterate(eval(*e.star_args, scope))) a.positional.push_back(std::move(v));
  for (size_t k = 0; k < nkw; ++k) a.keyword.emplace_back(e.kwarg_names[k], eval(*e.args[npos + k], scope));
  if (e.star_kwargs) {
    Value d = eval(*e.star_kwargs, scope);
    if (!d.is_dict()) runtime_fail("argument after ** must be a mapping");
    for (const auto& [k, v] : d.dict_obj().items()) {
      if (!k.is_string()) runtime_fail("keywords must be strings");
      a.keyword.emplace_back(k.str(), v);
    }
  }
  return a;
}

Value Interpreter::eval_filter(const Expr& e, const ScopePtr& scope, Value subject) {
  Value in = e.args[0] ? eval_filter(*e.args[0], scope, std::move(subject)) : std::move(subject);
  CallArgs a = eval_args(e, 1, scope);
  try {
    return apply_filter(e.name, in, a);
  } catch (const RuntimeError& err) {
    fail_at(e.offset, err.what());
  }
}

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
  try {
    return eval_inner(e, scope);
  } catch (const RuntimeError& err) {
    fail_at(e.offset, err.what());
  }
}

namespace {

int64_t clamp_index(int64_t i, int64_t n, bool negative_step) {
  if (i < 0) {
    i += n;
    if (i < 0) i = negative_step ? -1 : 0;
  } else if (i >= n) {
    i = negative_step ? n - 1 : n;
  }
  return i;
}

Value slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto as_index = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool())
      runtime_fail(fmt::format("slice {} must be an integer or None, not {}", what, v.type_name()));
    return v.as_int();
  };
  auto st = as_index(step_v, "step");
  int64_t step = st.value_or(1);
  if (step == 0) runtime_fail("slice step cannot be zero");
  std::vector<char32_t> cps;
  int64_t n;
  if (obj.is_string()) {
    cps = utf8::decode(obj.str());
    n = static_cast<int64_t>(cps.size());
  } else if (obj.is_list() && !obj.is_generator()) {
    n = static_cast<int64_t>(obj.items().size());
  } else {
    // jinja2 compiles slices to plain Python subscripts (not its forgiving getitem): errors stand.
    obj.require_defined();
    runtime_fail(fmt::format("'{}' object is not subscriptable", obj.type_name()));
  }
  auto a = as_index(start_v, "start"), b = as_index(stop_v, "stop");
  int64_t lo = a ? clamp_index(*a, n, step < 0) : (step < 0 ? n - 1 : 0);
  int64_t hi = b ? clamp_index(*b, n, step < 0) : (step < 0 ? -1 : n);
  std::vector<int64_t> idx;
  if (step > 0) {
    for (int64_t i = lo; i < hi; i += step) idx.push_back(i);
  } else {
    for (int64_t i = lo; i > hi; i += step) idx.push_back(i);
  }
  if (obj.is_string()) {
    std::string out;
    out.reserve(idx.size());
    for (int64_t i : idx) utf8::append(out, cps[i]);
    return Value::string(std::move(out));
  }
  std::vector<Value> out;
  out.reserve(idx.size());
  for (int64_t i : idx) out.push_back(obj.items()[i]);
  return Value::list(std::move(out), obj.list_obj().is_tuple);
}

}  // namespace

Value Interpreter::eval_inner(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::Literal: return e.literal;
    case ExprKind::Name: {
      const Value* v = scope->lookup(e.name);
      return v ? *v : Value::undefined(fmt::format("'{}' is undefined", e.name));
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a, scope));
      return Value::list(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      auto d = std::make_shared<DictObj>();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        d->set(k, eval(*e.args[i + 1], scope));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::GetAttr: return get_attr(eval(*e.args[0], scope), e.name);
    case ExprKind::GetItem: {
      Value obj = eval(*e.args[0], scope);
      return get_item(obj, eval(*e.args[1], scope));
    }
    case ExprKind::Slice: {
      Value obj = eval(*e.args[0], scope);
      auto part = [&](int i) { return e.args[i] ? eval(*e.args[i], scope) : Value::none(); };
      return slice(obj, part(1), part(2), part(3));
    }
    case ExprKind::Call: {
      Value callee = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, 1, scope);
      return call(callee, args);
    }
    case ExprKind::Filter: {
      Value subject = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, 1, scope);
      return apply_filter(e.name, subject, args);
    }
    case ExprKind::Test: {
      Value subject = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, 1, scope);
      bool r = apply_test(e.name, subject, args);
      return Value::boolean(e.negated ? !r : r);
    }
    case ExprKind::Neg: return negate(eval(*e.args[0], scope));
    case ExprKind::Pos: {
      Value v = eval(*e.args[0], scope);
      if (!v.is_number()) {
        v.require_defined();
        runtime_fail(fmt::format("bad operand type for unary +: '{}'", v.type_name()));
      }
      return v.is_bool() ? Value::integer(v.as_int()) : v;
    }
    case ExprKind::Not: return Value::boolean(!eval(*e.args[0], scope).truthy());
    case ExprKind::Binary: {
      Value a = eval(*e.args[0], scope);
      Value b = eval(*e.args[1], scope);
      return binary_op(e.name, a, b);
    }
    case ExprKind::And: {
      Value a = eval(*e.args[0], scope);
      return a.truthy() ? eval(*e.args[1], scope) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.args[0], scope);
      return a.truthy() ? a : eval(*e.args[1], scope);
    }
    case ExprKind::Compare: {
      Value left = eval(*e.args[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1], scope);
        if (!compare_op(e.ops[i], left, right).truthy()) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case ExprKind::CondExpr:
      if (eval(*e.args[1], scope).truthy()) return eval(*e.args[0], scope);
      if (e.args[2]) return eval(*e.args[2], scope);
      return Value::undefined("the inline if-expression evaluated to false and has no else section");
  }
  return Value();
}

}  // namespace ax::jinja
