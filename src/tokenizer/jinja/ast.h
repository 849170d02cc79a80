#pragma once
// The parsed template: expressions and statements, each remembering its byte offset in the
// normalized source so errors can say line and column.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace ax::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind : uint8_t {
  Literal,   // literal
  Name,      // name
  List,      // args: items
  Tuple,     // args: items
  Dict,      // args: key, value, key, value, ...
  GetAttr,   // args[0].name            (dot: attribute first, then item)
  GetItem,   // args[0][args[1]]        (subscript: item first, then attribute)
  Slice,     // args[0][args[1]:args[2]:args[3]], absent parts null
  Call,      // args[0](args[1..]); the last kwarg_names.size() args are keyword arguments
  Filter,    // args[0] | name(args[1..]); args[0] null inside {% filter %} / {% set x | f %}
  Test,      // args[0] is [not] name(args[1..])
  Neg,       // -args[0]
  Pos,       // +args[0]
  Not,       // not args[0]
  Binary,    // args[0] op args[1], op in + - * / // % ** ~
  And,       // args[0] and args[1] (returns an operand, as Python)
  Or,
  Compare,   // args[0] ops[0] args[1] ops[1] args[2] ... (chained, as Python)
  CondExpr,  // args[0] if args[1] else args[2] (args[2] null: undefined)
};

struct Expr {
  ExprKind kind;
  uint32_t offset;
  std::string name;                     // Name, GetAttr, Filter, Test, Binary operator
  Value literal;                        // Literal
  std::vector<ExprPtr> args;
  std::vector<std::string> kwarg_names; // Call, Filter, Test
  std::vector<std::string> ops;         // Compare: "==", "!=", "<", "<=", ">", ">=", "in", "notin"
  ExprPtr star_args;                    // Call: *args / **kwargs
  ExprPtr star_kwargs;
  bool negated = false;                 // Test: "is not"
  uint16_t depth = 1;                   // 1 + deepest child: bounded so evaluation cannot overflow the stack
};

enum class StmtKind : uint8_t {
  Output,      // text
  Print,       // {{ expr }}
  If,          // conditions[i] -> bodies[i]; else_body
  For,         // targets in expr [if filter]: body, else_body
  Set,         // targets = expr, or ns.attr = expr
  SetBlock,    // {% set x %}body{% endset %}, optional filter chain
  Macro,       // {% macro name(params) %}body{% endmacro %}
  CallBlock,   // {% call(params) macro(args) %}body{% endcall %}
  FilterBlock, // {% filter f %}body{% endfilter %}
  With,        // {% with a = 1 %}body{% endwith %}
  Break,
  Continue,
  Scope,       // a body rendered in place ({% generation %})
};

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // per param, null when none
  Body body;
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
};

struct Stmt {
  StmtKind kind;
  uint32_t offset;
  std::string text;                    // Output
  ExprPtr expr;                        // Print, For iterable, Set value, CallBlock call, filters
  ExprPtr filter;                      // For: `if` condition; SetBlock/FilterBlock: filter chain
  std::vector<ExprPtr> conditions;     // If
  std::vector<Body> bodies;            // If branches
  Body body, else_body;
  std::vector<std::string> targets;    // For / Set / SetBlock names (several: unpacking)
  bool target_is_tuple = false;
  std::string ns_attr;                 // Set / SetBlock to targets[0].ns_attr
  std::shared_ptr<MacroDef> macro;     // Macro, CallBlock (the caller)
  std::vector<std::pair<std::string, ExprPtr>> assignments;  // With
};

}  // namespace ax::jinja
