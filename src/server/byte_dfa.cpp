#include "server/byte_dfa.h"

#include <algorithm>
#include <map>

namespace ax::server {
namespace {

bool is_continuation(int b) { return b >= 0x80 && b <= 0xBF; }

// set plus every state reachable from it through free edges, and through start assertions (before
// the first byte) or end assertions (deciding acceptance) when asked. Sorted.
std::vector<int32_t> closure(const ByteNfa& nfa, std::vector<int32_t> set, bool at_start, bool at_end) {
  std::vector<uint8_t> seen(nfa.states.size(), 0);
  std::vector<int32_t> work = set;
  for (int32_t s : set) seen[s] = 1;
  while (!work.empty()) {
    const ByteNfa::State& st = nfa.states[work.back()];
    work.pop_back();
    for (const auto* targets : {&st.free, at_start ? &st.at_start : nullptr, at_end ? &st.at_end : nullptr})
      if (targets)
        for (int32_t t : *targets)
          if (!seen[t]) {
            seen[t] = 1;
            set.push_back(t);
            work.push_back(t);
          }
  }
  std::sort(set.begin(), set.end());
  return set;
}

bool set_accepts(const ByteNfa& nfa, const std::vector<int32_t>& set) {
  return std::ranges::binary_search(closure(nfa, set, /*at_start=*/false, /*at_end=*/true), nfa.accept);
}

}  // namespace

std::optional<ByteDfa> ByteDfa::from_nfa(const ByteNfa& nfa, size_t max_states) {
  // Bytes no edge tells apart behave alike: one representative per run between range bounds.
  std::vector<int> bounds = {0, 256};
  for (const auto& st : nfa.states)
    for (const auto& e : st.edges) {
      bounds.push_back(e.lo);
      bounds.push_back(e.hi + 1);
    }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());

  std::map<std::vector<int32_t>, int32_t> index;
  std::vector<std::vector<int32_t>> sets;
  std::vector<int32_t> table;
  std::vector<uint8_t> accepting;
  auto intern = [&](std::vector<int32_t> set) -> int32_t {
    if (set.empty()) return kDead;
    auto [it, inserted] = index.emplace(set, static_cast<int32_t>(sets.size()));
    if (inserted) {
      accepting.push_back(set_accepts(nfa, set));
      sets.push_back(std::move(set));
      table.resize(sets.size() * 256, kDead);
    }
    return it->second;
  };
  const int32_t start = intern(closure(nfa, {nfa.start}, /*at_start=*/true, /*at_end=*/false));
  for (size_t cur = 0; cur < sets.size(); ++cur) {
    if (sets.size() > max_states) return std::nullopt;
    for (size_t r = 0; r + 1 < bounds.size(); ++r) {
      const int lo = bounds[r], hi = bounds[r + 1] - 1;
      std::vector<int32_t> next;
      for (int32_t s : sets[cur])
        for (const auto& e : nfa.states[s].edges)
          if (e.lo <= lo && hi <= e.hi) next.push_back(e.to);
      std::sort(next.begin(), next.end());
      next.erase(std::unique(next.begin(), next.end()), next.end());
      const int32_t target = intern(next.empty() ? next : closure(nfa, std::move(next), false, false));
      for (int b = lo; b <= hi; ++b) table[cur * 256 + b] = target;
    }
  }
  return finish(std::move(table), std::move(accepting), start);
}

std::optional<ByteDfa> ByteDfa::intersect(const ByteDfa& a, const ByteDfa& b, size_t max_states) {
  if (a.empty() || b.empty()) return ByteDfa{};
  std::map<std::pair<int32_t, int32_t>, int32_t> index;
  std::vector<std::pair<int32_t, int32_t>> pairs;
  std::vector<int32_t> table;
  std::vector<uint8_t> accepting;
  auto intern = [&](int32_t x, int32_t y) -> int32_t {
    if (x == kDead || y == kDead) return kDead;
    auto [it, inserted] = index.emplace(std::make_pair(x, y), static_cast<int32_t>(pairs.size()));
    if (inserted) {
      pairs.emplace_back(x, y);
      accepting.push_back(a.accepting(x) && b.accepting(y));
      table.resize(pairs.size() * 256, kDead);
    }
    return it->second;
  };
  const int32_t start = intern(a.start(), b.start());
  for (size_t cur = 0; cur < pairs.size(); ++cur) {
    if (pairs.size() > max_states) return std::nullopt;
    auto [x, y] = pairs[cur];
    for (int byte = 0; byte < 256; ++byte)
      table[cur * 256 + byte] = intern(a.next(x, static_cast<uint8_t>(byte)), b.next(y, static_cast<uint8_t>(byte)));
  }
  return finish(std::move(table), std::move(accepting), start);
}

