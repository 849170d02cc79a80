#pragma once
// Where this binary came from: the source commit, whether the tree had uncommitted changes, and
// the build options (generated at build time by cmake/build_info.cmake).
namespace ax {

struct BuildInfo {
  const char* commit;  // 40 hex digits, or "unknown" outside a git checkout
  bool dirty;          // tracked files differed from the commit
  const char* build_type;
  const char* cxx_flags;
  const char* compiler;
};

const BuildInfo& build_info();

}  // namespace ax
