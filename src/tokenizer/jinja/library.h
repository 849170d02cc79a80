#pragma once
// The built-in library templates call into: filters (`x | trim`), tests (`x is defined`),
// methods on str/dict/list (`s.startswith('a')`, `d.items()`) and globals (range, namespace,
// dict, raise_exception, strftime_now), with jinja2's and Python's semantics.
#include <string_view>

#include "tokenizer/jinja/interpreter.h"

namespace ax::jinja {

using FilterFn = Value (*)(Interpreter&, const Value& subject, CallArgs& args);
using TestFn = bool (*)(Interpreter&, const Value& subject, CallArgs& args);

const FilterFn* find_filter(std::string_view name);
const TestFn* find_test(std::string_view name);
inline bool is_known_filter(std::string_view name) { return find_filter(name) != nullptr; }
inline bool is_known_test(std::string_view name) { return find_test(name) != nullptr; }

// The bound method `obj.name`, or nothing when the type has no such method. Methods the sandbox
// forbids (list.append, dict.update, ...) come back as an Undefined that fails when called.
std::optional<Value> find_method(const Value& obj, const std::string& name);

// Globals every template sees.
void add_globals(Scope& scope);

// Shared helpers.
std::string str_arg(const Value& v);                  // str(), for filter arguments
std::vector<Value> sorted_values(std::vector<Value> items, bool case_sensitive, bool reverse,
                                 const std::string& attribute);

}  // namespace ax::jinja
