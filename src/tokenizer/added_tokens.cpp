#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace ax {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const TokenizerSpec& spec) {
  for (const auto& a : spec.added) {
    const std::string& text = spec.pieces[a.id];
    if (text.empty()) continue;
    TokenKind k = spec.kinds[a.id];
    bool control = k == TokenKind::Control || k == TokenKind::Unknown;
    by_first_byte_[static_cast<uint8_t>(text[0])].push_back({text, a.id, control, a.lstrip, a.rstrip});
    if (text.size() == 1) one_byte_.set(static_cast<uint8_t>(text[0]));
    else starts_.set(static_cast<uint8_t>(text[0]) << 8 | static_cast<uint8_t>(text[1]));
    any_ = true;
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(),
                     [](const Entry& x, const Entry& y) { return x.text.size() > y.text.size(); });
  }
}

void AddedTokenMatcher::partition(std::string_view text, bool parse_special, std::vector<Fragment>& out,
                                  const std::vector<std::pair<size_t, size_t>>& plain) const {
  if (!any_) {
    if (!text.empty()) out.push_back({text, -1});
    return;
  }
  size_t start = 0;  // beginning of the pending raw text
  size_t i = 0;
  size_t next_plain = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    if (!one_byte_[b0] &&
        (i + 1 >= text.size() || !starts_[b0 << 8 | static_cast<uint8_t>(text[i + 1])])) {
      ++i;
      continue;
    }
    const auto& list = by_first_byte_[b0];
    const Entry* hit = nullptr;
    // The first plain range that ends after i (ranges are sorted; i only grows).
    while (next_plain < plain.size() && plain[next_plain].second <= i) ++next_plain;
    for (const Entry& e : list) {
      if (e.control && !parse_special) continue;
      if (e.control && next_plain < plain.size() && plain[next_plain].first < i + e.text.size()) continue;
      if (text.compare(i, e.text.size(), e.text) == 0) {
        hit = &e;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t left_end = i;
    if (hit->lstrip)
      while (left_end > start && is_space(text[left_end - 1])) --left_end;
    if (left_end > start) out.push_back({text.substr(start, left_end - start), -1});
    out.push_back({{}, hit->id});
    i += hit->text.size();
    if (hit->rstrip)
      while (i < text.size() && is_space(text[i])) ++i;
    start = i;
  }
  if (start < text.size()) out.push_back({text.substr(start), -1});
}

}  // namespace ax
