#include "hub/pull.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "hub/digest.h"
#include "util/error.h"

namespace ax::hub {
namespace {

using Clock = std::chrono::steady_clock;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool at_top(const HubFile& f) { return f.path.find('/') == std::string::npos; }
bool is_gguf(const std::string& path) { return ends_with(lower(path), ".gguf"); }
bool is_safetensors(const HubFile& f) { return at_top(f) && ends_with(f.path, ".safetensors"); }

// The files of a Hugging Face folder besides the weights (model/model_source.cpp and the
// tokenizer read these; nothing else is fetched).
const std::set<std::string> kFolderFiles = {
    "config.json",          "generation_config.json",  "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
    "chat_template.json",   "model.safetensors.index.json"};

std::string gguf_list(const std::vector<HubFile>& listing) {
  std::string names;
  for (const auto& f : listing)
    if (is_gguf(f.path)) names += (names.empty() ? "" : ", ") + f.path;
  return names;
}

// A progress line redrawn in place on a terminal (at most every 100 ms), else a line when a file
// starts and one when it is verified.
class FileProgress {
 public:
  FileProgress(const PullOptions& o, const HubFile& f, uint64_t have) : o_(o), f_(f), start_have_(have) {
    if (!o_.tty)
      std::fprintf(o_.log, have ? "%s: resuming at %s of %s\n" : "%s: fetching %s\n", f_.path.c_str(),
                   have ? human_bytes(have).c_str() : human_bytes(f_.size).c_str(), human_bytes(f_.size).c_str());
  }
  void update(uint64_t have, bool force = false) {
    if (!o_.tty) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - t0_).count();
    const double rate = s > 0 ? static_cast<double>(have - std::min(have, start_have_)) / s : 0;
    std::fprintf(o_.log, "\r\033[K%s  %s / %s  %3.0f%%  %s/s", f_.path.c_str(), human_bytes(have).c_str(),
                 human_bytes(f_.size).c_str(), f_.size ? 100.0 * static_cast<double>(have) / static_cast<double>(f_.size) : 100.0,
                 human_bytes(static_cast<uint64_t>(rate)).c_str());
    std::fflush(o_.log);
  }
  void note(const std::string& line) {
    if (o_.tty) std::fprintf(o_.log, "\r\033[K");
    std::fprintf(o_.log, "%s\n", line.c_str());
  }
  void done(const std::string& check) {
    if (o_.tty) update(f_.size, true);
    if (o_.tty) std::fprintf(o_.log, "  %s\n", check.c_str());
    else std::fprintf(o_.log, "%s: %s, %s\n", f_.path.c_str(), human_bytes(f_.size).c_str(), check.c_str());
  }

 private:
  const PullOptions& o_;
  const HubFile& f_;
  uint64_t start_have_;
  Clock::time_point t0_ = Clock::now(), last_{};
};

// An open .part file, locked so that two pulls never write the same one.
class PartFile {
 public:
  explicit PartFile(const fs::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot open {}: {}", path.string(), std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fail("{} is being written by another ax-engine pull", path.string());
    }
  }
  ~PartFile() { ::close(fd_); }
  uint64_t size() const { return static_cast<uint64_t>(::lseek(fd_, 0, SEEK_END)); }
  void restart_at(uint64_t offset) {
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0 || ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0)
      fail("cannot write {}: {}", path_.string(), std::strerror(errno));
  }
  void write(const char* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("cannot write {}: {}", path_.string(), std::strerror(errno));
      data += w, n -= static_cast<size_t>(w);
    }
  }
  void sync() { ::fdatasync(fd_); }

 private:
  fs::path path_;
  int fd_ = -1;
};

// Downloads one file into dir (resuming its .part), verifies it and moves it into place. Returns
// the bytes fetched.
uint64_t fetch_file(const HubClient& hub, const ModelName& name, const HubFile& f, const fs::path& dir,
                    const PullOptions& o) {
  const fs::path final_path = dir / f.path;
  const fs::path part_path = final_path.string() + ".part";
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (fs::is_regular_file(final_path, ec)) {
    if (fs::file_size(final_path, ec) == f.size) {
      std::fprintf(o.log, "%s: already here (%s)\n", f.path.c_str(), human_bytes(f.size).c_str());
      return 0;
    }
    fs::remove(final_path, ec);  // another revision's file: fetch this one
  }
  PartFile part(part_path);
  uint64_t have = part.size(), fetched = 0;
  if (have > f.size) part.restart_at(have = 0);
  FileProgress progress(o, f, have);
  double wait_s = o.retry_wait_s;
  for (int attempt = 1; have < f.size; ++attempt) {
    BodySink sink{[&](uint64_t start) { part.restart_at(have = start); },
                  [&](const char* data, size_t n) {
                    if (have + n > f.size)
                      fail("{}: the hub sent more than the {} bytes it lists", f.path, f.size);
                    part.write(data, n);
                    have += n, fetched += n;
                    progress.update(have);
                  }};
    try {
      hub.download(name.repo, o.revision, f.path, have, sink);
      if (have < f.size) throw TransientError(fmt::format("{}: the body ended at {} of {} bytes", f.path, have, f.size));
    } catch (const TransientError& e) {
      if (attempt >= o.attempts)
        fail("{} ({} tries); {} of {} bytes are kept in {}: pull again to resume", e.what(), attempt,
             human_bytes(have), human_bytes(f.size), part_path.string());
      progress.note(fmt::format("{}: {}; resuming at {} (try {} of {})", f.path, e.what(), human_bytes(have),
                                attempt + 1, o.attempts));
      std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
      wait_s *= 2;
    }
  }
  part.sync();
  // Size is right by now; the digest the hub records decides the rest.
  std::string check = "size checked (the hub lists no digest)";
  auto mismatch = [&](const char* kind, const std::string& got, const std::string& want) {
    fs::remove(part_path, ec);
    fail("{}: {} {} does not match the hub's {}; the download was discarded (pull again)", f.path, kind, got, want);
  };
  if (!f.sha256.empty()) {
    const std::string got = sha256_file(part_path);
    if (got != lower(f.sha256)) mismatch("sha256", got, f.sha256);
    check = "sha256 verified";
  } else if (!f.git_sha1.empty()) {
    const std::string got = git_blob_sha1_file(part_path);
    if (got != lower(f.git_sha1)) mismatch("git blob id", got, f.git_sha1);
    check = "git blob id verified";
  }
  fs::rename(part_path, final_path, ec);
  if (ec) fail("cannot move {} into place: {}", part_path.string(), ec.message());
  progress.done(check);
  return fetched;
}

