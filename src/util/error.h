#pragma once
// Errors: every user-facing failure is an ax::Error whose message is one sentence naming the
// file, field or parameter at fault. Thrown at module edges, caught by the front ends.
#include <fmt/core.h>
#include <stdexcept>
#include <string>

namespace ax {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// fail("{}: tensor '{}' has {} bytes, expected {}", path, name, got, want);
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace ax
