#pragma once
// End-of-turn tokens that chat models emit instead of (or besides) their EOS token. Many model
// files do not list them as EOS, so the stop set would miss them.
#include "tokenizer/tokenizer_spec.h"

namespace ax {

// Appends to spec.eos_ids every known end-of-turn token that the vocabulary holds as a control
// or user-defined token.
void add_end_of_turn_tokens(TokenizerSpec& spec);

}  // namespace ax
