#include "server/json_automaton.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>

namespace ax::server {
namespace {

using Kind = SchemaNode::Kind;

enum FrameKind : uint8_t { kValue, kObject, kArray, kString, kNumber, kLiteral, kKey };
// Object phases
enum : uint8_t { kObjFirst, kObjKey, kObjAfterKey, kObjValue, kObjAfterValue, kObjAfterComma };
// Array phases
enum : uint8_t { kArrFirst, kArrValue, kArrAfterValue, kArrAfterComma };
// String phases. \uXXXX escapes must form valid UTF-16: a high surrogate (D800-DBFF) must be
// followed by an escaped low one (DC00-DFFF), and a low one may not stand alone (strict parsers
// reject lone surrogates). The digits accumulate in Frame::mask; bit 16 marks a high surrogate.
enum : uint8_t { kStrNormal, kStrEscape, kStrHex, kStrLowBackslash, kStrLowU, kStrLowHex };
// Number phases: the JSON number grammar -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
enum : uint8_t { kNumStart, kNumMinus, kNumZero, kNumInt, kNumDot, kNumFrac, kNumE, kNumESign, kNumExp };

constexpr int kMaxIntDigits = kMaxIntegerDigits, kMaxFracDigits = kMaxFractionDigits, kMaxExpDigits = 2;  // e99 at most: every parser reads it as a finite double

bool is_ws(uint8_t b) { return b == ' ' || b == '\n' || b == '\t' || b == '\r'; }
bool is_digit(uint8_t b) { return b >= '0' && b <= '9'; }
bool is_hex(uint8_t b) { return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }

uint64_t all_bits(size_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }

bool number_terminal(const JsonAutomaton::Frame& f) {
  return f.phase == kNumZero || f.phase == kNumInt || f.phase == kNumFrac || f.phase == kNumExp;
}

// Candidates (bits of mask) whose text has byte b at position pos.
uint64_t match_candidates(const std::vector<std::string>& texts, uint64_t mask, size_t pos, uint8_t b) {
  uint64_t next = 0;
  for (size_t i = 0; i < texts.size(); ++i)
    if ((mask >> i & 1) && texts[i].size() > pos && static_cast<uint8_t>(texts[i][pos]) == b)
      next |= uint64_t{1} << i;
  return next;
}

// Some candidate ends exactly at pos.
bool candidate_complete(const std::vector<std::string>& texts, uint64_t mask, size_t pos) {
  for (size_t i = 0; i < texts.size(); ++i)
    if ((mask >> i & 1) && texts[i].size() == pos) return true;
  return false;
}

// No candidate goes on past pos.
bool candidates_exhausted(const std::vector<std::string>& texts, uint64_t mask, size_t pos) {
  for (size_t i = 0; i < texts.size(); ++i)
    if ((mask >> i & 1) && texts[i].size() > pos) return false;
  return true;
}

// A number frame under a range, as numeric_range.h reads it.
NumberPrefix number_prefix(const JsonAutomaton::Frame& f) {
  NumberPrefix p;
  p.negative = f.aux == 1;
  p.has_digits = f.phase == kNumZero || f.phase == kNumInt || f.phase == kNumDot || f.phase == kNumFrac;
  p.int_value = f.mask;
  p.int_digits = f.phase == kNumInt ? f.count : 1;
  p.has_point = f.phase == kNumDot || f.phase == kNumFrac;
  p.frac_value = f.frac;
  p.frac_digits = f.phase == kNumFrac ? f.count : 0;
  return p;
}

// A number frame may end here: a complete number, inside its range.
bool number_complete(const SchemaNode& n, const JsonAutomaton::Frame& f) {
  return number_terminal(f) && (!n.range.constrained || range_contains(n.range, number_prefix(f)));
}

// The character a short escape (\n, \", ...) stands for; 0 for 'u' and non-escapes.
uint8_t escaped_char(uint8_t b) {
  switch (b) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return 0x08;
    case 'f': return 0x0C;
    case 'n': return 0x0A;
    case 'r': return 0x0D;
    case 't': return 0x09;
    default: return 0;
  }
}

// A string under a pattern may take byte b of its value (raw or escaped) from frame f: the
// pattern automaton has a live next state, and, under a length limit, an accepted end within it.
// chars: the string's character count once b is taken.
bool pattern_step(const CompiledSchema& schema, const SchemaNode& n, JsonAutomaton::Frame& f, uint8_t b, int64_t chars) {
  const ByteDfa& dfa = schema.patterns[n.pattern];
  const int32_t next = dfa.next(f.dfa, b);
  if (next == ByteDfa::kDead) return false;
  if (n.pattern_lengths &&
      !n.pattern_lengths->any_between(next, n.min_length - chars, n.max_length < 0 ? -1 : n.max_length - chars))
    return false;
  f.dfa = next;
  return true;
}

}  // namespace

