#pragma once
// Python's operators on template values: + - * / // % ** ~, comparisons and `in`, with
// Python's results (7 // -2 == -4, 'a' * 3, [1] + [2], 1 == 1.0 == True) and its errors.
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace ax::jinja {

// Largest string or list (in bytes / items) an operation may build: a template cannot
// allocate its way out of memory by doubling a string in a loop.
void set_value_size_limit(size_t bytes);
size_t value_size_limit();
void check_size(size_t size);  // throws when size exceeds the limit

Value binary_op(std::string_view op, const Value& a, const Value& b);
Value negate(const Value& a);
bool less_than(const Value& a, const Value& b);  // Python <, TypeError for mixed types
bool contains(const Value& container, const Value& item);  // Python `item in container`
Value compare_op(std::string_view op, const Value& a, const Value& b);

// Python's printf-style formatting ("%s, %d" % args), as the format filter and % use it.
// mapping: the right operand when Python treats it as a mapping (anything with [] that is not a
// tuple or str: dict, list, Undefined); then %(name)s looks names up in it and unused arguments
// are not an error.
std::string percent_format(const std::string& fmt, const std::vector<Value>& args,
                           const Value* mapping = nullptr);

}  // namespace ax::jinja
