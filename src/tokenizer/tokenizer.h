#pragma once
// Text <-> token ids, exactly as the model's own tokenizer does it.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ax {

class GgufFile;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // add_special: add BOS/EOS as the model's config says. parse_special: match added/special
  // tokens ("<|im_start|>") in the text as whole tokens; otherwise they are ordinary text.
  // User-defined added tokens (<think>, tokenizer.json special=false) are always matched whole.
  // Text that is not valid UTF-8 is an ax::Error naming the byte offset.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                                      bool parse_special = true) const = 0;
  // A byte range [begin, end) of a text.
  using Span = std::pair<size_t, size_t>;
  // encode(text, add_special, parse_special = true), except that no control token is matched where
  // it would overlap one of the `plain` ranges (sorted, disjoint): text a client wrote stays text
  // there, while a chat template's own markup around it still becomes control tokens. Text outside
  // and inside the ranges is encoded together, so merges across their edges are as without them.
  virtual std::vector<int32_t> encode_with_plain_spans(std::string_view text, bool add_special,
                                                       const std::vector<Span>& plain) const = 0;
  // The bytes of one token as it appears in decoded text (may be a partial UTF-8 sequence).
  virtual std::string token_bytes(int32_t id) const = 0;
  // The vocabulary string of a token, as stored ("Ġthe", "▁the", "<0x0A>").
  virtual std::string token_piece(int32_t id) const = 0;
  // Token bytes concatenated, byte-exact: decode(encode(s, false)) == s. The result may end inside
  // a UTF-8 sequence when the ids do; ids outside the vocabulary are an ax::Error.
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t eos_id() const = 0;  // -1 if none
  virtual bool is_special(int32_t id) const = 0;  // control / added special token
  virtual std::vector<int32_t> eos_ids() const { return eos_id() >= 0 ? std::vector<int32_t>{eos_id()} : std::vector<int32_t>{}; }
  virtual std::string kind() const = 0;  // "bpe (byte-level)", "spm", ...
  // The model's chat template (Jinja source), empty if the files have none.
  virtual std::string chat_template() const { return {}; }
  // The id of a vocabulary string ("<|im_end|>", "Ġthe"), -1 if there is none.
  virtual int32_t token_id(std::string_view piece) const { return -1; }
  // Whether encode(..., add_special = true) puts BOS first / EOS last.
  virtual bool adds_bos() const { return false; }
  virtual bool adds_eos() const { return false; }
  // SentencePiece tokenizers prefix the text with a space when encoding; decode() drops one
  // leading space from its output again (as the tokenizers' Strip decoder does), and so does
  // StreamDecoder for the first text it emits.
  virtual bool decode_strips_leading_space() const { return false; }
};

// From a GGUF file alone (vocabulary-only GGUFs have no weights).
std::unique_ptr<Tokenizer> load_tokenizer(const GgufFile& gguf);
// From a Hugging Face folder holding tokenizer.json (+ tokenizer_config.json).
std::unique_ptr<Tokenizer> load_tokenizer_hf(const std::string& dir);

// Streaming decode: feed ids one at a time, get back only complete UTF-8 text; bytes of a
// character split across tokens come out once, whole, when the character completes. Bytes that
// can never complete a character come out as U+FFFD, so the output is always valid UTF-8. The ids
// are taken as a text from its start, like decode(): a SentencePiece tokenizer's first token loses
// its prefix space. To stream a continuation, push the prompt first and drop that output.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true);
  std::string push(int32_t id);  // the text that became complete
  std::string flush();           // whatever is left (invalid trailing bytes as U+FFFD)
 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace ax
