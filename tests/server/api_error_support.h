#pragma once
// The 400 a request parser throws, as "param: message" (or "no error"), for tests of the
// messages each bad field gets.
#include <gtest/gtest.h>

#include <string>

#include "server/api_error.h"

namespace ax::test {

template <typename Parse>
std::string bad_request_of(Parse&& parse) {
  try {
    parse();
  } catch (const server::ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.param() + ": " + e.what();
  }
  return "no error";
}

}  // namespace ax::test
