#include "tokenizer/bpe.h"

#include <algorithm>

namespace ax {

void BpeMerges::add(int32_t left, int32_t right, int32_t result) {
  if (table_.insert(key(left, right), Rule{next_rank_, result})) ++next_rank_;
}

namespace {
struct Candidate {
  int32_t rank;
  int32_t pos;    // index of the left symbol
  int32_t left;   // ids the pair had when queued; a stale candidate no longer matches them
  int32_t right;
  int32_t result;
};
// Min-heap order: lowest rank first, then leftmost.
struct Later {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};
constexpr int32_t kDead = INT32_MIN;  // a symbol merged into its left neighbour
}  // namespace

void BpeMerges::apply(std::vector<int32_t>& ids) const {
  const int32_t n = static_cast<int32_t>(ids.size());
  if (n < 2) return;
  if (n == 2) {  // the common short case without any bookkeeping
    if (const Rule* r = find(ids[0], ids[1])) ids = {r->result};
    return;
  }
  thread_local std::vector<int32_t> next, prev;
  thread_local std::vector<Candidate> heap;
  next.resize(n);
  prev.resize(n);
  heap.clear();
  for (int32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  auto push = [&](int32_t pos) {
    if (pos < 0) return;
    int32_t r = next[pos];
    if (r < 0) return;
    if (const Rule* rule = find(ids[pos], ids[r])) {
      heap.push_back({rule->rank, pos, ids[pos], ids[r], rule->result});
      std::push_heap(heap.begin(), heap.end(), Later{});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const Rule* rule = find(ids[i], ids[i + 1])) heap.push_back({rule->rank, i, ids[i], ids[i + 1], rule->result});
  }
  std::make_heap(heap.begin(), heap.end(), Later{});
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Later{});
    Candidate c = heap.back();
    heap.pop_back();
    int32_t r = next[c.pos];
    if (ids[c.pos] != c.left || r < 0 || ids[r] != c.right) continue;  // stale
    ids[c.pos] = c.result;
    ids[r] = kDead;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  ids.erase(std::remove(ids.begin(), ids.end(), kDead), ids.end());
}

}  // namespace ax
