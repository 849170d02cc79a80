#pragma once
// cpp-httplib, here only an HTTP client: server/sse_client.h (bench run --url, the server tests).
// The server itself runs on Boost.Asio + Beast (http_transport.h). Debian ships httplib as a
// compiled library whose pkg-config flags change class layouts, so every user of httplib.h must
// see them (ax_server passes them on). Its send flags are fixed at 0: writing to a server that has
// closed the connection raises SIGPIPE unless the process ignores it, as the tests do.
#include <httplib.h>
