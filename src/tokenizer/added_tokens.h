#pragma once
// Finds added/special tokens ("<|im_start|>", "<think>") in text so that they become single ids
// and are never split by BPE. Leftmost match wins; among matches at one position the longest.
// Control and unknown tokens are only looked for when parse_special is on; user-defined tokens
// always are (as tokenizers and llama.cpp do).
#include <array>
#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_spec.h"

namespace ax {

struct Fragment {
  std::string_view text;  // raw text when token < 0
  int32_t token = -1;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const TokenizerSpec& spec);

  // Splits text into raw-text fragments and token fragments, in order. No control token is
  // matched where it would overlap a range in `plain` (sorted, disjoint byte ranges).
  void partition(std::string_view text, bool parse_special, std::vector<Fragment>& out,
                 const std::vector<std::pair<size_t, size_t>>& plain = {}) const;

 private:
  struct Entry {
    std::string text;
    int32_t id;
    bool control;  // only matched with parse_special
    bool lstrip, rstrip;
  };
  std::array<std::vector<Entry>, 256> by_first_byte_;  // each list longest first
  // Quick rejection: which first-two-byte pairs start a token (one-byte tokens by themselves).
  std::bitset<65536> starts_;
  std::bitset<256> one_byte_;
  bool any_ = false;
};

}  // namespace ax
