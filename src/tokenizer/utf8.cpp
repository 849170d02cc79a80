#include "tokenizer/utf8.h"

namespace ax::utf8 {

namespace {
// Length of the valid sequence starting at s[i], or 0 when it is invalid. `truncated` says the
// bytes seen so far are a valid beginning cut off by the end of the string.
size_t valid_len(std::string_view s, size_t i, bool* truncated) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  *truncated = false;
  uint8_t b0 = p[i];
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (RFC 3629 table)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;       // no overlong 3-byte forms
    else if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;       // no overlong 4-byte forms
    else if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= n) {
      *truncated = true;
      return 0;
    }
    uint8_t b = p[i + k];
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
  }
  return len;
}
}  // namespace

size_t find_invalid(std::string_view s) {
  size_t i = 0;
  bool truncated;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t len = valid_len(s, i, &truncated);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

size_t complete_prefix(std::string_view s) {
  // Only the last (up to) 3 bytes can be an incomplete sequence.
  size_t n = s.size();
  size_t start = n > 3 ? n - 3 : 0;
  for (size_t i = start; i < n; ++i) {
    auto b = static_cast<uint8_t>(s[i]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte
    bool truncated;
    if (b >= 0x80 && valid_len(s, i, &truncated) == 0 && truncated) return i;
  }
  return n;
}

uint32_t decode(std::string_view s, size_t& i) {
  auto b0 = static_cast<uint8_t>(s[i]);
  size_t len = seq_len(b0);
  if (len == 1 || i + len > s.size()) {
    ++i;
    return b0;
  }
  uint32_t cp = b0 & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  bool truncated;
  while (i < s.size()) {
    size_t len = valid_len(s, i, &truncated);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      // One U+FFFD per stray byte; a valid lead byte takes its (cut-off) continuation bytes along.
      auto lead = static_cast<uint8_t>(s[i]);
      ++i;
      if (lead >= 0xC2 && lead <= 0xF4) {
        size_t want = seq_len(lead) - 1;
        while (want-- > 0 && i < s.size() && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) ++i;
      }
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace ax::utf8
