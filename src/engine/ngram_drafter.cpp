#include "engine/ngram_drafter.h"

#include <algorithm>

#include "util/error.h"

namespace ax {

NgramDrafter::NgramDrafter(NgramDraftOptions options) : options_(options) {
  if (options_.min_n < 1 || options_.max_n > kMaxN || options_.min_n > options_.max_n)
    fail("NgramDraftOptions: n range [{}, {}] must lie within [1, {}]", options_.min_n,
         options_.max_n, kMaxN);
}

uint64_t NgramDrafter::key(int64_t end, int n) const {
  // splitmix-style mixing of the n token ids; collisions are caught by same_ngram().
  uint64_t h = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(n);
  for (int64_t i = end - n; i < end; ++i) {
    h ^= static_cast<uint32_t>(tokens_[i]);
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  return h;
}

bool NgramDrafter::same_ngram(int64_t end_a, int64_t end_b, int n) const {
  return std::equal(tokens_.begin() + (end_a - n), tokens_.begin() + end_a,
                    tokens_.begin() + (end_b - n));
}

void NgramDrafter::reset(std::span<const int32_t> tokens) {
  tokens_.clear();
  draft_from_ = resume_at_ = -1;
  resumed_ = false;
  tokens_.reserve(tokens.size() + 256);
  for (auto& t : table_) t.clear();
  append(tokens);
}

void NgramDrafter::append(int32_t token) {
  // The new token at index i is the continuation of every n-gram ending just before it.
  const int64_t i = static_cast<int64_t>(tokens_.size());
  tokens_.push_back(token);
  for (int n = options_.min_n; n <= options_.max_n; ++n) {
    if (i < n) break;
    auto [it, inserted] = table_[n].try_emplace(key(i, n), Entry{static_cast<int32_t>(i), 1});
    if (inserted) continue;
    Entry& e = it->second;
    if (!same_ngram(e.next_pos, i, n)) {
      e = Entry{static_cast<int32_t>(i), 1};  // hash collision: the newer n-gram takes the slot
      continue;
    }
    e.agreement = tokens_[e.next_pos] == token ? e.agreement + 1 : 1;
    e.next_pos = static_cast<int32_t>(i);
  }
}

void NgramDrafter::copy_from(int64_t from, int want, std::vector<int32_t>& out) const {
  const int64_t len = static_cast<int64_t>(tokens_.size());
  for (int j = 0; j < want; ++j) {
    const int64_t src = from + j;
    out.push_back(src < len ? tokens_[src] : out[src - len]);
  }
}

void NgramDrafter::verified(int drafted, int accepted) {
  // Resume past the source token the model replaced; a resumed copy that failed at once was the
  // wrong guess (an insertion or a longer edit): look the context up again instead.
  if (draft_from_ >= 0 && accepted < drafted && options_.resync_after_rejection && (!resumed_ || accepted > 0))
    resume_at_ = draft_from_ + accepted + 1;
  draft_from_ = -1;
}

int NgramDrafter::draft(int max_draft, std::vector<int32_t>& out) {
  out.clear();
  const int64_t len = static_cast<int64_t>(tokens_.size());
  const int64_t resume = resume_at_;
  resume_at_ = draft_from_ = -1;
  resumed_ = false;
  if (max_draft <= 0) return 0;
  if (resume >= 0 && resume < len) {
    copy_from(resume, std::min(max_draft, options_.max_len_for_n[options_.max_n]), out);
    draft_from_ = resume;
    resumed_ = true;
    return kResync;
  }
  for (int n = std::min<int64_t>(options_.max_n, len - 1); n >= options_.min_n; --n) {
    auto it = table_[n].find(key(len, n));
    if (it == table_[n].end()) continue;
    const Entry& e = it->second;
    // Entries exist only for n-grams that were followed by a token, so next_pos < len: the match
    // is an earlier occurrence of the suffix (the hash is re-checked against the tokens).
    if (e.next_pos >= len || !same_ngram(e.next_pos, len, n)) continue;
    if (n <= options_.require_agreement_up_to_n && e.agreement < 2) continue;
    // Copy what followed the match; past the end of the context the copy reads its own output,
    // which continues a repeating cycle (period len - next_pos).
    copy_from(e.next_pos, std::min(max_draft, options_.max_len_for_n[n]), out);
    draft_from_ = e.next_pos;
    return n;
  }
  return 0;
}

}  // namespace ax
