#include "server/regex.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "server/api_error.h"

namespace ax::server {
namespace {

// A set of code points as sorted, disjoint, non-adjacent inclusive ranges.
struct CharSet {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;

  static CharSet of(uint32_t lo, uint32_t hi) { return CharSet{{{lo, hi}}}; }
  void add(uint32_t lo, uint32_t hi) {
    ranges.emplace_back(lo, hi);
    normalise();
  }
  void add(const CharSet& o) {
    ranges.insert(ranges.end(), o.ranges.begin(), o.ranges.end());
    normalise();
  }
  void normalise() {
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<uint32_t, uint32_t>> out;
    for (auto r : ranges) {
      if (!out.empty() && r.first <= out.back().second + 1) out.back().second = std::max(out.back().second, r.second);
      else out.push_back(r);
    }
    ranges = std::move(out);
  }
  CharSet complement() const {
    CharSet c;
    uint32_t next = 0;
    for (auto [lo, hi] : ranges) {
      if (lo > next) c.ranges.emplace_back(next, lo - 1);
      next = hi + 1;
    }
    if (next <= 0x10FFFF) c.ranges.emplace_back(next, 0x10FFFF);
    return c;
  }
  CharSet intersect(const CharSet& o) const {
    CharSet c;
    size_t i = 0, j = 0;
    while (i < ranges.size() && j < o.ranges.size()) {
      uint32_t lo = std::max(ranges[i].first, o.ranges[j].first);
      uint32_t hi = std::min(ranges[i].second, o.ranges[j].second);
      if (lo <= hi) c.ranges.emplace_back(lo, hi);
      (ranges[i].second < o.ranges[j].second) ? ++i : ++j;
    }
    return c;
  }
};

// What a JSON string can carry as the automaton writes it: scalar values (no surrogates) minus
// the control characters without a short escape.
const CharSet& writable() {
  static const CharSet s = [] {
    CharSet c;
    for (uint32_t b : {0x08u, 0x09u, 0x0Au, 0x0Cu, 0x0Du}) c.add(b, b);
    c.add(0x20, 0xD7FF);
    c.add(0xE000, 0x10FFFF);
    return c;
  }();
  return s;
}

CharSet digits() { return CharSet::of('0', '9'); }
CharSet word_chars() {
  CharSet c = digits();
  c.add('A', 'Z');
  c.add('a', 'z');
  c.add('_', '_');
  return c;
}
CharSet spaces() {  // ECMAScript WhiteSpace and LineTerminator
  CharSet c;
  for (uint32_t x : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x20u, 0xA0u, 0x1680u, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu,
                     0x3000u, 0xFEFFu})
    c.add(x, x);
  c.add(0x2000, 0x200A);
  return c;
}
CharSet dot() {  // anything but line terminators
  CharSet c;
  for (uint32_t x : {0x0Au, 0x0Du, 0x2028u, 0x2029u}) c.add(x, x);
  return c.complement();
}

// A parsed expression.
struct Re {
  enum class Kind { Set, Cat, Alt, Repeat, AtStart, AtEnd } kind = Kind::Cat;
  CharSet set;
  std::vector<Re> kids;
  int min = 0, max = -1;  // Repeat; max -1: unbounded
};

constexpr int kMaxRepeat = 1000;
constexpr size_t kMaxNfaStates = 200000;

class Parser {
 public:
  Parser(const std::string& pattern, const std::string& param) : param_(param) {
    // Decode UTF-8 into code points (the request body was valid JSON, hence valid UTF-8).
    for (size_t i = 0; i < pattern.size();) {
      uint8_t b = static_cast<uint8_t>(pattern[i]);
      int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
      uint32_t cp = len == 1 ? b : b & (0x7F >> len);
      for (int k = 1; k < len && i + k < pattern.size(); ++k) cp = cp << 6 | (static_cast<uint8_t>(pattern[i + k]) & 0x3F);
      cps_.push_back(cp);
      i += len;
    }
  }

  Re parse() {
    Re re = alternation();
    if (pos_ < cps_.size()) fail("has an unmatched ')'");
    return re;
  }

