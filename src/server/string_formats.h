#pragma once
// JSON Schema "format" values for strings, as anchored regular expressions (regex.h) that the
// schema compiler turns into automata like any "pattern". Each writes the part of its format that
// the validators clients check replies with (Zod, Pydantic, ajv) all accept: a subset of the
// standard, never more (string_formats.cpp says where each is narrower).
#include <string>

namespace ax::server {

// The expression for a string format, or nullptr for a format not enforced (the compiler then
// refuses it with a 400 naming it).
const char* string_format_pattern(const std::string& format);

// The formats string_format_pattern knows, for error messages.
const char* supported_string_formats();

}  // namespace ax::server
