#include "hub/model_cache.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>

#include "util/error.h"

namespace ax::hub {
namespace {

constexpr const char* kPartSuffix = ".part";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Every regular file under `dir`, relative, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).generic_string());
  std::sort(out.begin(), out.end());
  return out;
}

void remove_if_empty(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec) && fs::is_empty(dir, ec)) fs::remove(dir, ec);
}

}  // namespace

fs::path cache_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("AX_ENGINE_CACHE"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "ax-engine";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "ax-engine";
  fail("no cache folder: set AX_ENGINE_CACHE (or HOME), or pass --cache-dir");
}

std::optional<ModelName> parse_model_name(const std::string& text) {
  static const std::regex name_re(R"(([A-Za-z0-9][A-Za-z0-9._-]*)/([A-Za-z0-9][A-Za-z0-9._-]*)(?::(.+))?)");
  std::smatch m;
  if (!std::regex_match(text, m, name_re)) return std::nullopt;
  ModelName name{m[1].str() + "/" + m[2].str(), m[3].matched ? m[3].str() : ""};
  for (const auto& part : fs::path(name.file))
    if (part == ".." || part == "." ) return std::nullopt;
  if (!name.file.empty() && (name.file.front() == '/' || ends_with(name.file, kPartSuffix))) return std::nullopt;
  return name;
}

fs::path repo_dir(const fs::path& cache, const std::string& repo) { return cache / "models" / repo; }

std::optional<fs::path> find_pulled(const fs::path& cache, const ModelName& name) {
  const fs::path dir = repo_dir(cache, name.repo);
  std::error_code ec;
  if (!name.file.empty()) {
    const fs::path p = dir / name.file;
    return fs::is_regular_file(p, ec) ? std::optional(p) : std::nullopt;
  }
  if (fs::is_regular_file(dir / "config.json", ec)) return dir;
  std::vector<std::string> ggufs;
  for (const auto& f : files_under(dir))
    if (ends_with(f, ".gguf")) ggufs.push_back(f);
  if (ggufs.empty()) return std::nullopt;
  if (ggufs.size() > 1) {
    std::string names;
    for (const auto& g : ggufs) names += (names.empty() ? "" : ", ") + name.repo + ":" + g;
    fail("'{}' names {} pulled GGUF files; say which: {}", name.repo, ggufs.size(), names);
  }
  return dir / ggufs.front();
}

uint64_t PulledModel::bytes() const {
  uint64_t n = 0;
  for (const auto& f : files) n += f.bytes;
  return n;
}

std::vector<PulledModel> list_pulled(const fs::path& cache) {
  std::vector<PulledModel> out;
  std::error_code ec;
  const fs::path models = cache / "models";
  std::vector<fs::path> repos;
  for (auto& owner : fs::directory_iterator(models, ec))
    if (owner.is_directory())
      for (auto& repo : fs::directory_iterator(owner.path(), ec))
        if (repo.is_directory()) repos.push_back(repo.path());
  std::sort(repos.begin(), repos.end());
  for (const auto& dir : repos) {
    const std::string repo = dir.parent_path().filename().string() + "/" + dir.filename().string();
    PulledModel folder{repo, "safetensors", dir, {}};
    std::map<std::string, PulledModel> ggufs;  // by file name without .part
    for (const auto& rel : files_under(dir)) {
      PulledFile f{rel, fs::file_size(dir / rel, ec), ends_with(rel, kPartSuffix)};
      const std::string whole = f.partial ? rel.substr(0, rel.size() - 5) : rel;
      if (ends_with(whole, ".gguf")) {
        auto& m = ggufs[whole];
        m.name = repo + ":" + whole, m.format = "gguf", m.path = dir / whole;
        m.files.push_back(f);
      } else {
        folder.files.push_back(f);
      }
    }
    if (!folder.files.empty()) out.push_back(std::move(folder));
    for (auto& [_, m] : ggufs) out.push_back(std::move(m));
  }
  return out;
}

uint64_t remove_pulled(const fs::path& cache, const ModelName& name) {
  const fs::path dir = repo_dir(cache, name.repo);
  std::error_code ec;
  uint64_t freed = 0;
  if (name.file.empty()) {
    if (!fs::is_directory(dir, ec)) fail("no pulled model is named '{}' (ax-engine list shows them)", name.str());
    for (const auto& rel : files_under(dir)) freed += fs::file_size(dir / rel, ec);
    fs::remove_all(dir, ec);
    if (ec) fail("cannot remove {}: {}", dir.string(), ec.message());
  } else {
    bool found = false;
    for (const fs::path& p : {dir / name.file, fs::path((dir / name.file).string() + kPartSuffix)}) {
      if (!fs::is_regular_file(p, ec)) continue;
      found = true;
      freed += fs::file_size(p, ec);
      if (!fs::remove(p, ec)) fail("cannot remove {}: {}", p.string(), ec.message());
    }
    if (!found) fail("no pulled model is named '{}' (ax-engine list shows them)", name.str());
    // Empty subfolders the file sat in go too.
    for (fs::path p = (dir / name.file).parent_path(); p != dir && p.string().size() > dir.string().size(); p = p.parent_path())
      remove_if_empty(p);
    remove_if_empty(dir);
  }
  remove_if_empty(dir.parent_path());
  return freed;
}

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  const char* units[] = {"kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1000 && u < 3) v /= 1000, ++u;
  return fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace ax::hub
