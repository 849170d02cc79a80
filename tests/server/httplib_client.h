#pragma once
// The tests' HTTP client: cpp-httplib (Debian's libcpp-httplib, a compiled library whose
// pkg-config flags change class layouts, so every user of httplib.h must see them; tests/CMakeLists
// links it). A test that reads a stream and hangs up must ignore SIGPIPE.
#include <httplib.h>