ByteDfa ByteDfa::finish(std::vector<int32_t> full, std::vector<uint8_t> accepting, int32_t start) {
  const size_t n = accepting.size();
  // Live states: those from which acceptance is reachable (backwards from accepting states).
  std::vector<std::vector<int32_t>> preds(n);
  for (size_t s = 0; s < n; ++s)
    for (int b = 0; b < 256; ++b)
      if (int32_t t = full[s * 256 + b]; t != kDead) preds[t].push_back(static_cast<int32_t>(s));
  std::vector<uint8_t> live(n, 0);
  std::vector<int32_t> work;
  for (size_t s = 0; s < n; ++s)
    if (accepting[s]) {
      live[s] = 1;
      work.push_back(static_cast<int32_t>(s));
    }
  while (!work.empty()) {
    int32_t t = work.back();
    work.pop_back();
    for (int32_t p : preds[t])
      if (!live[p]) {
        live[p] = 1;
        work.push_back(p);
      }
  }
  ByteDfa d;
  if (start == kDead || !live[start]) return d;
  // Renumber live states reachable from the start.
  std::vector<int32_t> id(n, kDead);
  std::vector<int32_t> order = {start};
  id[start] = 0;
  for (size_t i = 0; i < order.size(); ++i)
    for (int b = 0; b < 256; ++b)
      if (int32_t t = full[order[i] * 256 + b]; t != kDead && live[t] && id[t] == kDead) {
        id[t] = static_cast<int32_t>(order.size());
        order.push_back(t);
      }
  // Byte classes: equal columns over the kept states, and never mixing UTF-8 continuation bytes
  // with others (lengths() counts characters per byte class).
  std::map<std::vector<int32_t>, uint8_t> columns;
  for (int b = 0; b < 256; ++b) {
    std::vector<int32_t> col;
    col.reserve(order.size() + 1);
    col.push_back(is_continuation(b));
    for (int32_t s : order) {
      int32_t t = full[s * 256 + b];
      col.push_back(t != kDead && live[t] ? id[t] : kDead);
    }
    auto [it, inserted] = columns.emplace(std::move(col), static_cast<uint8_t>(columns.size()));
    d.class_of_[b] = it->second;
  }
  d.num_classes_ = static_cast<int32_t>(columns.size());
  d.table_.assign(order.size() * d.num_classes_, kDead);
  d.accepting_.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    d.accepting_[i] = accepting[order[i]];
    for (int b = 0; b < 256; ++b) {
      int32_t t = full[order[i] * 256 + b];
      d.table_[i * d.num_classes_ + d.class_of_[b]] = t != kDead && live[t] ? id[t] : kDead;
    }
  }
  d.start_ = 0;
  return d;
}

ByteDfa::Lengths ByteDfa::lengths(int cap) const {
  Lengths L;
  L.cap = cap;
  L.words = cap / 64 + 1;
  const size_t n = num_states();
  L.bits.assign(n * L.words, 0);
  if (n == 0) return L;
  // One byte per class tells whether the class starts a character.
  std::vector<uint8_t> class_counts(num_classes_, 0);
  for (int b = 0; b < 256; ++b) class_counts[class_of_[b]] = !is_continuation(b);
  std::vector<std::vector<std::pair<int32_t, uint8_t>>> preds(n);
  for (size_t s = 0; s < n; ++s)
    for (int c = 0; c < num_classes_; ++c)
      if (int32_t t = table_[s * num_classes_ + c]; t != kDead) preds[t].emplace_back(static_cast<int32_t>(s), class_counts[c]);
  for (auto& p : preds) {
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
  }
  auto bit = [&](size_t s, int i) -> uint64_t& { return L.bits[s * L.words + i / 64]; };
  std::vector<int32_t> work;
  std::vector<uint8_t> queued(n, 0);
  for (size_t s = 0; s < n; ++s)
    if (accepting_[s]) {
      bit(s, 0) |= 1;
      work.push_back(static_cast<int32_t>(s));
      queued[s] = 1;
    }
  std::vector<uint64_t> shifted(L.words);
  while (!work.empty()) {
    int32_t t = work.back();
    work.pop_back();
    queued[t] = 0;
    for (auto [s, counts] : preds[t]) {
      // shifted = bits(t) << counts, saturating at cap.
      const uint64_t* src = &L.bits[t * L.words];
      if (counts) {
        uint64_t carry = 0;
        for (int w = 0; w < L.words; ++w) {
          shifted[w] = src[w] << 1 | carry;
          carry = src[w] >> 63;
        }
        const bool at_cap = (src[cap / 64] >> (cap % 64) & 1) || (cap > 0 && (src[(cap - 1) / 64] >> ((cap - 1) % 64) & 1));
        // Clear bits past cap, then set cap if anything reached it.
        for (int w = 0; w < L.words; ++w) {
          int first = w * 64;
          if (first > cap) shifted[w] = 0;
          else if (first + 63 > cap) shifted[w] &= (cap - first == 63) ? ~uint64_t{0} : ((uint64_t{1} << (cap - first + 1)) - 1);
        }
        if (at_cap) shifted[cap / 64] |= uint64_t{1} << (cap % 64);
      } else {
        std::copy(src, src + L.words, shifted.begin());
      }
      bool changed = false;
      for (int w = 0; w < L.words; ++w) {
        uint64_t& dst = L.bits[s * L.words + w];
        if ((dst | shifted[w]) != dst) {
          dst |= shifted[w];
          changed = true;
        }
      }
      if (changed && !queued[s]) {
        queued[s] = 1;
        work.push_back(s);
      }
    }
  }
  return L;
}

bool ByteDfa::Lengths::any_between(int32_t state, int64_t lo, int64_t hi) const {
  lo = std::max<int64_t>(lo, 0);
  if (hi >= 0 && lo > hi) return false;
  const uint64_t* b = &bits[static_cast<size_t>(state) * words];
  const int64_t last = hi < 0 || hi >= cap ? cap : hi;
  if (lo > cap) return false;
  for (int64_t i = lo; i <= last; ++i)
    if (b[i / 64] >> (i % 64) & 1) {
      // Bit cap stands for "cap or more": it meets only an unbounded upper limit.
      if (i == cap && hi >= 0) continue;
      return true;
    }
  return false;
}

}  // namespace ax::server
