#include "tokenizer/jinja/lexer.h"

#include <fmt/format.h>

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {

std::string normalize_source(std::string_view source) {
  // jinja2: newline_re.split(source) on \r\n | \r | \n, joined with "\n", and a final empty
  // line (the source ended with a line break) dropped.
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      out.push_back('\n');
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool is_ws_at(std::string_view s, size_t i, size_t* len) {
  size_t j = i;
  char32_t c = utf8::next(s, j);
  *len = j - i;
  return utf8::is_space(c);
}

size_t skip_ws(std::string_view s, size_t i) {
  size_t len;
  while (i < s.size() && is_ws_at(s, i, &len)) i += len;
  return i;
}

std::string rstrip_ws(std::string_view s) {
  auto cps = utf8::decode(s);
  while (!cps.empty() && utf8::is_space(cps.back())) cps.pop_back();
  return utf8::encode(cps);
}

bool all_ws(std::string_view s) {
  if (s.empty()) return false;  // jinja's \s+ needs at least one character
  for (size_t i = 0; i < s.size();) {
    size_t len;
    if (!is_ws_at(s, i, &len)) return false;
    i += len;
  }
  return true;
}

bool starts(std::string_view s, size_t i, std::string_view what) { return s.substr(i, what.size()) == what; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : src_(src) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    const size_t n = src_.size();
    while (pos < n) {
      size_t p = find_tag(pos);
      if (p == std::string::npos) {
        emit_data(pos, src_.substr(pos));
        break;
      }
      std::string text = src_.substr(pos, p - pos);
      char kind = src_[p + 1];
      size_t q = p + 2;
      char sign = 0;
      if (q < n && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      size_t raw_body = kind == '%' ? match_raw_begin(q) : std::string::npos;
      strip_before(text, sign, kind != '{', line_starting);
      emit_data(pos, text);
      if (kind == '#') {
        pos = lex_comment(p, q, &line_starting);
      } else if (raw_body != std::string::npos) {
        pos = lex_raw(p, raw_body, &line_starting);
      } else {
        pos = lex_tag(p, q, kind == '{', &line_starting);
      }
    }
    tokens_.push_back(Token{Tok::Eof, static_cast<uint32_t>(n), {}});
    return std::move(tokens_);
  }

 private:
  const std::string& src_;
  std::vector<Token> tokens_;

  [[noreturn]] void fail(size_t offset, std::string why) const {
    syntax_fail(src_, static_cast<uint32_t>(offset), std::move(why));
  }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return std::string::npos;
  }

  void emit_data(size_t offset, std::string text) {
    if (text.empty()) return;
    tokens_.push_back(Token{Tok::Data, static_cast<uint32_t>(offset), std::move(text)});
  }

  // jinja2's OptionalLStrip: '-' strips all whitespace before the tag; otherwise a block or
  // comment tag preceded on its line only by whitespace takes that whitespace away.
  static void strip_before(std::string& text, char sign, bool is_block, bool line_starting) {
    if (sign == '-') {
      text = rstrip_ws(text);
    } else if (sign != '+' && is_block) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && all_ws(std::string_view(text).substr(l_pos)))
        text.resize(l_pos);
    }
  }

  // After "{%" and its sign: `\s*raw\s*(-%}\s*|%})`. Returns where the raw body starts.
  size_t match_raw_begin(size_t q) const {
    size_t i = skip_ws(src_, q);
    if (!starts(src_, i, "raw")) return std::string::npos;
    i = skip_ws(src_, i + 3);
    if (starts(src_, i, "-%}")) return skip_ws(src_, i + 3);
    if (starts(src_, i, "%}")) return i + 2;
    return std::string::npos;
  }

  size_t lex_raw(size_t tag_start, size_t body, bool* line_starting) {
    *line_starting = src_[body - 1] == '\n';
    for (size_t i = src_.find("{%", body); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t j = i + 2;
      char sign = 0;
      if (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) sign = src_[j++];
      j = skip_ws(src_, j);
      if (!starts(src_, j, "endraw")) continue;
      j = skip_ws(src_, j + 6);
      size_t end;
      if (starts(src_, j, "+%}")) {
        end = j + 3;
      } else if (starts(src_, j, "-%}")) {
        end = skip_ws(src_, j + 3);
      } else if (starts(src_, j, "%}")) {
        end = j + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;  // trim_blocks
      } else {
        continue;
      }
      std::string text = src_.substr(body, i - body);
      strip_before(text, sign, true, *line_starting);
      emit_data(body, std::move(text));
      *line_starting = src_[end - 1] == '\n';
      return end;
    }
    fail(tag_start, "missing end of raw block ({% endraw %})");
  }

  size_t lex_comment(size_t tag_start, size_t q, bool* line_starting) {
    size_t e = src_.find("#}", q);
    if (e == std::string::npos) fail(tag_start, "missing end of comment tag");
    size_t end = e + 2;
    if (e > q && src_[e - 1] == '-') {
      end = skip_ws(src_, end);
    } else if (e > q && src_[e - 1] == '+') {
      // keep what follows
    } else if (end < src_.size() && src_[end] == '\n') {
      ++end;  // trim_blocks
    }
    *line_starting = src_[end - 1] == '\n';
    return end;
  }

  size_t lex_tag(size_t tag_start, size_t q, bool variable, bool* line_starting) {
    tokens_.push_back(Token{variable ? Tok::VarBegin : Tok::BlockBegin, static_cast<uint32_t>(tag_start), {}});
    std::string brackets;  // jinja only ends a tag when (), [] and {} are balanced
    size_t i = q;
    const size_t n = src_.size();
    while (true) {
      i = skip_ws(src_, i);
      if (i >= n) fail(tag_start, variable ? "unexpected end of template: unclosed '{{'"
                                            : "unexpected end of template: unclosed '{%'");
      if (brackets.empty()) {
        size_t end = 0;
        if (variable) {
          if (starts(src_, i, "-}}")) end = skip_ws(src_, i + 3);
          else if (starts(src_, i, "}}")) end = i + 2;
        } else {
          if (starts(src_, i, "+%}")) {
            end = i + 3;
          } else if (starts(src_, i, "-%}")) {
            end = skip_ws(src_, i + 3);
          } else if (starts(src_, i, "%}")) {
            end = i + 2;
            if (end < n && src_[end] == '\n') ++end;  // trim_blocks
          }
        }
        if (end) {
          tokens_.push_back(Token{variable ? Tok::VarEnd : Tok::BlockEnd, static_cast<uint32_t>(i), {}});
          *line_starting = src_[end - 1] == '\n';
          return end;
        }
      }
      char c = src_[i];
      if (c == '\'' || c == '"') {
        i = lex_string(i);
      } else if (c >= '0' && c <= '9') {
        i = lex_number(i);
      } else if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        size_t j = i;
        while (j < n && (src_[j] == '_' || std::isalnum(static_cast<unsigned char>(src_[j])))) ++j;
        tokens_.push_back(Token{Tok::Name, static_cast<uint32_t>(i), src_.substr(i, j - i)});
        i = j;
      } else {
        i = lex_operator(i, brackets);
      }
    }
  }

  size_t lex_operator(size_t i, std::string& brackets) {
    static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%",
                                       "~",  "[",  "]",  "(",  ")",  "{",  "}", ">", "<", "=", ".",
                                       ":",  "|",  ",",  ";"};
    for (const char* op : kOps) {
      std::string_view o(op);
      if (!starts(src_, i, o)) continue;
      char c = o[0];
      if (o.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (o.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (brackets.empty()) fail(i, fmt::format("unexpected '{}'", c));
        if (brackets.back() != c) fail(i, fmt::format("unexpected '{}', expected '{}'", c, brackets.back()));
        brackets.pop_back();
      }
      tokens_.push_back(Token{Tok::Op, static_cast<uint32_t>(i), std::string(o)});
      return i + o.size();
    }
    size_t j = i;
    char32_t cp = utf8::next(src_, j);
    std::string ch;
    utf8::append(ch, cp);
    fail(i, fmt::format("unexpected character '{}'", ch));
  }

  // Digits with optional single underscores between them: (\d+_)*\d+
  size_t digits(size_t i, bool (*ok)(char)) const {
    size_t j = i;
    if (j >= src_.size() || !ok(src_[j])) return i;
    while (j < src_.size()) {
      if (ok(src_[j])) {
        ++j;
      } else if (src_[j] == '_' && j + 1 < src_.size() && ok(src_[j + 1])) {
        j += 2;
      } else {
        break;
      }
    }
    return j;
  }

  size_t lex_number(size_t i) {
    static auto dec = [](char c) { return c >= '0' && c <= '9'; };
    auto strip_us = [](std::string s) {
      std::string out;
      for (char c : s)
        if (c != '_') out.push_back(c);
      return out;
    };
    const size_t n = src_.size();
    // Float: int part, then .digits and/or exponent.
    size_t j = digits(i, dec);
    size_t k = j;
    bool is_float = false;
    if (k < n && src_[k] == '.' && k + 1 < n && dec(src_[k + 1])) {
      k = digits(k + 1, dec);
      is_float = true;
    }
    if (k < n && (src_[k] == 'e' || src_[k] == 'E')) {
      size_t e = k + 1;
      if (e < n && (src_[e] == '+' || src_[e] == '-')) ++e;
      size_t e2 = digits(e, dec);
      if (e2 > e) {
        k = e2;
        is_float = true;
      }
    }
    if (is_float) {
      Token t{Tok::Float, static_cast<uint32_t>(i), src_.substr(i, k - i)};
      // As Python's float(): out of range gives inf (or 0 on underflow), never an error.
      // (std::stod would throw std::out_of_range there.)
      t.float_value = std::strtod(strip_us(t.text).c_str(), nullptr);
      tokens_.push_back(std::move(t));
      return k;
    }
    // Integer: 0b / 0o / 0x prefixes, or decimal (no leading zeros except 0, 00, 0_0).
    int base = 10;
    size_t start = i;
    if (src_[i] == '0' && i + 1 < n) {
      char p = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[i + 1])));
      if (p == 'b' || p == 'o' || p == 'x') {
        base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
        start = i + 2;
      }
    }
    size_t end;
    if (base != 10) {
      auto ok = [&](size_t at) { return at < n && hex_value(src_[at]) >= 0 && hex_value(src_[at]) < base; };
      end = start;
      while (true) {
        if (ok(end)) ++end;
        else if (src_[end] == '_' && ok(end + 1)) end += 2;
        else break;
      }
      if (end == start) fail(i, "malformed number literal");
    } else if (src_[i] == '0') {
      end = i + 1;
      while (end < n) {
        if (src_[end] == '0') ++end;
        else if (src_[end] == '_' && end + 1 < n && src_[end + 1] == '0') end += 2;
        else break;
      }
    } else {
      end = j;
    }
    std::string body = strip_us(src_.substr(start, end - start));
    Token t{Tok::Integer, static_cast<uint32_t>(i), src_.substr(i, end - i)};
    errno = 0;
    char* stop = nullptr;
    unsigned long long v = std::strtoull(body.c_str(), &stop, base);
    if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
      fail(i, "integer literal too large (limit: 2^63-1)");
    t.int_value = static_cast<int64_t>(v);
    tokens_.push_back(std::move(t));
    return end;
  }

  // A quoted literal, decoded as jinja2 does: Python "unicode-escape" rules.
  size_t lex_string(size_t i) {
    const char quote = src_[i];
    const size_t n = src_.size();
    std::string out;
    size_t j = i + 1;
    while (true) {
      if (j >= n) fail(i, "unterminated string literal");
      char c = src_[j];
      if (c == quote) break;
      if (c != '\\') {
        out.push_back(c);
        ++j;
        continue;
      }
      if (j + 1 >= n) fail(i, "unterminated string literal");
      size_t k = j + 1;
      char e = src_[k];
      switch (e) {
        case '\n': j = k + 1; continue;
        case '\\': out.push_back('\\'); j = k + 1; continue;
        case '\'': out.push_back('\''); j = k + 1; continue;
        case '"': out.push_back('"'); j = k + 1; continue;
        case 'a': out.push_back('\a'); j = k + 1; continue;
        case 'b': out.push_back('\b'); j = k + 1; continue;
        case 'f': out.push_back('\f'); j = k + 1; continue;
        case 'n': out.push_back('\n'); j = k + 1; continue;
        case 'r': out.push_back('\r'); j = k + 1; continue;
        case 't': out.push_back('\t'); j = k + 1; continue;
        case 'v': out.push_back('\v'); j = k + 1; continue;
        default: break;
      }
      if (e >= '0' && e <= '7') {
        char32_t v = 0;
        size_t m = k;
        while (m < n && m < k + 3 && src_[m] >= '0' && src_[m] <= '7') v = v * 8 + (src_[m++] - '0');
        utf8::append(out, v);
        j = m;
        continue;
      }
      if (e == 'x' || e == 'u' || e == 'U') {
        size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        char32_t v = 0;
        for (size_t m = 0; m < len; ++m) {
          int h = k + 1 + m < n ? hex_value(src_[k + 1 + m]) : -1;
          if (h < 0) fail(j, fmt::format("truncated \\{} escape in string literal", e));
          v = v * 16 + h;
        }
        if (v > 0x10FFFF) fail(j, "illegal Unicode character in string literal escape");
        utf8::append(out, v);
        j = k + 1 + len;
        continue;
      }
      if (e == 'N') fail(j, "\\N{...} escapes are not supported in string literals");
      if (static_cast<unsigned char>(e) >= 0x80) {
        // Python first turns the character into \xNN / \uNNNN, whose backslash the template's
        // backslash then escapes: the text becomes a literal backslash and that escape code.
        size_t m = k;
        char32_t cp = utf8::next(src_, m);
        out.push_back('\\');
        if (cp < 0x100) out += fmt::format("x{:02x}", static_cast<unsigned>(cp));
        else if (cp < 0x10000) out += fmt::format("u{:04x}", static_cast<unsigned>(cp));
        else out += fmt::format("U{:08x}", static_cast<unsigned>(cp));
        j = m;
        continue;
      }
      out.push_back('\\');  // unknown escapes stay as written
      out.push_back(e);
      j = k + 1;
    }
    tokens_.push_back(Token{Tok::String, static_cast<uint32_t>(i), std::move(out)});
    return j + 1;
  }
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(source).run(); }

}  // namespace ax::jinja
