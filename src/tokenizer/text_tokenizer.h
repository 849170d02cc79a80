#pragma once
// The one Tokenizer implementation: runs a TokenizerSpec (byte-level BPE, SentencePiece-style BPE
// with byte fallback, or score-driven SentencePiece BPE) filled by the GGUF or tokenizer.json
// loader.
//
// encode: validate UTF-8 (invalid input is an ax::Error naming the byte offset) -> BOS ->
//   split off added tokens -> per text fragment: normalize, space prefix, U+2581 escaping,
//   pre-tokenizer regexes, BPE per word (cached) -> EOS.
// decode: concatenates each token's bytes (byte-exact, may end inside a UTF-8 sequence).
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/flat_index.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_spec.h"
#include "tokenizer/word_cache.h"

namespace ax {

class TextTokenizer final : public Tokenizer {
 public:
  explicit TextTokenizer(TokenizerSpec spec);

  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool parse_special = true) const override;
  std::vector<int32_t> encode_with_plain_spans(std::string_view text, bool add_special,
                                               const std::vector<Span>& plain) const override;
  std::string token_bytes(int32_t id) const override;
  std::string token_piece(int32_t id) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(spec_.pieces.size()); }
  int32_t bos_id() const override { return spec_.bos_id; }
  int32_t eos_id() const override { return spec_.eos_id; }
  bool is_special(int32_t id) const override;
  std::vector<int32_t> eos_ids() const override { return spec_.eos_ids; }
  std::string kind() const override { return spec_.kind; }
  std::string chat_template() const override { return spec_.chat_template; }
  bool decode_strips_leading_space() const override { return spec_.decode_strip_leading_space; }
  int32_t token_id(std::string_view piece) const override { return lookup(piece); }
  bool adds_bos() const override { return spec_.add_bos && spec_.bos_id >= 0; }
  bool adds_eos() const override { return spec_.add_eos && spec_.eos_id >= 0; }
  bool cuts_words_at_space_marks() const { return cut_at_marks_; }

  const TokenizerSpec& spec() const { return spec_; }

 private:
  void check_id(int32_t id) const;
  std::vector<int32_t> encode_impl(std::string_view text, bool add_special, bool parse_special,
                                   const std::vector<Span>& plain) const;
  int32_t lookup(std::string_view piece) const;
  int32_t lookup_mergeable(std::string_view piece) const;  // normal or user-defined pieces only
  void encode_fragment(std::string_view text, bool at_start, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  TokenizerSpec spec_;
  PieceIndex index_;                                     // over spec_.pieces
  std::vector<std::string> bytes_;                       // id -> decoded bytes
  std::array<int32_t, 256> byte_symbol_{};    // byte-level: the token of each single byte
  std::array<int32_t, 256> byte_fallback_{};  // the <0xNN> tokens
  BpeMerges merges_;
  bool cut_at_marks_ = false;  // words may be cut before U+2581 (spm.h)
  RegexSplitter splitter_;
  AddedTokenMatcher added_;

  mutable WordCache cache_;  // words seen before and their ids
};

}  // namespace ax
