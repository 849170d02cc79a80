#include "tokenizer/jinja/parser.h"

#include <fmt/format.h>

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/library.h"

namespace ax::jinja {
namespace {

// Deeper nesting than this is refused rather than risking the stack (jinja2 would hit
// Python's recursion limit in the same place).
constexpr int kMaxNesting = 200;

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& source) : toks_(tokens), src_(source) {}

  Body parse_template() {
    Body body = subparse({});
    if (cur().type != Tok::Eof) fail_here("unexpected tag");
    for (const auto& u : unknown_)
      if (!u.soft) fail(u.offset, u.message);
    return body;
  }

 private:
  const std::vector<Token>& toks_;
  const std::string& src_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<MacroDef*> macros_;  // macros being parsed, innermost last

  // Unknown filters and tests. jinja2 rejects them when compiling, except inside `if`
  // statements and conditional expressions (its "soft" frames): there they only fail if
  // evaluated, so a template may guard an optional filter. Loop, macro, call, filter, with
  // and set-block bodies start hard again.
  struct Unknown {
    uint32_t offset;
    std::string message;
    bool soft;
  };
  std::vector<Unknown> unknown_;
  bool soft_ = false;

  struct SoftScope {
    bool& flag;
    bool saved;
    SoftScope(bool& f, bool value) : flag(f), saved(f) { flag = value; }
    ~SoftScope() { flag = saved; }
  };

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser, uint32_t offset) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.fail(offset, "template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  const Token& advance() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }

  [[noreturn]] void fail(uint32_t offset, std::string why) const { syntax_fail(src_, offset, std::move(why)); }
  [[noreturn]] void fail_here(std::string why) const { fail(cur().offset, std::move(why)); }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::Data: return "template text";
      case Tok::VarBegin: return "'{{'";
      case Tok::VarEnd: return "end of print statement";
      case Tok::BlockBegin: return "'{%'";
      case Tok::BlockEnd: return "end of statement block";
      case Tok::Name: return "'" + t.text + "'";
      case Tok::String: return "string literal";
      case Tok::Integer:
      case Tok::Float: return "number " + t.text;
      case Tok::Op: return "'" + t.text + "'";
      case Tok::Eof: return "end of template";
    }
    return "?";
  }

  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == Tok::Name && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail_here(fmt::format("expected '{}', got {}", op, describe(cur())));
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail_here(fmt::format("expected a name, got {}", describe(cur())));
    return advance().text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) fail_here(fmt::format("expected end of statement block, got {}", describe(cur())));
    advance();
  }

  // Sets e's depth from its children and refuses trees deeper than kMaxNesting: left-deep
  // chains (1+1+1+..., a.b.c..., x|f|f|...) are built by loops, not recursion, so the nesting
  // guard alone would not see them, but evaluating them recurses.
  ExprPtr deepen(ExprPtr e) {
    int d = 0;
    for (const auto& a : e->args)
      if (a) d = std::max<int>(d, a->depth);
    if (e->star_args) d = std::max<int>(d, e->star_args->depth);
    if (e->star_kwargs) d = std::max<int>(d, e->star_kwargs->depth);
    if (d + 1 > kMaxNesting) fail(e->offset, "expression nested too deeply");
    e->depth = static_cast<uint16_t>(d + 1);
    return e;
  }

  ExprPtr node(ExprKind kind, uint32_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  // ---- statements ----

  // Parses until a block tag whose name is in `ends` (left unconsumed, after its '{%').
  Body subparse(const std::vector<std::string>& ends) {
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::Eof) {
        if (!ends.empty()) {
          std::string want;
          for (size_t i = 0; i < ends.size(); ++i) want += (i ? " or '" : "'") + ends[i] + "'";
          fail(t.offset, fmt::format("unexpected end of template: expected {}", want));
        }
        return body;
      }
      if (t.type == Tok::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->offset = t.offset;
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.type == Tok::VarBegin) {
        advance();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Print;
        s->offset = cur().offset;
        s->expr = parse_tuple(true, {}, false);
        if (cur().type != Tok::VarEnd) fail_here(fmt::format("expected end of print statement, got {}", describe(cur())));
        advance();
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        const Token& name = peek();
        if (name.type == Tok::Name) {
          for (const auto& e : ends)
            if (name.text == e) {
              advance();  // '{%', the caller consumes the name
              return body;
            }
        }
        advance();
        body.push_back(parse_statement(ends));
      } else {
        fail_here(fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  StmtPtr parse_statement(const std::vector<std::string>& ends) {
    const Token& t = cur();
    if (t.type != Tok::Name) fail_here(fmt::format("expected a tag name, got {}", describe(t)));
    DepthGuard guard(*this, t.offset);
    const std::string& n = t.text;
    if (n == "if") return parse_if();
    if (n == "for") return parse_for();
    if (n == "set") return parse_set();
    if (n == "macro") return parse_macro();
    if (n == "call") return parse_call_block();
    if (n == "filter") return parse_filter_block();
    if (n == "with") return parse_with();
    if (n == "generation") return parse_generation();
    if (n == "break" || n == "continue") {
      if (loop_depth_ == 0) fail_here(fmt::format("'{}' outside of a loop", n));
      auto s = std::make_unique<Stmt>();
      s->kind = n == "break" ? StmtKind::Break : StmtKind::Continue;
      s->offset = t.offset;
      advance();
      expect_block_end();
      return s;
    }
    if (n == "extends" || n == "include" || n == "import" || n == "from" || n == "block")
      fail_here(fmt::format("tag '{}' is not supported in chat templates (they have no loader)", n));
    std::string msg = fmt::format("unknown tag '{}'", n);
    if (!ends.empty()) {
      std::string want;
      for (size_t i = 0; i < ends.size(); ++i) want += (i ? " or '" : "'") + ends[i] + "'";
      msg += fmt::format(" (expected {})", want);
    }
    fail_here(msg);
  }

  StmtPtr parse_if() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::If;
    s->offset = advance().offset;  // 'if'
    SoftScope soft(soft_, true);
    // jinja2 parses if/elif tests without conditional expressions: `{% if a if b else c %}` is an error.
    s->conditions.push_back(parse_tuple(false, {}, false));
    expect_block_end();
    while (true) {
      s->bodies.push_back(subparse({"elif", "else", "endif"}));
      const Token& tag = advance();
      if (tag.text == "elif") {
        s->conditions.push_back(parse_tuple(false, {}, false));
        expect_block_end();
        continue;
      }
      if (tag.text == "else") {
        expect_block_end();
        s->else_body = subparse({"endif"});
        advance();
      }
      expect_block_end();
      return s;
    }
  }

  std::vector<std::string> parse_targets(bool* is_tuple, const char* end_name) {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    while (true) {
      names.push_back(expect_name());
      if (!skip_op(",")) break;
      if (paren ? is_op(")") : is_name(end_name)) break;
    }
    if (paren) expect_op(")");
    *is_tuple = names.size() > 1 || paren;
    return names;
  }

  StmtPtr parse_for() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::For;
    s->offset = advance().offset;  // 'for'
    s->targets = parse_targets(&s->target_is_tuple, "in");
    for (const auto& t : s->targets)
      if (t == "loop") fail(s->offset, "cannot assign to the name 'loop'");
    if (!skip_name("in")) fail_here(fmt::format("expected 'in', got {}", describe(cur())));
    s->expr = parse_tuple(false, {"recursive"}, false);
    if (skip_name("if")) s->filter = parse_expression(true);
    if (is_name("recursive")) fail_here("recursive loops are not supported");
    expect_block_end();
    SoftScope hard(soft_, false);
    ++loop_depth_;
    s->body = subparse({"endfor", "else"});
    --loop_depth_;
    if (advance().text == "else") {
      expect_block_end();
      s->else_body = subparse({"endfor"});
      advance();
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set() {
    auto s = std::make_unique<Stmt>();
    s->offset = advance().offset;  // 'set'
    std::string first = expect_name();
    if (skip_op(".")) {
      s->targets = {first};
      s->ns_attr = expect_name();
    } else {
      s->targets = {first};
      if (is_op(",")) {
        while (skip_op(",")) {
          if (is_op("=")) break;
          s->targets.push_back(expect_name());
        }
        s->target_is_tuple = true;
      }
    }
    if (skip_op("=")) {
      s->kind = StmtKind::Set;
      s->expr = parse_tuple(true, {}, false);
      expect_block_end();
      return s;
    }
    if (s->target_is_tuple) fail_here("a block set takes a single name");
    s->kind = StmtKind::SetBlock;
    SoftScope hard(soft_, false);
    if (is_op("|")) s->filter = parse_filter_chain(nullptr);
    expect_block_end();
    s->body = subparse({"endset"});
    advance();
    expect_block_end();
    return s;
  }

  void parse_signature(MacroDef& m) {
    expect_op("(");
    while (!is_op(")")) {
      if (!m.params.empty()) expect_op(",");
      if (is_op(")")) break;
      uint32_t at = cur().offset;
      m.params.push_back(expect_name());
      if (skip_op("=")) {
        m.defaults.push_back(parse_expression(true));
      } else {
        if (!m.defaults.empty() && m.defaults.back()) fail(at, "non-default argument follows default argument");
        m.defaults.push_back(nullptr);
      }
    }
    advance();
  }

  StmtPtr parse_macro() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Macro;
    s->offset = advance().offset;  // 'macro'
    s->macro = std::make_shared<MacroDef>();
    s->macro->name = expect_name();
    SoftScope hard(soft_, false);
    parse_signature(*s->macro);
    expect_block_end();
    macros_.push_back(s->macro.get());
    int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->macro->body = subparse({"endmacro"});
    loop_depth_ = saved_loops;
    macros_.pop_back();
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::CallBlock;
    s->offset = advance().offset;  // 'call'
    s->macro = std::make_shared<MacroDef>();
    s->macro->name = "caller";
    SoftScope hard(soft_, false);
    if (is_op("(")) parse_signature(*s->macro);
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::Call) fail(s->expr->offset, "expected a call after 'call'");
    expect_block_end();
    macros_.push_back(s->macro.get());
    s->macro->body = subparse({"endcall"});
    macros_.pop_back();
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::FilterBlock;
    s->offset = advance().offset;  // 'filter'
    SoftScope hard(soft_, false);
    s->filter = parse_filter_chain(nullptr, /*leading_pipe=*/false);
    expect_block_end();
    s->body = subparse({"endfilter"});
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_with() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::With;
    s->offset = advance().offset;  // 'with'
    SoftScope hard(soft_, false);
    while (cur().type != Tok::BlockEnd) {
      if (!s->assignments.empty()) expect_op(",");
      std::string name = expect_name();
      expect_op("=");
      s->assignments.emplace_back(std::move(name), parse_expression(true));
    }
    expect_block_end();
    s->body = subparse({"endwith"});
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_generation() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Scope;
    s->offset = advance().offset;  // 'generation'
    expect_block_end();
    s->body = subparse({"endgeneration"});
    advance();
    expect_block_end();
    return s;
  }

  // ---- expressions ----

  bool is_tuple_end(const std::vector<std::string>& extra_end) const {
    const Token& t = cur();
    if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd || t.type == Tok::Eof) return true;
    if (t.type == Tok::Op && t.text == ")") return true;
    if (t.type == Tok::Name)
      for (const auto& e : extra_end)
        if (t.text == e) return true;
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr, const std::vector<std::string>& extra_end, bool explicit_parens) {
    uint32_t at = cur().offset;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail_here(fmt::format("expected an expression, got {}", describe(cur())));
    }
    auto e = node(ExprKind::Tuple, at);
    e->args = std::move(items);
    return deepen(std::move(e));
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this, cur().offset);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    const size_t mark = unknown_.size();
    ExprPtr expr = parse_or();
    if (is_name("if")) {
      // The whole conditional expression, the part before `if` included, is soft.
      SoftScope soft(soft_, true);
      expr = parse_condexpr_tail(std::move(expr));
      for (size_t i = mark; i < unknown_.size(); ++i) unknown_[i].soft = true;
    }
    return expr;
  }

  ExprPtr parse_condexpr_tail(ExprPtr expr) {
    while (is_name("if")) {
      uint32_t at = advance().offset;
      auto e = node(ExprKind::CondExpr, at);
      ExprPtr cond = parse_or();
      ExprPtr other = skip_name("else") ? parse_condexpr() : nullptr;
      e->args.push_back(std::move(expr));
      e->args.push_back(std::move(cond));
      e->args.push_back(std::move(other));
      expr = deepen(std::move(e));
    }
    return expr;
  }

  ExprPtr binary(ExprKind kind, uint32_t at, ExprPtr a, ExprPtr b, std::string op = {}) {
    auto e = node(kind, at);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return deepen(std::move(e));
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      uint32_t at = advance().offset;
      left = binary(ExprKind::Or, at, std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      uint32_t at = advance().offset;
      left = binary(ExprKind::And, at, std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this, cur().offset);
      auto e = node(ExprKind::Not, advance().offset);
      e->args.push_back(parse_not());
      return deepen(std::move(e));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    uint32_t at = cur().offset;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == Tok::Op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = advance().text;
      } else if (is_name("in")) {
        advance();
        op = "in";
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        advance();
        advance();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(ExprKind::Compare, at);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? deepen(std::move(cmp)) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = advance();
      left = binary(ExprKind::Binary, t.offset, std::move(left), parse_concat(), t.text);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const Token& t = advance();
      left = binary(ExprKind::Binary, t.offset, std::move(left), parse_math2(), "~");
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = advance();
      left = binary(ExprKind::Binary, t.offset, std::move(left), parse_pow(), t.text);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token& t = advance();
      left = binary(ExprKind::Binary, t.offset, std::move(left), parse_unary(true), "**");
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this, cur().offset);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& t = advance();
      e = node(t.text == "-" ? ExprKind::Neg : ExprKind::Pos, t.offset);
      e->args.push_back(parse_unary(false));
      e = deepen(std::move(e));
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case Tok::Name: {
        advance();
        if (t.text == "true" || t.text == "True") return literal(Value::boolean(true), t.offset);
        if (t.text == "false" || t.text == "False") return literal(Value::boolean(false), t.offset);
        if (t.text == "none" || t.text == "None") return literal(Value::none(), t.offset);
        auto e = node(ExprKind::Name, t.offset);
        e->name = t.text;
        for (MacroDef* m : macros_) {
          if (t.text == "varargs") m->uses_varargs = true;
          if (t.text == "kwargs") m->uses_kwargs = true;
          if (t.text == "caller") m->uses_caller = true;
        }
        return e;
      }
      case Tok::String: {
        std::string s;
        uint32_t at = t.offset;
        while (cur().type == Tok::String) s += advance().text;  // adjacent literals join
        return literal(Value::string(std::move(s)), at);
      }
      case Tok::Integer: advance(); return literal(Value::integer(t.int_value), t.offset);
      case Tok::Float: advance(); return literal(Value::number(t.float_value), t.offset);
      case Tok::Op:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default: break;
    }
    fail_here(fmt::format("unexpected {}", describe(t)));
  }

  ExprPtr literal(Value v, uint32_t at) {
    auto e = node(ExprKind::Literal, at);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parse_list() {
    auto e = node(ExprKind::List, advance().offset);
    while (!is_op("]")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("]")) break;
      e->args.push_back(parse_expression(true));
    }
    advance();
    return deepen(std::move(e));
  }

  ExprPtr parse_dict() {
    auto e = node(ExprKind::Dict, advance().offset);
    while (!is_op("}")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("}")) break;
      e->args.push_back(parse_expression(true));
      expect_op(":");
      e->args.push_back(parse_expression(true));
    }
    advance();
    return deepen(std::move(e));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".")) {
        uint32_t at = advance().offset;
        if (cur().type == Tok::Integer) {
          auto g = node(ExprKind::GetItem, at);
          g->args.push_back(std::move(e));
          g->args.push_back(literal(Value::integer(advance().int_value), at));
          e = deepen(std::move(g));
        } else {
          auto g = node(ExprKind::GetAttr, at);
          g->name = expect_name();
          g->args.push_back(std::move(e));
          e = deepen(std::move(g));
        }
      } else if (is_op("[")) {
        e = deepen(parse_subscript(std::move(e)));
      } else if (is_op("(")) {
        e = deepen(parse_call(std::move(e)));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    uint32_t at = advance().offset;  // '['
    ExprPtr parts[3];
    bool is_slice = false;
    if (!is_op(":")) {
      parts[0] = parse_expression(true);
      if (!is_op(":")) {
        auto g = node(ExprKind::GetItem, at);
        g->args.push_back(std::move(obj));
        if (is_op(",")) {  // obj[a, b]: a tuple key
          auto t = node(ExprKind::Tuple, parts[0]->offset);
          t->args.push_back(std::move(parts[0]));
          while (skip_op(",")) {
            if (is_op("]")) break;
            t->args.push_back(parse_expression(true));
          }
          parts[0] = std::move(t);
        }
        g->args.push_back(std::move(parts[0]));
        expect_op("]");
        return g;
      }
    }
    is_slice = true;
    advance();  // ':'
    if (!is_op(":") && !is_op("]")) parts[1] = parse_expression(true);
    if (skip_op(":")) {
      if (!is_op("]")) parts[2] = parse_expression(true);
    }
    expect_op("]");
    auto s = node(ExprKind::Slice, at);
    s->args.push_back(std::move(obj));
    for (auto& p : parts) s->args.push_back(std::move(p));
    (void)is_slice;
    return s;
  }

  // Call arguments into e->args (after whatever e->args already holds) and e->kwarg_names.
  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) {
        bool kw = advance().text == "**";
        (kw ? e.star_kwargs : e.star_args) = parse_expression(true);
        continue;
      }
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        std::string key = advance().text;
        advance();
        e.kwarg_names.push_back(std::move(key));
        e.args.push_back(parse_expression(true));
        continue;
      }
      if (!e.kwarg_names.empty()) fail_here("positional argument follows keyword argument");
      e.args.push_back(parse_expression(true));
    }
    advance();
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = node(ExprKind::Call, callee->offset);  // errors point at the callee's name
    e->args.push_back(std::move(callee));
    parse_call_args(*e);
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = deepen(parse_call(std::move(e)));
      } else {
        return e;
      }
    }
  }

  // One or more `| name(args)`; subject null for {% filter %} and {% set x | f %}.
  ExprPtr parse_filter_chain(ExprPtr subject, bool leading_pipe = true) {
    bool first = true;
    while (first ? (!leading_pipe || is_op("|")) : is_op("|")) {
      if (leading_pipe || !first) advance();  // '|'
      first = false;
      const Token& name_tok = cur();
      std::string name = expect_name();
      while (skip_op(".")) name += "." + expect_name();
      if (!is_known_filter(name)) unknown_.push_back({name_tok.offset, fmt::format("unknown filter '{}'", name), soft_});
      auto f = node(ExprKind::Filter, name_tok.offset);
      f->name = std::move(name);
      f->args.push_back(std::move(subject));
      if (is_op("(")) parse_call_args(*f);
      subject = deepen(std::move(f));
      if (!leading_pipe && !is_op("|")) break;
    }
    return subject;
  }

  ExprPtr parse_test(ExprPtr subject) {
    advance();  // 'is'
    bool negated = skip_name("not");
    const Token& name_tok = cur();
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    if (!is_known_test(name)) unknown_.push_back({name_tok.offset, fmt::format("unknown test '{}'", name), soft_});
    auto t = node(ExprKind::Test, name_tok.offset);
    t->name = std::move(name);
    t->negated = negated;
    t->args.push_back(std::move(subject));
    const Token& c = cur();
    if (is_op("(")) {
      parse_call_args(*t);
    } else if ((c.type == Tok::Name || c.type == Tok::String || c.type == Tok::Integer ||
                c.type == Tok::Float || (c.type == Tok::Op && (c.text == "[" || c.text == "{"))) &&
               !(c.type == Tok::Name && (c.text == "else" || c.text == "or" || c.text == "and"))) {
      if (c.type == Tok::Name && c.text == "is") fail_here("cannot chain multiple tests with 'is'");
      t->args.push_back(parse_postfix(parse_primary()));
    }
    return deepen(std::move(t));
  }
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const std::string& source) {
  return Parser(tokens, source).parse_template();
}

}  // namespace ax::jinja
