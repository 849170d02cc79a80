#pragma once
// Prompt-lookup drafting: guess the next tokens of a sequence by finding the most recent earlier
// place where its last n tokens (n = max_n down to min_n, longest match first) occurred and
// copying what followed there. Per request, seeded from the prompt, updated with every produced
// token in O(1) amortised (one hash insert per n); drafting never rescans the context.
//
// Only accepted tokens enter the table: drafts are never added, so a rejected draft needs no undo.
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace ax {

// How much to trust a match. Alternatives were measured on recorded greedy outputs (see
// docs/PERFORMANCE.md, "Speculative decoding"); these defaults won.
struct NgramDraftOptions {
  int max_n = 4;  // longest n-gram tried first
  int min_n = 2;  // shortest n-gram that may still draft
  // A match of length n drafts at most max_len_for_n[n] tokens (and at most the caller's k):
  // short n-grams recur by chance, long ones mean the text is being repeated. A bigram match
  // drafts 2 tokens at most: as good as the full k on copied code and JSON, and it wastes fewer
  // rows on high-entropy text.
  int max_len_for_n[5] = {0, 0, 2, 64, 64};
  // An n-gram of this length or shorter drafts only when its last two occurrences were followed
  // by the same token (the continuation is stable, not a coincidence). 0: no such check.
  int require_agreement_up_to_n = 0;
  // After the model rejects a copied draft token (an edit: a renamed identifier, a changed value),
  // the next draft continues the copy just past the replaced token instead of looking the context
  // up again: right after an edit the last n tokens are new text, and their latest earlier
  // occurrence, if any, is usually an earlier edit followed by different text.
  bool resync_after_rejection = false;
};

class NgramDrafter {
 public:
  static constexpr int kMaxN = 4;

  explicit NgramDrafter(NgramDraftOptions options = {});

  // Forgets everything and indexes `tokens` (normally the prompt).
  void reset(std::span<const int32_t> tokens);
  // One accepted token at the end of the context.
  void append(int32_t token);
  void append(std::span<const int32_t> tokens) {
    for (int32_t t : tokens) append(t);
  }

  // Writes up to max_draft predicted continuation tokens into `out` (cleared first) and returns
  // the n of the n-gram that matched (0: no match, out empty; kResync: the copy resumed after a
  // rejected token).
  int draft(int max_draft, std::vector<int32_t>& out);
  static constexpr int kResync = kMaxN + 1;
  // The outcome of verifying the last draft: `accepted` of its `drafted` tokens were kept (the
  // model's own token replaced draft token `accepted` when accepted < drafted).
  void verified(int drafted, int accepted);

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const NgramDraftOptions& options() const { return options_; }

 private:
  struct Entry {
    int32_t next_pos;    // index in tokens_ of the token that followed the latest occurrence
    int32_t agreement;   // how many latest occurrences in a row were followed by the same token
  };
  // Hash of tokens_[end - n, end).
  uint64_t key(int64_t end, int n) const;
  bool same_ngram(int64_t end_a, int64_t end_b, int n) const;

  // Copies from tokens_[from, ...) into out (past the end it reads its own output, continuing a
  // repeating cycle).
  void copy_from(int64_t from, int want, std::vector<int32_t>& out) const;

  NgramDraftOptions options_;
  std::vector<int32_t> tokens_;
  int64_t draft_from_ = -1;  // where the last draft was copied from (-1: no draft pending)
  int64_t resume_at_ = -1;   // where the next draft resumes the copy (-1: look up n-grams)
  bool resumed_ = false;     // the last draft was such a resumed copy
  std::unordered_map<uint64_t, Entry> table_[kMaxN + 1];  // table_[n]
};

}  // namespace ax
