#pragma once
// SentencePiece-style BPE driven by piece scores (GGUF tokenizer.ggml.model = "llama"): the text
// starts as one symbol per character; repeatedly the adjacent pair whose concatenation is a
// vocabulary piece with the highest score merges (leftmost on ties). Characters that end up
// without a piece fall back to <0xNN> byte tokens (or <unk>). Same result as llama.cpp's SPM
// tokenizer and llama2.c's encode().
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace ax {

// piece lookup: the id of a vocabulary string that merges may produce, or -1.
using PieceLookup = std::function<int32_t(std::string_view)>;

void spm_encode(std::string_view text, const std::vector<float>& scores,
                const PieceLookup& lookup, const int32_t* byte_ids, int32_t unk_id,
                std::vector<int32_t>& out);

}  // namespace ax
