#pragma once
// Pre-tokenization: splitting text into words before BPE, by a sequence of Unicode regexes
// (PCRE2 in UTF + UCP mode, JIT-compiled). Each regex splits every piece left by the previous
// one into its matches and the gaps between them ("Isolated" in tokenizers' terms); a piece is
// matched on its own, so lookarounds never see past its ends.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ax {

class RegexSplitter {
 public:
  RegexSplitter();
  // Throws ax::Error naming the pattern when one does not compile.
  explicit RegexSplitter(const std::vector<std::string>& patterns);
  ~RegexSplitter();
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;

  bool empty() const { return patterns_.empty(); }
  const std::vector<std::string>& patterns() const { return patterns_; }
  // Splits `text` (valid UTF-8) and appends the non-empty pieces, in order, to `out`. The pieces
  // are views into `text` and cover it completely.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  struct Compiled;
  std::vector<std::string> patterns_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

// The regexes of a GGUF `tokenizer.ggml.pre` name ("qwen2", "llama-bpe", "gpt-2", ...), as
// written in the models' tokenizer.json files; throws ax::Error for an unknown name.
std::vector<std::string> pre_tokenizer_regexes(const std::string& pre);

// GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex = true.
extern const char* const kGpt2Regex;

}  // namespace ax
