#include "engine/stop_matcher.h"

#include <algorithm>

#include "util/error.h"

namespace ax {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopMatcher::push(std::string_view text) {
  if (matched()) return {};
  std::string buf = held_;
  buf.append(text);
  held_.clear();
  // The stop fires at the first character that completes an occurrence (the earliest END), so
  // the result does not depend on how the text was split into pieces; at equal ends the longer
  // stop string (the earlier start) wins. Earlier pushes had no complete occurrence.
  size_t best_end = std::string::npos, best = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    size_t pos = buf.find(stops_[i]);
    if (pos == std::string::npos) continue;
    size_t end = pos + stops_[i].size();
    if (end < best_end || (end == best_end && pos < best)) {
      best_end = end;
      best = pos;
      matched_ = static_cast<int>(i);
    }
  }
  if (matched()) return buf.substr(0, best);
  // Hold back the longest suffix that could still grow into a stop string. Any occurrence that
  // straddles this push and a later one starts inside that suffix, so nothing is missed.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - 1, buf.size()); len > hold; --len) {
      if (buf.compare(buf.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  held_ = buf.substr(buf.size() - hold);
  buf.resize(buf.size() - hold);
  return buf;
}

std::string StopMatcher::flush() {
  std::string out;
  out.swap(held_);
  return matched() ? std::string() : out;
}

const std::string& StopMatcher::matched_stop() const {
  if (!matched()) fail("stop matcher: no stop string has matched");
  return stops_[matched_];
}

}  // namespace ax
