#pragma once
// JSON Schema "format" values for strings, as anchored regular expressions (regex.h) that the
// schema compiler turns into automata like any "pattern". The expressions check each field's
// range (month 01-12, hour 00-23, an IPv4 byte 0-255), not calendars: 2023-02-31 passes "date".
#include <string>

namespace ax::server {

// The expression for a string format, or nullptr for a format not enforced (the compiler then
// refuses it with a 400 naming it).
const char* string_format_pattern(const std::string& format);

// The formats string_format_pattern knows, for error messages.
const char* supported_string_formats();

}  // namespace ax::server
