#include "tokenizer/spm.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace ax {

namespace {
struct Symbol {
  uint32_t start;
  uint32_t len;  // 0 once merged into the left neighbour
  int32_t prev, next;
};
struct Candidate {
  float score;
  int32_t left;
  uint32_t len;  // combined byte length when queued; a stale candidate no longer matches it
  int32_t id;
};
// Max-heap order: highest score first, then leftmost.
struct Worse {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  }
};
}  // namespace

void spm_encode(std::string_view text, const std::vector<float>& scores,
                const PieceLookup& lookup, const int32_t* byte_ids, int32_t unk_id,
                std::vector<int32_t>& out) {
  if (text.empty()) return;
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = std::min(utf8::seq_len(static_cast<uint8_t>(text[i])), text.size() - i);
    int32_t idx = static_cast<int32_t>(sym.size());
    sym.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(len), idx - 1, -1});
    i += len;
  }
  for (size_t k = 0; k + 1 < sym.size(); ++k) sym[k].next = static_cast<int32_t>(k + 1);

  std::vector<Candidate> heap;
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    uint32_t len = sym[l].len + sym[r].len;
    int32_t id = lookup(text.substr(sym[l].start, len));
    if (id < 0) return;
    heap.push_back({scores[id], l, len, id});
    std::push_heap(heap.begin(), heap.end(), Worse{});
  };
  for (size_t k = 0; k + 1 < sym.size(); ++k) try_pair(static_cast<int32_t>(k), static_cast<int32_t>(k + 1));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Worse{});
    Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = sym[c.left];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = sym[left.next];
    if (right.len == 0 || left.len + right.len != c.len) continue;  // stale
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = c.left;
    try_pair(left.prev, c.left);
    try_pair(c.left, left.next);
  }

  for (int32_t k = 0; k >= 0; k = sym[k].next) {
    std::string_view piece = text.substr(sym[k].start, sym[k].len);
    int32_t id = lookup(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char b : piece) {
      int32_t bid = byte_ids[static_cast<uint8_t>(b)];
      if (bid >= 0) out.push_back(bid);
      else if (unk_id >= 0) out.push_back(unk_id);
    }
  }
}

namespace {
constexpr std::string_view kMark = "\xE2\x96\x81";  // U+2581
}  // namespace

bool spm_pieces_split_at_space_marks(const std::vector<std::string>& pieces,
                                     const std::vector<TokenKind>& kinds) {
  for (size_t id = 0; id < pieces.size(); ++id) {
    if (kinds[id] != TokenKind::Normal && kinds[id] != TokenKind::UserDefined) continue;
    const std::string& p = pieces[id];
    // Any U+2581 must sit in the leading run of marks.
    size_t i = 0;
    while (p.compare(i, kMark.size(), kMark) == 0) i += kMark.size();
    if (p.find(kMark, i) != std::string::npos) return false;
  }
  return true;
}

void split_at_space_marks(std::string_view text, std::vector<std::string_view>& out) {
  size_t start = 0;
  size_t pos = text.find(kMark);
  while (pos != std::string_view::npos) {
    // Cut before a mark that follows something other than a mark.
    bool after_mark = pos >= kMark.size() && text.compare(pos - kMark.size(), kMark.size(), kMark) == 0;
    if (pos > start && !after_mark) {
      out.push_back(text.substr(start, pos - start));
      start = pos;
    }
    pos = text.find(kMark, pos + kMark.size());
  }
  if (start < text.size()) out.push_back(text.substr(start));
}

}  // namespace ax
