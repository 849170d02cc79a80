#pragma once
// Python's operators on template values: + - * / // % ** ~, comparisons and `in`, with
// Python's results (7 // -2 == -4, 'a' * 3, [1] + [2], 1 == 1.0 == True) and its errors.
#include <cstdint>
#include <optional>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace ax::jinja {

// Largest string or list (in bytes / items) an operation may build: a template cannot
// allocate its way out of memory by doubling a string in a loop.
void set_value_size_limit(size_t bytes);
size_t value_size_limit();
void check_size(size_t size);  // throws when size exceeds the limit

// The decimal number at the start of s: nullopt when s does not start with a digit or the number
// does not fit 64 bits. (std::stoul and friends throw std::invalid_argument / std::out_of_range
// instead, which would escape the template's error handling.)
std::optional<uint64_t> parse_decimal(std::string_view s);
// A width, precision or index written in a template (the digits at the start of s): a runtime
// error names `what` when there are none or the number exceeds value_size_limit().
size_t parse_size(std::string_view s, std::string_view what);

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
