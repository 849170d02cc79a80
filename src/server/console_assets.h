#pragma once
// The web console's static files (src/server/console/), compiled into the binary by
// cmake/embed_files.cmake: nothing is read from disk or fetched from elsewhere at run time.
#include <string_view>
#include <vector>

namespace ax::server {

struct ConsoleAsset {
  std::string_view path;   // relative to src/server/console: "index.html", "console.js"
  std::string_view bytes;
};

const std::vector<ConsoleAsset>& console_assets();

// The Content-Type of a console file by its extension.
std::string_view console_content_type(std::string_view path);

}  // namespace ax::server
