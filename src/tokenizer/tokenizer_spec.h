#pragma once
// Everything a tokenizer is made of, as read from a GGUF file or a tokenizer.json: the loaders
// fill a TokenizerSpec and TextTokenizer (text_tokenizer.h) runs it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/normalizer.h"

namespace ax {

// GGUF's token types (tokenizer.ggml.token_type values 1..6, a file-format fact).
enum class TokenKind : uint8_t {
  Normal = 1,       // produced by BPE / SentencePiece merges
  Unknown = 2,      // <unk>
  Control = 3,      // <s>, <|im_start|>: only from the text when parse_special is on
  UserDefined = 4,  // added tokens that are always matched whole (<think>, HF special=false)
  Unused = 5,
  Byte = 6,         // <0x0A>: byte fallback
};

enum class SpacePrefix : uint8_t {
  None,    // text is used as is
  Always,  // every text fragment (between added tokens) gets a leading space
  First,   // only a fragment at the very start of the input does
};

struct TokenizerSpec {
  enum class Model : uint8_t { Bpe, Spm };
  Model model = Model::Bpe;
  std::string kind;  // reported by Tokenizer::kind(), e.g. "bpe (byte-level, qwen2)"

  std::vector<std::string> pieces;  // id -> vocabulary string as stored ("Ġthe", "▁the")
  std::vector<TokenKind> kinds;     // id -> kind
  std::vector<float> scores;        // SPM: id -> merge priority (higher merges first)
  // BPE: merge rules in rank order (rank = index), each a pair of vocabulary strings.
  std::vector<std::pair<std::string, std::string>> merges;

  // Text preparation, applied to each fragment between added tokens, in this order.
  std::optional<NormalForm> normal_form;       // tokenizer.json "NFC" etc.
  SpacePrefix space_prefix = SpacePrefix::None;
  bool prefix_if_missing = false;  // Metaspace: no extra space when the text starts with one
  bool escape_spaces = false;                  // ' ' -> U+2581 (SentencePiece style)
  std::vector<std::string> pre_regexes;        // word splitting before BPE (empty: none)
  bool byte_level = false;                     // words are mapped to GPT-2's byte alphabet

  bool byte_fallback = false;   // unknown characters become <0xNN> byte tokens
  bool ignore_merges = false;   // a word that is itself a token is not split (Llama 3)
  bool whole_newline_runs = false;  // a run of '\n' that is a token stays whole (Gemma 4)

  int32_t unk_id = -1;
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  std::vector<int32_t> eos_ids;  // every end-of-generation token (eos, eot, <|im_end|>, ...)

  // Added tokens matched in the text as whole units; their text is pieces[id].
  struct Added {
    int32_t id = 0;
    bool lstrip = false;  // swallow whitespace to the left
    bool rstrip = false;  // swallow whitespace to the right
  };
  std::vector<Added> added;

  bool decode_strip_leading_space = false;  // SentencePiece's dummy prefix comes off again
  // Speed only: let the tokenizer cut words before U+2581 where the vocabulary makes that exact
  // (spm.h). Tests turn it off to check that it changes nothing.
  bool allow_word_cuts = true;
  std::string chat_template;
};

}  // namespace ax