JsonAutomaton::JsonAutomaton(const CompiledSchema& schema, int root_node) : schema_(&schema) {
  Stack st;
  Frame root;
  root.node = root_node >= 0 ? root_node : schema.root;
  root.kind = kValue;
  st.frames.push_back(root);
  stacks_.push_back(std::move(st));
}

bool JsonAutomaton::whitespace(Stack& st, uint8_t) const {
  if (st.whitespace_run >= kMaxWhitespace) return false;
  ++st.whitespace_run;
  return true;
}

JsonAutomaton::Step JsonAutomaton::step(Stack& st, uint8_t b) const {
  if (st.frames.size() > kMaxDepth) return Step::Reject;
  Frame& f = st.frames.back();
  const SchemaNode& n = schema_->nodes[f.node];
  const bool ws = is_ws(b);

  auto push_value = [&](int node) {
    Frame child;
    child.node = node;
    child.kind = kValue;
    st.frames.push_back(child);  // invalidates f
  };

  switch (f.kind) {
    case kValue: {
      if (ws) return whitespace(st, b) ? Step::Consumed : Step::Reject;
      int node = f.node;
      Kind kind = n.kind;
      if (kind == Kind::Any) {
        if (b == '{') node = CompiledSchema::kAnyObject;
        else if (b == '[') node = CompiledSchema::kAnyArray;
        else if (b == '"') node = CompiledSchema::kAnyString;
        else if (b == '-' || is_digit(b)) node = CompiledSchema::kAnyNumber;
        else if (b == 't' || b == 'f' || b == 'n') node = CompiledSchema::kTrueFalseNull;
        else return Step::Reject;
        kind = schema_->nodes[node].kind;
      }
      f = Frame{};
      f.node = node;
      switch (kind) {
        case Kind::Object:
          if (b != '{') return Step::Reject;
          f.kind = kObject;
          f.phase = kObjFirst;
          return Step::Consumed;
        case Kind::Array:
          if (b != '[') return Step::Reject;
          f.kind = kArray;
          f.phase = kArrFirst;
          return Step::Consumed;
        case Kind::String:
          if (b != '"') return Step::Reject;
          f.kind = kString;
          f.phase = kStrNormal;
          if (schema_->nodes[node].pattern >= 0) f.dfa = schema_->patterns[schema_->nodes[node].pattern].start();
          return Step::Consumed;
        case Kind::Number:
        case Kind::Integer:
          f.kind = kNumber;
          f.phase = kNumStart;
          f.aux = 0;
          return step(st, b);
        case Kind::Literal:
          f.kind = kLiteral;
          f.mask = all_bits(schema_->nodes[node].literals.size());
          f.count = 0;
          return step(st, b);
        default:
          return Step::Reject;  // AnyOf is expanded by feed_stack before it gets here
      }
    }

    case kObject: {
      const bool declared = n.declares_keys;
      const uint64_t unseen = all_bits(n.keys.size()) & ~f.mask;
      const int64_t written = declared ? std::popcount(f.mask) : f.count;
      // Keys that may come next: required ones always; optional ones only while, after them,
      // maxProperties still leaves room for every required key not yet written.
      const uint64_t required_left = n.required & unseen;
      const bool room_for_optional =
          n.max_properties < 0 || written + 1 + std::popcount(required_left) <= n.max_properties;
      const uint64_t next_keys = room_for_optional ? unseen : required_left;
      const bool closable = required_left == 0 && written >= n.min_properties;
      const bool more = declared ? next_keys != 0 : n.free_value >= 0 && (n.max_properties < 0 || written < n.max_properties);
      switch (f.phase) {
        case kObjFirst:
        case kObjAfterComma:
          if (ws) return whitespace(st, b) ? Step::Consumed : Step::Reject;
          if (b == '}' && f.phase == kObjFirst) return closable ? Step::Done : Step::Reject;
          if (b != '"' || !more) return Step::Reject;
          f.phase = kObjKey;
          if (declared) {
            Frame key;
            key.node = f.node;
            key.kind = kKey;
            key.count = 1;  // the opening quote
            key.mask = next_keys;
            st.frames.push_back(key);
            return Step::Consumed;
          }
          {
            // A free key: any string, or what propertyNames says (a string node or string literals).
            Frame key;
            key.node = n.key_node >= 0 ? n.key_node : CompiledSchema::kAnyString;
            const SchemaNode& kn = schema_->nodes[key.node];
            if (kn.kind == Kind::Literal) {
              key.kind = kLiteral;
              key.mask = match_candidates(kn.literals, all_bits(kn.literals.size()), 0, '"');
              key.count = 1;
            } else {
              key.kind = kString;
              key.phase = kStrNormal;
              if (kn.pattern >= 0) key.dfa = schema_->patterns[kn.pattern].start();
            }
            st.frames.push_back(key);
            return Step::Consumed;
          }
        case kObjAfterKey:
          if (ws) return whitespace(st, b) ? Step::Consumed : Step::Reject;
          if (b != ':') return Step::Reject;
          f.phase = kObjValue;
          push_value(declared ? n.key_nodes[f.aux] : n.free_value);
          return Step::Consumed;
        case kObjAfterValue:
          if (ws) return whitespace(st, b) ? Step::Consumed : Step::Reject;
          if (b == '}') return closable ? Step::Done : Step::Reject;
          if (b == ',' && more) {
            f.phase = kObjAfterComma;
            return Step::Consumed;
          }
          return Step::Reject;
        default:
          return Step::Reject;
      }
    }

    case kArray: {
      // Item i follows prefix_items[i], later ones items; max_items already ends the array
      // where no schema is left.
      const auto slot = [&n](int32_t i) {
        return static_cast<size_t>(i) < n.prefix_items.size() ? n.prefix_items[i] : n.items;
      };
      const bool more = (n.max_items < 0 || f.count < n.max_items) && slot(f.count) >= 0;
      switch (f.phase) {
        case kArrFirst:
          if (ws) return whitespace(st, b) ? Step::Consumed : Step::Reject;
          if (b == ']') return n.min_items == 0 ? Step::Done : Step::Reject;
          if (!more) return Step::Reject;
          f.phase = kArrValue;
          push_value(slot(f.count));
          return Step::Pushed;
        case kArrAfterValue:
          if (ws) return whitespace(st, b) ? Step::Consumed : Step::Reject;
          if (b == ']') return f.count >= n.min_items ? Step::Done : Step::Reject;
          if (b == ',' && more) {
            f.phase = kArrAfterComma;
            return Step::Consumed;
          }
          return Step::Reject;
        case kArrAfterComma:
          if (ws) return whitespace(st, b) ? Step::Consumed : Step::Reject;
          f.phase = kArrValue;
          push_value(slot(f.count));
          return Step::Pushed;
        default:
          return Step::Reject;
      }
    }

    case kString: {
      const bool room = n.max_length < 0 || f.count < n.max_length;
      const bool patterned = n.pattern >= 0;
      if (f.utf8_left > 0) {
        if (b < f.utf8_lo || b > f.utf8_hi) return Step::Reject;
        if (patterned && !pattern_step(*schema_, n, f, b, f.count)) return Step::Reject;
        --f.utf8_left;
        f.utf8_lo = 0x80;
        f.utf8_hi = 0xBF;
        return Step::Consumed;
      }
      switch (f.phase) {
        case kStrNormal:
          if (b == '"') {
            const bool matched = !patterned || schema_->patterns[n.pattern].accepting(f.dfa);
            return f.count >= n.min_length && matched ? Step::Done : Step::Reject;
          }
          if (!room || b < 0x20) return Step::Reject;
          if (b == '\\') {
            if (patterned) {
              // Some short escape must lead on (a pattern's strings are written without \u).
              bool any = false;
              for (uint8_t e : {'"', '\\', '/', 'b', 'f', 'n', 'r', 't'}) {
                Frame probe = f;
                any = any || pattern_step(*schema_, n, probe, escaped_char(e), f.count + 1);
              }
              if (!any) return Step::Reject;
            }
            f.phase = kStrEscape;
            return Step::Consumed;
          }
          // An ASCII character or a UTF-8 lead byte: one more character.
          if (patterned && !pattern_step(*schema_, n, f, b, f.count + 1)) return Step::Reject;
          if (b < 0x80) {
            ++f.count;
            return Step::Consumed;
          }
          // UTF-8 lead byte: how many continuation bytes, and the range of the first one
          // (excludes overlong forms, surrogates and code points above U+10FFFF).
          if (b >= 0xC2 && b <= 0xDF) f.utf8_left = 1;
          else if (b >= 0xE0 && b <= 0xEF) f.utf8_left = 2;
          else if (b >= 0xF0 && b <= 0xF4) f.utf8_left = 3;
          else return Step::Reject;
          f.utf8_lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
          f.utf8_hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
          ++f.count;
          return Step::Consumed;
        case kStrEscape:
          if (b == 'u') {
            if (patterned) return Step::Reject;
            f.phase = kStrHex;
            f.aux = 4;
            f.mask = 0;
            return Step::Consumed;
          }
          if (const uint8_t c = escaped_char(b)) {
            if (patterned && !pattern_step(*schema_, n, f, c, f.count + 1)) return Step::Reject;
            ++f.count;
            f.phase = kStrNormal;
            return Step::Consumed;
          }
          return Step::Reject;
        case kStrHex:
        case kStrLowHex: {
          if (!is_hex(b)) return Step::Reject;
          const uint64_t digit = is_digit(b) ? b - '0' : (b | 0x20) - 'a' + 10;
          const bool need_low = f.phase == kStrLowHex;
          f.mask = (f.mask & ~uint64_t{0xFFFF}) | ((f.mask << 4 | digit) & 0xFFFF);
          --f.aux;
          const uint64_t top = f.mask & 0xFF;  // the first two digits, once aux == 2
          if (need_low && f.aux == 3 && digit != 0xD) return Step::Reject;
          if (f.aux == 2) {
            if (need_low && (top < 0xDC || top > 0xDF)) return Step::Reject;
            if (!need_low && top >= 0xDC && top <= 0xDF) return Step::Reject;  // lone low surrogate
            if (!need_low && top >= 0xD8 && top <= 0xDB) f.mask |= uint64_t{1} << 16;
          }
          if (f.aux == 0) {
            const bool high = (f.mask >> 16) & 1;
            f.mask = 0;
            if (high) {
              f.phase = kStrLowBackslash;
            } else {
              ++f.count;
              f.phase = kStrNormal;
            }
          }
          return Step::Consumed;
        }
        case kStrLowBackslash:
          if (b != '\\') return Step::Reject;
          f.phase = kStrLowU;
          return Step::Consumed;
        case kStrLowU:
          if (b != 'u') return Step::Reject;
          f.phase = kStrLowHex;
          f.aux = 4;
          f.mask = 0;
          return Step::Consumed;
        default:
          return Step::Reject;
      }
    }

    case kNumber: {
      const bool integer = n.kind == Kind::Integer;
      // Under a range the value is tracked digit by digit (no exponent), and every byte must
      // leave some value in range within reach; the number may end only inside the range.
      const bool ranged = n.range.constrained;
      const auto digit = static_cast<uint64_t>(b - '0');
      auto checked = [&] {
        return !ranged || range_reachable(n.range, number_prefix(f)) ? Step::Consumed : Step::Reject;
      };
      auto ends = [&] { return !ranged || range_contains(n.range, number_prefix(f)) ? Step::NotMine : Step::Reject; };
      switch (f.phase) {
        case kNumStart:
        case kNumMinus:
          if (b == '-' && f.phase == kNumStart) {
            f.phase = kNumMinus;
            if (ranged) f.aux = 1;
            return checked();
          }
          if (b == '0') {
            f.phase = kNumZero;
            return checked();
          }
          if (b >= '1' && b <= '9') {
            f.phase = kNumInt;
            f.count = 1;
            if (ranged) f.mask = digit;
            return checked();
          }
          return Step::Reject;
        case kNumZero:
        case kNumInt:
          if (is_digit(b)) {
            if (f.phase == kNumZero || f.count >= kMaxIntDigits) return Step::Reject;
            ++f.count;
            if (ranged) f.mask = f.mask * 10 + digit;
            return checked();
          }
          if (!integer && b == '.') {
            f.phase = kNumDot;
            return checked();
          }
          if (!integer && !ranged && (b == 'e' || b == 'E')) {
            f.phase = kNumE;
            return Step::Consumed;
          }
          return ends();
        case kNumDot:
          if (!is_digit(b)) return Step::Reject;
          f.phase = kNumFrac;
          f.count = 1;
          if (ranged) f.frac = digit;
          return checked();
        case kNumFrac:
          if (is_digit(b)) {
            if (f.count >= kMaxFracDigits) return Step::Reject;
            ++f.count;
            if (ranged) f.frac = f.frac * 10 + digit;
            return checked();
          }
          if (!ranged && (b == 'e' || b == 'E')) {
            f.phase = kNumE;
            return Step::Consumed;
          }
          return ends();
        case kNumE:
        case kNumESign:
          if ((b == '+' || b == '-') && f.phase == kNumE) {
            f.phase = kNumESign;
            return Step::Consumed;
          }
          if (!is_digit(b)) return Step::Reject;
          f.phase = kNumExp;
          f.count = 1;
          return Step::Consumed;
        case kNumExp:
          if (is_digit(b)) {
            if (f.count >= kMaxExpDigits) return Step::Reject;
            ++f.count;
            return Step::Consumed;
          }
          return Step::NotMine;
        default:
          return Step::Reject;
      }
    }

    case kLiteral: {
      uint64_t next = match_candidates(n.literals, f.mask, f.count, b);
      if (!next) return candidate_complete(n.literals, f.mask, f.count) ? Step::NotMine : Step::Reject;
      f.mask = next;
      ++f.count;
      return candidates_exhausted(n.literals, f.mask, f.count) ? Step::Done : Step::Consumed;
    }

    case kKey: {
      // Keys carry their quotes, so exactly one candidate ends at the closing quote.
      uint64_t next = match_candidates(n.keys, f.mask, f.count, b);
      if (!next) return Step::Reject;
      f.mask = next;
      ++f.count;
      for (size_t i = 0; i < n.keys.size(); ++i)
        if ((next >> i & 1) && n.keys[i].size() == static_cast<size_t>(f.count)) {
          f.aux = static_cast<int32_t>(i);
          return Step::Done;
        }
      return Step::Consumed;
    }
  }
  return Step::Reject;
}

