// jinja2's built-in tests (`x is defined`, `x is string`, `n is divisibleby 3`, ...).
#include <fmt/format.h>

#include "tokenizer/jinja/library.h"
#include "tokenizer/jinja/ops.h"
#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {
namespace {

using Params = std::vector<std::string_view>;

const Value& other(const CallArgs& a, const char* test) {
  if (a.positional.size() != 1 || !a.keyword.empty())
    runtime_fail(fmt::format("test '{}' takes exactly one argument", test));
  return a.positional[0];
}

void no_args(const CallArgs& a, const char* test) {
  if (!a.positional.empty() || !a.keyword.empty()) runtime_fail(fmt::format("test '{}' takes no arguments", test));
}

bool t_defined(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "defined"); return !v.is_undefined(); }
bool t_undefined(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "undefined"); return v.is_undefined(); }
bool t_none(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "none"); return v.is_none(); }
bool t_string(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "string"); return v.is_string(); }
bool t_number(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "number"); return v.is_number(); }
bool t_integer(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "integer"); return v.is_int(); }
bool t_float(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "float"); return v.is_float(); }
bool t_boolean(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "boolean"); return v.is_bool(); }
bool t_true(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "true"); return v.is_bool() && v.as_bool(); }
bool t_false(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "false"); return v.is_bool() && !v.as_bool(); }
bool t_mapping(Interpreter&, const Value& v, CallArgs& a) { no_args(a, "mapping"); return v.is_dict(); }
// jinja2's Undefined defines __call__ (to fail), so Python's callable() says yes.
bool t_callable(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "callable");
  return v.is_function() || v.is_undefined();
}
bool t_escaped(Interpreter&, const Value&, CallArgs& a) { no_args(a, "escaped"); return false; }
// Python: anything with __iter__ (Undefined included); sequences also need len and [].
bool t_iterable(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "iterable");
  return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
bool t_sequence(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "sequence");
  // Undefined has len() (0) and [] (that fails), which is all jinja2's test checks.
  return v.is_string() || (v.is_list() && !v.is_generator()) || v.is_dict() || v.is_undefined();
}
// jinja2: value % 2 == 1, value % 2 == 0, value % n == 0 (Python %, so floats work too).
bool t_odd(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "odd");
  return equals(binary_op("%", v, Value::integer(2)), Value::integer(1));
}
bool t_even(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "even");
  return equals(binary_op("%", v, Value::integer(2)), Value::integer(0));
}
bool t_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
  return equals(binary_op("%", v, other(a, "divisibleby")), Value::integer(0));
}
bool t_eq(Interpreter&, const Value& v, CallArgs& a) { return equals(v, other(a, "eq")); }
bool t_ne(Interpreter&, const Value& v, CallArgs& a) { return !equals(v, other(a, "ne")); }
bool t_lt(Interpreter&, const Value& v, CallArgs& a) { return less_than(v, other(a, "lt")); }
bool t_gt(Interpreter&, const Value& v, CallArgs& a) { return less_than(other(a, "gt"), v); }
bool t_le(Interpreter&, const Value& v, CallArgs& a) {
  const Value& o = other(a, "le");
  return less_than(v, o) || equals(v, o);
}
bool t_ge(Interpreter&, const Value& v, CallArgs& a) {
  const Value& o = other(a, "ge");
  return less_than(o, v) || equals(v, o);
}
bool t_in(Interpreter&, const Value& v, CallArgs& a) { return contains(other(a, "in"), v); }
bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  const Value& o = other(a, "sameas");
  if (v.kind() != o.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::None:
    case Value::Kind::Undefined: return true;
    case Value::Kind::Bool: return v.as_bool() == o.as_bool();
    case Value::Kind::List:
    case Value::Kind::Dict:
    case Value::Kind::Namespace:
    case Value::Kind::Function: return v.identity() == o.identity();
    default: return equals(v, o);
  }
}
bool t_lower(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "lower");
  std::string s = to_str(v);
  bool cased = false;
  for (char32_t c : utf8::decode(s)) {
    if (utf8::to_lower(c) != c) return false;
    cased = cased || utf8::is_cased(c);
  }
  return cased;
}
bool t_upper(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "upper");
  std::string s = to_str(v);
  bool cased = false;
  for (char32_t c : utf8::decode(s)) {
    if (utf8::to_upper(c) != c) return false;
    cased = cased || utf8::is_cased(c);
  }
  return cased;
}
bool t_filter(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "filter");
  return v.is_string() && find_filter(v.str()) != nullptr;
}
bool t_test(Interpreter&, const Value& v, CallArgs& a) {
  no_args(a, "test");
  return v.is_string() && find_test(v.str()) != nullptr;
}

const std::unordered_map<std::string_view, TestFn>& tests() {
  static const std::unordered_map<std::string_view, TestFn> kTests = {
      {"defined", t_defined},   {"undefined", t_undefined}, {"none", t_none},
      {"string", t_string},     {"number", t_number},       {"integer", t_integer},
      {"float", t_float},       {"boolean", t_boolean},     {"true", t_true},
      {"false", t_false},       {"mapping", t_mapping},     {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable},   {"escaped", t_escaped},
      {"odd", t_odd},           {"even", t_even},           {"divisibleby", t_divisibleby},
      {"eq", t_eq},             {"equalto", t_eq},          {"==", t_eq},
      {"ne", t_ne},             {"!=", t_ne},               {"lt", t_lt},
      {"lessthan", t_lt},       {"<", t_lt},                {"le", t_le},
      {"<=", t_le},             {"gt", t_gt},               {"greaterthan", t_gt},
      {">", t_gt},              {"ge", t_ge},               {">=", t_ge},
      {"in", t_in},             {"sameas", t_sameas},       {"lower", t_lower},
      {"upper", t_upper},       {"filter", t_filter},       {"test", t_test},
  };
  return kTests;
}

}  // namespace

const TestFn* find_test(std::string_view name) {
  const auto& t = tests();
  auto it = t.find(name);
  return it == t.end() ? nullptr : &it->second;
}

}  // namespace ax::jinja