 private:
  [[noreturn]] void fail(const std::string& why) { bad_param(param_, "{} (at character {})", why, pos_); }
  [[noreturn]] void unsupported(const std::string& what) {
    bad_param(param_, "uses {}, which constrained decoding does not support", what);
  }
  bool at_end() const { return pos_ >= cps_.size(); }
  uint32_t peek(size_t ahead = 0) const { return pos_ + ahead < cps_.size() ? cps_[pos_ + ahead] : 0xFFFFFFFF; }
  uint32_t take() {
    if (at_end()) fail("ends too early");
    return cps_[pos_++];
  }
  bool eat(uint32_t c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  Re alternation() {
    Re alt;
    alt.kind = Re::Kind::Alt;
    alt.kids.push_back(sequence());
    while (eat('|')) alt.kids.push_back(sequence());
    return alt.kids.size() == 1 ? std::move(alt.kids[0]) : alt;
  }

  Re sequence() {
    Re cat;
    cat.kind = Re::Kind::Cat;
    while (!at_end() && peek() != '|' && peek() != ')') cat.kids.push_back(term());
    return cat;
  }

  // {n}, {n,}, {n,m} at pos_ (just after '{'): true and the bounds if it is one.
  bool read_braces(size_t at, int& lo, int& hi, size_t& end) const {
    auto number = [&](size_t& i, int& out) {
      size_t start = i;
      int64_t v = 0;
      while (i < cps_.size() && cps_[i] >= '0' && cps_[i] <= '9') v = std::min<int64_t>(v * 10 + (cps_[i++] - '0'), 1 << 30);
      out = static_cast<int>(v);
      return i > start;
    };
    size_t i = at;
    if (!number(i, lo)) return false;
    hi = lo;
    if (i < cps_.size() && cps_[i] == ',') {
      ++i;
      hi = -1;
      if (i < cps_.size() && cps_[i] >= '0' && cps_[i] <= '9') number(i, hi);
    }
    if (i >= cps_.size() || cps_[i] != '}') return false;
    end = i + 1;
    return true;
  }

  Re term() {
    Re atom;
    const uint32_t c = peek();
    if (c == '^' || c == '$') {
      ++pos_;
      atom.kind = c == '^' ? Re::Kind::AtStart : Re::Kind::AtEnd;
      return atom;  // a quantifier after an anchor is an error below (nothing to repeat)
    }
    if (c == '*' || c == '+' || c == '?') fail("has a quantifier with nothing to repeat");
    if (c == '{') {
      int lo, hi;
      size_t end;
      if (read_braces(pos_ + 1, lo, hi, end)) fail("has a quantifier with nothing to repeat");
    }
    atom = this->atom();
    for (;;) {
      int lo, hi;
      size_t end;
      if (eat('*')) lo = 0, hi = -1;
      else if (eat('+')) lo = 1, hi = -1;
      else if (eat('?')) lo = 0, hi = 1;
      else if (peek() == '{' && read_braces(pos_ + 1, lo, hi, end)) pos_ = end;
      else break;
      if (hi >= 0 && lo > hi) fail("has a quantifier {n,m} with n > m");
      if (lo > kMaxRepeat || hi > kMaxRepeat)
        bad_param(param_, "repeats something more than {} times, too many to enforce", kMaxRepeat);
      eat('?');  // lazy: the same set of strings
      if (peek() == '*' || peek() == '+' || peek() == '?') fail("has two quantifiers in a row");
      Re rep;
      rep.kind = Re::Kind::Repeat;
      rep.min = lo;
      rep.max = hi;
      rep.kids.push_back(std::move(atom));
      atom = std::move(rep);
    }
    return atom;
  }

  Re set_node(CharSet s) {
    Re r;
    r.kind = Re::Kind::Set;
    r.set = std::move(s);
    return r;
  }

  Re atom() {
    const uint32_t c = take();
    if (c == '.') return set_node(dot());
    if (c == '[') return set_node(char_class());
    if (c == '(') {
      if (eat('?')) {
        if (eat(':')) {
        } else if (peek() == '=' || peek() == '!') {
          unsupported("a lookahead '(?" + std::string(1, static_cast<char>(peek())) + "'");
        } else if (peek() == '<' && (peek(1) == '=' || peek(1) == '!')) {
          unsupported("a lookbehind '(?<" + std::string(1, static_cast<char>(peek(1))) + "'");
        } else if (eat('<')) {
          while (!at_end() && peek() != '>') ++pos_;
          if (!eat('>')) fail("has an unterminated group name");
        } else {
          unsupported("a group modifier '(?" + std::string(1, static_cast<char>(peek())) + "' (inline flags)");
        }
      }
      Re inner = alternation();
      if (!eat(')')) fail("has an unmatched '('");
      return inner;
    }
    if (c == ')') fail("has an unmatched ')'");
    if (c == '\\') return set_node(escape(/*in_class=*/false));
    return set_node(CharSet::of(c, c));
  }

  uint32_t hex_digits(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      uint32_t h = take();
      int d = h >= '0' && h <= '9' ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : -1;
      if (d < 0) fail("has a bad hexadecimal escape");
      v = v << 4 | d;
    }
    return v;
  }