void JsonAutomaton::child_done(Stack& st, const Frame& child) const {
  if (st.frames.empty()) return;
  Frame& parent = st.frames.back();
  if (parent.kind == kObject) {
    if (parent.phase == kObjKey) {
      parent.aux = child.kind == kKey ? child.aux : -1;
      parent.phase = kObjAfterKey;
    } else if (parent.phase == kObjValue) {
      const SchemaNode& n = schema_->nodes[parent.node];
      if (parent.aux >= 0) parent.mask |= uint64_t{1} << parent.aux;
      else if (n.min_properties > 0 || n.max_properties >= 0) ++parent.count;  // counted only where it matters
      parent.phase = kObjAfterValue;
    }
  } else if (parent.kind == kArray && parent.phase == kArrValue) {
    ++parent.count;
    parent.phase = kArrAfterValue;
  }
}

void JsonAutomaton::feed_stack(Stack st, uint8_t b, std::vector<Stack>& out) const {
  if (!is_ws(b)) st.whitespace_run = 0;
  while (!st.frames.empty()) {
    Frame& top = st.frames.back();
    const SchemaNode& n = schema_->nodes[top.node];
    if (top.kind == kValue && n.kind == Kind::AnyOf) {
      if (is_ws(b)) {
        if (whitespace(st, b)) out.push_back(std::move(st));
        return;
      }
      for (int option : n.options) {
        Stack alt = st;
        alt.frames.back().node = option;
        feed_stack(std::move(alt), b, out);
      }
      return;
    }
    switch (step(st, b)) {
      case Step::Consumed:
        out.push_back(std::move(st));
        return;
      case Step::Done: {
        Frame child = st.frames.back();
        st.frames.pop_back();
        child_done(st, child);
        out.push_back(std::move(st));
        return;
      }
      case Step::NotMine: {
        Frame child = st.frames.back();
        st.frames.pop_back();
        child_done(st, child);
        continue;  // the parent takes the byte
      }
      case Step::Pushed:
        continue;  // the new child takes the byte
      case Step::Reject:
        return;
    }
  }
}

