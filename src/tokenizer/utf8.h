#pragma once
// UTF-8 helpers for the tokenizers: validation, code point decoding and encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ax::utf8 {

// Length of the sequence a lead byte announces (1 for ASCII and for stray continuation bytes,
// so that callers always make progress).
inline size_t seq_len(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Byte offset of the first invalid sequence (overlong forms, surrogates, > U+10FFFF, truncated
// sequences included), or npos when `s` is valid UTF-8.
size_t find_invalid(std::string_view s);
inline bool is_valid(std::string_view s) { return find_invalid(s) == std::string_view::npos; }

// Length of the longest prefix of `s` that ends on a complete, valid character boundary, such
// that the remaining tail could still become valid with more bytes (an incomplete sequence).
// Used by streaming decode: bytes past this point wait for the next token.
size_t complete_prefix(std::string_view s);

// Decodes the code point at s[i] (s must be valid UTF-8); advances i.
uint32_t decode(std::string_view s, size_t& i);
void append(std::string& out, uint32_t cp);

// Replaces invalid bytes with U+FFFD: one per stray byte or cut-off sequence.
std::string sanitize(std::string_view s);

}  // namespace ax::utf8
