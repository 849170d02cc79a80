#pragma once
// UTF-8 helpers giving Python str semantics to byte strings: templates index, slice, strip and
// change case by code point, as Python does. Invalid bytes decode to U+DC80..U+DCFF
// (Python's "surrogateescape") and encode back to the same byte, so nothing is ever lost.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ax::jinja::utf8 {

// Decodes the code point at s[i], advancing i.
char32_t next(std::string_view s, size_t& i);
void append(std::string& out, char32_t cp);
std::vector<char32_t> decode(std::string_view s);
std::string encode(const std::vector<char32_t>& cps);
bool is_ascii(std::string_view s);
size_t length(std::string_view s);  // in code points

// Python str.isspace() for one code point (also what str.strip()/split() treat as whitespace).
bool is_space(char32_t c);
// Python str.isprintable() for one code point (approximate beyond the common ranges).
bool is_printable(char32_t c);
// Simple case mappings for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; other
// scripts have no case or map to themselves.
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
bool is_cased(char32_t c);   // has an upper/lower distinction (Python's "cased")
bool is_alnum(char32_t c);   // letters and digits (approximate beyond ASCII: any cased or CJK)

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string strip(std::string_view s, bool left, bool right);  // Python whitespace
std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right);

}  // namespace ax::jinja::utf8