bool JsonAutomaton::document_closed() const {
  for (const Stack& st : stacks_)
    if (!st.frames.empty()) return false;
  return !stacks_.empty();
}

bool JsonAutomaton::feed(uint8_t byte) {
  const std::string& prefix = schema_->prefix;
  const std::string& suffix = schema_->suffix;
  if (prefix_pos_ < prefix.size()) {
    if (static_cast<uint8_t>(prefix[prefix_pos_]) != byte) return false;
    ++prefix_pos_;
    return true;
  }
  if (!suffix.empty() && document_closed()) {
    if (suffix_pos_ >= suffix.size() || static_cast<uint8_t>(suffix[suffix_pos_]) != byte) return false;
    ++suffix_pos_;
    return true;
  }
  std::vector<Stack> next;
  for (const Stack& st : stacks_) feed_stack(st, byte, next);
  if (next.empty()) return false;
  // Alternatives that converged are one.
  std::vector<Stack> unique;
  for (auto& s : next)
    if (std::find(unique.begin(), unique.end(), s) == unique.end() && unique.size() < kMaxAlternatives)
      unique.push_back(std::move(s));
  stacks_ = std::move(unique);
  return true;
}

JsonAutomaton::InPlace JsonAutomaton::feed_in_place(uint8_t byte, Undo& undo) {
  if (stacks_.size() != 1 || prefix_pos_ < schema_->prefix.size()) return InPlace::Fallback;
  Stack& st = stacks_[0];
  if (st.frames.empty()) return InPlace::Fallback;
  Frame& top = st.frames.back();
  if (top.kind != kString && top.kind != kNumber && top.kind != kLiteral && top.kind != kKey) return InPlace::Fallback;
  undo.top = top;
  undo.whitespace_run = st.whitespace_run;
  if (!is_ws(byte)) st.whitespace_run = 0;
  // Leaf frames never push, so step() touches only the top frame (and the stack on Done/NotMine,
  // which the general path handles).
  switch (step(st, byte)) {
    case Step::Consumed:
      return InPlace::Accepted;
    case Step::Reject:
      st.frames.back() = undo.top;
      st.whitespace_run = undo.whitespace_run;
      return InPlace::Rejected;
    default:
      st.frames.back() = undo.top;
      st.whitespace_run = undo.whitespace_run;
      return InPlace::Fallback;
  }
}

