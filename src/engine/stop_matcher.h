#pragma once
// Stop strings matched on decoded text across token boundaries. Text arrives in pieces (whatever
// each token completed); the matcher releases text only once it cannot be the start of a stop
// string, so a stream never shows part of a stop string and the final text ends right before the
// first stop string completed (the one whose last character comes first; the same result
// whatever the split into pieces).
#include <string>
#include <string_view>
#include <vector>

namespace ax {

class StopMatcher {
 public:
  StopMatcher() = default;
  explicit StopMatcher(std::vector<std::string> stops);  // empty strings are ignored

  bool empty() const { return stops_.empty(); }
  // Feeds newly decoded text; returns the text that is now safe to emit. Once a stop string is
  // found, matched() is true, the returned text ends right before it, and later pushes return "".
  std::string push(std::string_view text);
  // The text held back at the end of generation (finish for a reason other than a stop string).
  std::string flush();
  bool matched() const { return matched_ >= 0; }
  const std::string& matched_stop() const;  // the stop string found (matched() must be true)

 private:
  std::vector<std::string> stops_;
  std::string held_;  // a suffix of the text so far that is a proper prefix of some stop string
  int matched_ = -1;
};

}  // namespace ax
