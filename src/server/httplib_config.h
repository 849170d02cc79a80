#pragma once
// cpp-httplib. Debian ships it as a compiled library (libcpp-httplib), so its send flags are fixed
// at 0: a write to a socket whose client disconnected raises SIGPIPE unless the process ignores
// it. `ax-engine serve` and the tests that run a server in-process ignore SIGPIPE for that reason;
// the failed write then returns false and the stream's request is cancelled.
#include <httplib.h>