void JsonAutomaton::undo(const Undo& u) {
  Stack& st = stacks_[0];
  st.frames.back() = u.top;
  st.whitespace_run = u.whitespace_run;
}

std::string JsonAutomaton::state_key() const {
  std::string key;
  auto put = [&key](const auto& v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(prefix_pos_);
  put(suffix_pos_);
  for (const Stack& st : stacks_) {
    put(static_cast<uint32_t>(st.frames.size()));
    put(st.whitespace_run);
    for (Frame f : st.frames) {
      if (f.kind == kString) {
        const SchemaNode& n = schema_->nodes[f.node];
        if (n.max_length < 0) f.count = static_cast<int32_t>(std::min<int64_t>(f.count, n.min_length));
        if (f.phase != kStrHex && f.phase != kStrLowHex) f.aux = -1;  // a spent digit countdown
      }
      put(f.node);
      put(f.kind);
      put(f.phase);
      put(f.utf8_left);
      put(f.utf8_lo);
      put(f.utf8_hi);
      put(f.count);
      put(f.aux);
      put(f.mask);
      put(f.dfa);
      put(f.frac);
    }
  }
  return key;
}

bool JsonAutomaton::feed(std::string_view bytes) {
  JsonAutomaton copy = *this;
  for (char c : bytes)
    if (!copy.feed(static_cast<uint8_t>(c))) return false;
  *this = std::move(copy);
  return true;
}

bool JsonAutomaton::can_end() const {
  if (prefix_pos_ < schema_->prefix.size()) return false;
  if (!schema_->suffix.empty()) return document_closed() && suffix_pos_ == schema_->suffix.size();
  for (const Stack& st : stacks_) {
    if (st.frames.empty()) return true;
    if (st.frames.size() != 1) continue;
    const Frame& f = st.frames.back();
    if (f.kind == kNumber && number_complete(schema_->nodes[f.node], f)) return true;
    if (f.kind == kLiteral && candidate_complete(schema_->nodes[f.node].literals, f.mask, f.count)) return true;
  }
  return false;
}

int64_t JsonAutomaton::free_string_room() const {
  if (stacks_.size() != 1 || prefix_pos_ < schema_->prefix.size() || stacks_[0].frames.empty()) return -1;
  const Frame& f = stacks_[0].frames.back();
  if (f.kind != kString || f.phase != kStrNormal || f.utf8_left != 0) return -1;
  const SchemaNode& n = schema_->nodes[f.node];
  if (n.pattern >= 0) return -1;
  return n.max_length < 0 ? std::numeric_limits<int64_t>::max() : std::max<int64_t>(0, n.max_length - f.count);
}

bool JsonAutomaton::must_end() const {
  return prefix_pos_ == schema_->prefix.size() && document_closed() && suffix_pos_ == schema_->suffix.size();
}

}  // namespace ax::server