  // After a backslash. Class escapes give sets; everything else one character.
  CharSet escape(bool in_class) {
    const uint32_t c = take();
    switch (c) {
      case 'd': return digits();
      case 'D': return digits().complement();
      case 'w': return word_chars();
      case 'W': return word_chars().complement();
      case 's': return spaces();
      case 'S': return spaces().complement();
      case 't': return CharSet::of(0x09, 0x09);
      case 'n': return CharSet::of(0x0A, 0x0A);
      case 'v': return CharSet::of(0x0B, 0x0B);
      case 'f': return CharSet::of(0x0C, 0x0C);
      case 'r': return CharSet::of(0x0D, 0x0D);
      case 'b':
        if (in_class) return CharSet::of(0x08, 0x08);
        unsupported("a word boundary '\\b'");
      case 'B': unsupported("a word boundary '\\B'");
      case 'p':
      case 'P': unsupported("a Unicode property class '\\" + std::string(1, static_cast<char>(c)) + "{...}'");
      case 'k': unsupported("a named backreference '\\k'");
      case 'c': {
        uint32_t l = take();
        if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z'))) fail("has a bad control escape '\\c'");
        return CharSet::of(l % 32, l % 32);
      }
      case 'x': {
        uint32_t v = hex_digits(2);
        return CharSet::of(v, v);
      }
      case 'u': {
        uint32_t v;
        if (eat('{')) {
          v = 0;
          int n = 0;
          while (!at_end() && peek() != '}') {
            v = v << 4 | hex_digits(1);
            if (++n > 6 || v > 0x10FFFF) fail("has a code point escape beyond U+10FFFF");
          }
          if (!eat('}') || n == 0) fail("has a bad '\\u{...}' escape");
        } else {
          v = hex_digits(4);
          // A surrogate pair written as two escapes is one character.
          if (v >= 0xD800 && v <= 0xDBFF && peek() == '\\' && peek(1) == 'u') {
            size_t save = pos_;
            pos_ += 2;
            uint32_t low = hex_digits(4);
            if (low >= 0xDC00 && low <= 0xDFFF) v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
            else pos_ = save;
          }
        }
        return CharSet::of(v, v);
      }
      case '0':
        if (peek() >= '0' && peek() <= '9') unsupported("an octal escape");
        return CharSet::of(0, 0);
      default:
        if (c >= '1' && c <= '9') {
          if (in_class) unsupported("an octal escape");
          unsupported("a backreference '\\" + std::string(1, static_cast<char>(c)) + "'");
        }
        return CharSet::of(c, c);  // escaped punctuation (and, leniently, any other character)
    }
  }

  CharSet char_class() {
    const bool negate = eat('^');
    CharSet set;
    // One member: a character (single) or a class escape (a set).
    auto member = [&](bool& single, uint32_t& ch) -> CharSet {
      uint32_t c = take();
      if (c == '\\') {
        CharSet s = escape(/*in_class=*/true);
        single = s.ranges.size() == 1 && s.ranges[0].first == s.ranges[0].second;
        ch = single ? s.ranges[0].first : 0;
        return s;
      }
      single = true;
      ch = c;
      return CharSet::of(c, c);
    };
    while (!eat(']')) {
      if (at_end()) fail("has an unterminated character class '['");
      bool single_a;
      uint32_t a;
      CharSet first = member(single_a, a);
      if (peek() == '-' && peek(1) != ']' && peek(1) != 0xFFFFFFFF) {
        ++pos_;
        bool single_b;
        uint32_t b;
        CharSet second = member(single_b, b);
        if (single_a && single_b) {
          if (a > b) fail("has a class range out of order");
          set.add(a, b);
        } else {
          // A class escape at either end: the '-' is itself a member (Annex B).
          set.add(first);
          set.add('-', '-');
          set.add(second);
        }
        continue;
      }
      set.add(first);
    }
    return negate ? set.complement() : set;
  }

