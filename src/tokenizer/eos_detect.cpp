#include "tokenizer/eos_detect.h"

#include <algorithm>
#include <string_view>

namespace ax {

void add_end_of_turn_tokens(TokenizerSpec& spec) {
  static constexpr std::string_view kNames[] = {
      "<|eot_id|>",    "<|eom_id|>", "<|im_end|>", "<|end|>",    "<end_of_turn>",
      "<|endoftext|>", "<turn|>",    "<|return|>", "<|call|>",   "<|end_of_text|>",
  };
  for (size_t id = 0; id < spec.pieces.size(); ++id) {
    TokenKind k = spec.kinds[id];
    if (k != TokenKind::Control && k != TokenKind::UserDefined) continue;
    if (std::find(std::begin(kNames), std::end(kNames), spec.pieces[id]) == std::end(kNames)) continue;
    if (std::find(spec.eos_ids.begin(), spec.eos_ids.end(), static_cast<int32_t>(id)) == spec.eos_ids.end())
      spec.eos_ids.push_back(static_cast<int32_t>(id));
  }
}

}  // namespace ax
