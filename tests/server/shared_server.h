#pragma once
// A test suite's one server: started before the suite's first test and stopped after its last
// (loading a model takes longer than most tests). Suite names the model and the flags:
//   class CodeServer : public SharedServer<CodeServer> {
//    public:
//     static std::string model() { return source_dir() + "/models/ax-code-15m"; }
//     static std::vector<std::string> flags() { return {}; }
//   };
#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <vector>

#include "server_process.h"

namespace ax::test {

template <typename Suite>
class SharedServer : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::signal(SIGPIPE, SIG_IGN);
    server_ = new ServerProcess(Suite::model(), Suite::flags());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static inline ServerProcess* server_ = nullptr;
};

}  // namespace ax::test
