#include "tokenizer/text_tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "tokenizer/byte_level.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace ax {

namespace {
constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

void replace_spaces(std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (char c : s) {
    if (c == ' ') out += kSpaceMark;
    else out += c;
  }
  s.swap(out);
}

// "<0x0A>" -> 0x0A, or -1.
int parse_byte_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}
}  // namespace

TextTokenizer::TextTokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
  const size_t n = spec_.pieces.size();
  if (n == 0) fail("tokenizer has an empty vocabulary");
  if (spec_.kinds.size() != n) fail("tokenizer has {} token kinds for {} tokens", spec_.kinds.size(), n);
  if (spec_.model == TokenizerSpec::Model::Spm && spec_.scores.size() != n)
    fail("tokenizer has {} scores for {} tokens", spec_.scores.size(), n);
  for (int32_t* id : {&spec_.unk_id, &spec_.bos_id, &spec_.eos_id})
    if (*id >= static_cast<int32_t>(n)) *id = -1;  // out of range means "none" (GGUF uses 2^32-1)
  std::vector<int32_t> eos;
  for (int32_t id : spec_.eos_ids)
    if (id >= 0 && id < static_cast<int32_t>(n) && std::find(eos.begin(), eos.end(), id) == eos.end())
      eos.push_back(id);
  if (spec_.eos_id >= 0 && std::find(eos.begin(), eos.end(), spec_.eos_id) == eos.end())
    eos.insert(eos.begin(), spec_.eos_id);
  spec_.eos_ids = eos;

  index_.build(spec_.pieces);

  const ByteLevel& bl = ByteLevel::get();
  byte_symbol_.fill(-1);
  byte_fallback_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    byte_fallback_[b] = lookup(name);
    if (spec_.byte_level) byte_symbol_[b] = lookup(bl.encode_byte(static_cast<uint8_t>(b)));
  }

  // What each token decodes to.
  bytes_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = spec_.pieces[i];
    TokenKind k = spec_.kinds[i];
    int byte = parse_byte_piece(p);
    if (k == TokenKind::Byte || (spec_.byte_fallback && byte >= 0 && k == TokenKind::Normal)) {
      if (byte >= 0) {
        bytes_[i] = std::string(1, static_cast<char>(byte));
        continue;
      }
    }
    if (k != TokenKind::Normal && k != TokenKind::Unused) {
      bytes_[i] = p;  // control, unknown and user-defined tokens are literal text
    } else if (spec_.byte_level) {
      if (!bl.decode(p, bytes_[i])) bytes_[i] = p;
    } else {
      std::string s;
      s.reserve(p.size());
      for (size_t j = 0; j < p.size();) {
        if (p.compare(j, kSpaceMark.size(), kSpaceMark) == 0) {
          s += ' ';
          j += kSpaceMark.size();
        } else {
          s += p[j++];
        }
      }
      bytes_[i] = std::move(s);
    }
  }

  if (spec_.model == TokenizerSpec::Model::Bpe) {
    merges_.reserve(spec_.merges.size());
    std::string joined;
    for (const auto& [l, r] : spec_.merges) {
      int32_t li = lookup(l), ri = lookup(r);
      joined.assign(l).append(r);
      int32_t m = lookup_mergeable(joined);
      if (li < 0 || ri < 0 || m < 0) continue;  // a rule whose pieces are not all tokens never applies
      merges_.add(li, ri, m);
    }
  }
  if (spec_.allow_word_cuts && spec_.escape_spaces && !spec_.byte_level) {
    cut_at_marks_ = spm_pieces_split_at_space_marks(spec_.pieces, spec_.kinds);
  }
  splitter_ = RegexSplitter(spec_.pre_regexes);
  added_ = AddedTokenMatcher(spec_);
}

void TextTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    fail("token id {} is outside the vocabulary (size {})", id, vocab_size());
}

int32_t TextTokenizer::lookup(std::string_view piece) const { return index_.find(piece); }

int32_t TextTokenizer::lookup_mergeable(std::string_view piece) const {
  int32_t id = lookup(piece);
  if (id < 0) return -1;
  TokenKind k = spec_.kinds[id];
  return k == TokenKind::Normal || k == TokenKind::UserDefined ? id : -1;
}

bool TextTokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  TokenKind k = spec_.kinds[id];
  return k == TokenKind::Control || k == TokenKind::Unknown;
}

std::string TextTokenizer::token_bytes(int32_t id) const {
  check_id(id);
  return bytes_[id];
}

std::string TextTokenizer::token_piece(int32_t id) const {
  check_id(id);
  return spec_.pieces[id];
}

std::string TextTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  bool first = true;  // the first token with any bytes may lose its leading space
  for (int32_t id : ids) {
    check_id(id);
    if (skip_special && is_special(id)) continue;
    const std::string& b = bytes_[id];
    if (first && spec_.decode_strip_leading_space && !b.empty() && b[0] == ' ')
      out.append(b, 1, std::string::npos);
    else
      out += b;
    if (!b.empty()) first = false;
  }
  return out;
}

std::vector<int32_t> TextTokenizer::encode(std::string_view text, bool add_special,
                                           bool parse_special) const {
  return encode_impl(text, add_special, parse_special, {});
}