  std::string param_;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
};

// UTF-8 encodings of the code points lo..hi (one encoded length, no surrogates) as sequences of
// byte ranges: every byte string in a sequence's product is the encoding of a code point in the
// range, and each such encoding is in exactly one sequence.
void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<std::vector<std::pair<uint8_t, uint8_t>>>& out) {
  if (lo > hi) return;
  for (uint32_t limit : {0x7Fu, 0x7FFu, 0xFFFFu})
    if (lo <= limit && limit < hi) {
      utf8_sequences(lo, limit, out);
      utf8_sequences(limit + 1, hi, out);
      return;
    }
  if (hi < 0x80) {
    out.push_back({{static_cast<uint8_t>(lo), static_cast<uint8_t>(hi)}});
    return;
  }
  // Split until, at every continuation position, the range spans whole 6-bit blocks or one byte.
  for (int i = 1; i < 4; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        utf8_sequences(lo, lo | m, out);
        utf8_sequences((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        utf8_sequences(lo, (hi & ~m) - 1, out);
        utf8_sequences(hi & ~m, hi, out);
        return;
      }
    }
  }
  auto encode = [](uint32_t cp, uint8_t* b) {
    if (cp < 0x800) {
      b[0] = 0xC0 | cp >> 6, b[1] = 0x80 | (cp & 0x3F);
      return 2;
    }
    if (cp < 0x10000) {
      b[0] = 0xE0 | cp >> 12, b[1] = 0x80 | (cp >> 6 & 0x3F), b[2] = 0x80 | (cp & 0x3F);
      return 3;
    }
    b[0] = 0xF0 | cp >> 18, b[1] = 0x80 | (cp >> 12 & 0x3F), b[2] = 0x80 | (cp >> 6 & 0x3F), b[3] = 0x80 | (cp & 0x3F);
    return 4;
  };
  uint8_t a[4], b[4];
  const int n = encode(lo, a);
  encode(hi, b);
  std::vector<std::pair<uint8_t, uint8_t>> seq;
  for (int i = 0; i < n; ++i) seq.emplace_back(a[i], b[i]);
  out.push_back(std::move(seq));
}

class NfaBuilder {
 public:
  NfaBuilder(ByteNfa& nfa, const std::string& param) : nfa_(nfa), param_(param) {}

  int32_t state() {
    if (nfa_.states.size() >= kMaxNfaStates) bad_param(param_, "is too large to enforce");
    return nfa_.add_state();
  }

  // Adds the expression between from and to.
  void build(const Re& re, int32_t from, int32_t to) {
    switch (re.kind) {
      case Re::Kind::Set: {
        std::vector<std::vector<std::pair<uint8_t, uint8_t>>> seqs;
        for (auto [lo, hi] : re.set.intersect(writable()).ranges) utf8_sequences(lo, hi, seqs);
        for (const auto& seq : seqs) {
          int32_t cur = from;
          for (size_t i = 0; i < seq.size(); ++i) {
            int32_t next = i + 1 == seq.size() ? to : state();
            nfa_.states[cur].edges.push_back({seq[i].first, seq[i].second, next});
            cur = next;
          }
        }
        return;
      }
      case Re::Kind::Cat: {
        int32_t cur = from;
        for (size_t i = 0; i < re.kids.size(); ++i) {
          int32_t next = i + 1 == re.kids.size() ? to : state();
          build(re.kids[i], cur, next);
          cur = next;
        }
        if (re.kids.empty()) nfa_.states[from].free.push_back(to);
        return;
      }
      case Re::Kind::Alt:
        for (const Re& kid : re.kids) build(kid, from, to);
        return;
      case Re::Kind::AtStart:
        nfa_.states[from].at_start.push_back(to);
        return;
      case Re::Kind::AtEnd:
        nfa_.states[from].at_end.push_back(to);
        return;
      case Re::Kind::Repeat: {
        const Re& kid = re.kids[0];
        int32_t cur = from;
        for (int i = 0; i < re.min; ++i) {
          int32_t next = state();
          build(kid, cur, next);
          cur = next;
        }
        if (re.max < 0) {
          int32_t loop = state();
          nfa_.states[cur].free.push_back(loop);
          build(kid, loop, loop);
          nfa_.states[loop].free.push_back(to);
          return;
        }
        for (int i = re.min; i < re.max; ++i) {
          int32_t next = state();
          nfa_.states[cur].free.push_back(to);  // stop here
          build(kid, cur, next);
          cur = next;
        }
        nfa_.states[cur].free.push_back(to);
        return;
      }
    }
  }

 private:
  ByteNfa& nfa_;
  const std::string& param_;
};

}  // namespace

ByteDfa compile_pattern(const std::string& pattern, const std::string& param) {
  Re re = Parser(pattern, param).parse();
  // Unanchored search: any characters, the pattern, any characters.
  ByteNfa nfa;
  NfaBuilder b(nfa, param);
  Re any;
  any.kind = Re::Kind::Set;
  any.set = CharSet::of(0, 0x10FFFF);
  const int32_t before = b.state(), begin = b.state(), end = b.state(), after = b.state();
  nfa.start = before;
  nfa.accept = after;
  b.build(any, before, before);
  nfa.states[before].free.push_back(begin);
  b.build(re, begin, end);
  nfa.states[end].free.push_back(after);
  b.build(any, after, after);
  std::optional<ByteDfa> dfa = ByteDfa::from_nfa(nfa, kMaxPatternStates);
  if (!dfa) bad_param(param, "is too complex to enforce (its automaton exceeds {} states)", kMaxPatternStates);
  return std::move(*dfa);
}

}  // namespace ax::server
