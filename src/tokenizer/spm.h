#pragma once
// SentencePiece-style BPE driven by piece scores (GGUF tokenizer.ggml.model = "llama"): the text
// starts as one symbol per character; repeatedly the adjacent pair whose concatenation is a
// vocabulary piece with the highest score merges (leftmost on ties). Characters that end up
// without a piece fall back to <0xNN> byte tokens (or <unk>). Same result as llama.cpp's SPM
// tokenizer and llama2.c's encode().
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_spec.h"

namespace ax {

// Piece lookup: the id of a vocabulary string that merges may produce, or -1. (A plain function
// pointer plus context: it is called once per candidate pair.)
struct PieceLookup {
  const void* ctx;
  int32_t (*fn)(const void* ctx, std::string_view piece);
  int32_t operator()(std::string_view piece) const { return fn(ctx, piece); }
};

// Whether merges can never join a character to a following U+2581: true when no piece holds a
// U+2581 right after another character (SentencePiece vocabularies trained with
// split_by_whitespace). Then text can be cut before every U+2581 that follows another character
// and each word merged on its own with the same result, since no pair spanning a cut is a piece.
// Only normal and user-defined pieces count (the ones merges produce).
bool spm_pieces_split_at_space_marks(const std::vector<std::string>& pieces,
                                     const std::vector<TokenKind>& kinds);
// Appends the words of `text` cut that way (views into text).
void split_at_space_marks(std::string_view text, std::vector<std::string_view>& out);

void spm_encode(std::string_view text, const std::vector<float>& scores,
                const PieceLookup& lookup, const int32_t* byte_ids, int32_t unk_id,
                std::vector<int32_t>& out);

}  // namespace ax