// The shard names an index's weight_map points at.
std::set<std::string> index_shards(const fs::path& index_path) {
  std::ifstream in(index_path);
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail("{}: no weight_map object", index_path.string());
  std::set<std::string> shards;
  for (const auto& [_, shard] : j["weight_map"].items())
    if (shard.is_string()) shards.insert(shard.get<std::string>());
  return shards;
}

}  // namespace

std::vector<HubFile> select_files(const std::vector<HubFile>& listing, const ModelName& name) {
  if (!name.file.empty()) {
    if (!is_gguf(name.file))
      fail("'{}': only .gguf files are pulled one by one (pull '{}' for a Hugging Face folder)", name.str(), name.repo);
    for (const auto& f : listing)
      if (f.path == name.file) return {f};
    const std::string ggufs = gguf_list(listing);
    fail("{} has no file '{}'{}", name.repo, name.file, ggufs.empty() ? "" : "; its GGUF files: " + ggufs);
  }
  const bool has_config = std::any_of(listing.begin(), listing.end(), [](auto& f) { return f.path == "config.json"; });
  const bool has_weights = std::any_of(listing.begin(), listing.end(), is_safetensors);
  if (has_config && has_weights) {
    std::vector<HubFile> out;
    for (const auto& f : listing)
      if (kFolderFiles.count(f.path) || is_safetensors(f)) out.push_back(f);
    return out;
  }
  std::vector<HubFile> ggufs;
  for (const auto& f : listing)
    if (is_gguf(f.path) && lower(f.path).find("mmproj") == std::string::npos) ggufs.push_back(f);
  if (ggufs.size() == 1) return ggufs;
  for (const auto& f : ggufs)
    if (lower(fs::path(f.path).filename().string()).find("q4_k_m") != std::string::npos) return {f};
  if (ggufs.empty())
    fail("{} has neither config.json with *.safetensors nor a .gguf file: nothing ax-engine can run", name.repo);
  fail("{} has {} GGUF files and none is Q4_K_M; name one as {}:FILE: {}", name.repo, ggufs.size(), name.repo,
       gguf_list(listing));
}

PullResult pull_model(const HubClient& hub, const fs::path& cache, const ModelName& name, const PullOptions& o) {
  const std::vector<HubFile> listing = hub.list_files(name.repo, o.revision);
  std::vector<HubFile> files = select_files(listing, name);
  PullResult result{name, {}, 0};
  const bool one_gguf = files.size() == 1 && is_gguf(files.front().path);
  if (one_gguf && name.file.empty()) {
    result.name.file = files.front().path;
    std::fprintf(o.log, "%s: chose %s (pull %s:FILE for another)\n", name.repo.c_str(), files.front().path.c_str(),
                 name.repo.c_str());
  }
  const fs::path dir = repo_dir(cache, name.repo);
  // Small files first: the index then names the shards to fetch.
  std::stable_sort(files.begin(), files.end(), [](auto& a, auto& b) {
    return ends_with(a.path, ".safetensors") < ends_with(b.path, ".safetensors");
  });
  uint64_t total = 0;
  for (const auto& f : files) total += f.size;
  std::fprintf(o.log, "pulling %s at %s from %s: %zu file%s, %s\n", result.name.str().c_str(), o.revision.c_str(),
               hub.endpoint().c_str(), files.size(), files.size() == 1 ? "" : "s", human_bytes(total).c_str());
  std::set<std::string> shards;
  bool have_index = false;
  for (const auto& f : files) {
    if (ends_with(f.path, ".safetensors") && have_index && !shards.count(f.path)) continue;  // not the index's
    result.downloaded += fetch_file(hub, result.name, f, dir, o);
    if (f.path == "model.safetensors.index.json") {
      shards = index_shards(dir / f.path);
      have_index = true;
      for (const auto& s : shards)
        if (std::none_of(files.begin(), files.end(), [&](auto& g) { return g.path == s; }))
          fail("{}: model.safetensors.index.json names {}, which the repo does not have", name.repo, s);
    }
  }
  result.path = one_gguf ? dir / files.front().path : dir;
  return result;
}

}  // namespace ax::hub