std::vector<int32_t> TextTokenizer::encode_with_plain_spans(std::string_view text, bool add_special,
                                                            const std::vector<Span>& plain) const {
  return encode_impl(text, add_special, /*parse_special=*/true, plain);
}

std::vector<int32_t> TextTokenizer::encode_impl(std::string_view text, bool add_special, bool parse_special,
                                                const std::vector<Span>& plain) const {
  size_t bad = utf8::find_invalid(text);
  if (bad != std::string_view::npos)
    fail("text to tokenize is not valid UTF-8 (byte {} of {}: 0x{:02X})", bad, text.size(),
         static_cast<uint8_t>(text[bad]));
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && adds_bos()) out.push_back(spec_.bos_id);
  std::vector<Fragment> frags;
  added_.partition(text, parse_special, frags, plain);
  bool at_start = true;
  for (const Fragment& f : frags) {
    if (f.token >= 0) out.push_back(f.token);
    else encode_fragment(f.text, at_start, out);
    at_start = false;
  }
  if (add_special && adds_eos()) out.push_back(spec_.eos_id);
  return out;
}

void TextTokenizer::encode_fragment(std::string_view text, bool at_start,
                                    std::vector<int32_t>& out) const {
  std::string buf;
  std::string_view s = text;
  if (spec_.normal_form) {
    buf = normalize_unicode(s, *spec_.normal_form);
    s = buf;
  }
  bool prefix = spec_.space_prefix == SpacePrefix::Always ||
                (spec_.space_prefix == SpacePrefix::First && at_start);
  if (prefix && spec_.prefix_if_missing && !s.empty() && s[0] == ' ') prefix = false;
  if (prefix || spec_.escape_spaces) {
    std::string t;
    t.reserve(s.size() + 1);
    if (prefix) t += ' ';
    t.append(s);
    if (spec_.escape_spaces) replace_spaces(t);
    buf.swap(t);
    s = buf;
  }
  if (s.empty()) return;

  // Words: the pre-tokenizer's pieces (SentencePiece: the whole text), cut further before
  // U+2581 marks when the vocabulary guarantees that changes nothing (see spm.h).
  thread_local std::vector<std::string_view> words, cut;
  words.clear();
  if (spec_.model == TokenizerSpec::Model::Spm) words.push_back(s);
  else splitter_.split(s, words);
  if (cut_at_marks_) {
    cut.clear();
    for (std::string_view w : words) split_at_space_marks(w, cut);
    words.swap(cut);
  }
  // `words` is thread_local and encode_word does not split, so iterating it here is safe.
  for (std::string_view w : words) encode_word(w, out);
}

void TextTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  const bool cacheable = word.size() <= WordCache::kMaxWordBytes;
  if (cacheable && cache_.find(word, out)) return;
  const size_t before = out.size();
  merge_word(word, out);
  if (cacheable) cache_.insert(word, out.data() + before, out.size() - before);
}

void TextTokenizer::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  if (spec_.model == TokenizerSpec::Model::Spm) {
    PieceLookup lk{this, [](const void* self, std::string_view p) {
                     return static_cast<const TextTokenizer*>(self)->lookup_mergeable(p);
                   }};
    spm_encode(word, spec_.scores, lk, byte_fallback_.data(), spec_.unk_id, out);
    return;
  }
  thread_local std::vector<int32_t> ids;
  ids.clear();
  if (spec_.byte_level) {
    if (spec_.ignore_merges) {
      int32_t whole = lookup_mergeable(ByteLevel::get().encode(word));
      if (whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    for (char c : word) {
      int32_t id = byte_symbol_[static_cast<uint8_t>(c)];
      if (id >= 0) ids.push_back(id);  // a byte with no token is dropped (no such vocabulary seen)
    }
    merges_.apply(ids);
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }
  // Characters as symbols; a character with no token is kept as -(offset + 2) so that it never
  // merges and its bytes can be found again for the byte fallback.
  if (spec_.ignore_merges ||
      (spec_.whole_newline_runs && word.find_first_not_of('\n') == std::string_view::npos)) {
    int32_t whole = lookup_mergeable(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  for (size_t i = 0; i < word.size();) {
    size_t len = std::min(utf8::seq_len(static_cast<uint8_t>(word[i])), word.size() - i);
    int32_t id = lookup_mergeable(word.substr(i, len));
    ids.push_back(id >= 0 ? id : -static_cast<int32_t>(i) - 2);
    i += len;
  }
  merges_.apply(ids);
  for (int32_t id : ids) {
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    size_t off = static_cast<size_t>(-id - 2);
    size_t len = std::min(utf8::seq_len(static_cast<uint8_t>(word[off])), word.size() - off);
    if (spec_.byte_fallback) {
      for (size_t k = 0; k < len; ++k) {
        int32_t b = byte_fallback_[static_cast<uint8_t>(word[off + k])];
        if (b >= 0) out.push_back(b);
        else if (spec_.unk_id >= 0) out.push_back(spec_.unk_id);
      }
    } else if (spec_.unk_id >= 0) {
      out.push_back(spec_.unk_id);
    }
  }
}

}  // namespace ax
