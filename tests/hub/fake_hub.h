#pragma once
// Test helper: a Hugging Face hub on loopback, in the real hub's URL layout (hub/hub_client.h):
//   GET /api/models/{owner}/{name}/tree/{revision}?recursive=true   the file list, 3 entries a page,
//       further pages named by a Link: <...>; rel="next" header
//   GET /{owner}/{name}/resolve/{revision}/{path}   small files served here; LFS files redirect (302)
//       to a second server, the "CDN", as the real hub's do
// Both honour Range requests (httplib::Server does), record them, and can drop a download's
// connection after N bytes once. Header-only: tests/hub builds only *_test.cpp files.
#include <fmt/core.h>
#include <openssl/evp.h>

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "hub/digest.h"
#include "server/httplib_config.h"

namespace ax::test {

struct FakeFile {
  FakeFile(std::string path, std::string bytes, bool lfs = false, std::string listed_sha256 = "")
      : path(std::move(path)), bytes(std::move(bytes)), lfs(lfs), listed_sha256(std::move(listed_sha256)) {}
  std::string path;
  std::string bytes;
  bool lfs = false;            // listed with lfs {oid: sha256, size}; served by the CDN
  std::string listed_sha256;   // LFS: what the listing claims (default: the bytes' real sha256)
};

class FakeHub {
 public:
  FakeHub() {
    hub_.Get(R"(/api/models/([^/]+)/([^/]+)/tree/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      tree(req.matches[1].str() + "/" + req.matches[2].str(), req.matches[3], req, res);
    });
    hub_.Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      resolve(req.matches[1].str() + "/" + req.matches[2].str(), req.matches[3], req.matches[4], req, res);
    });
    cdn_.Get(R"(/blob/([^/]+)/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (req.has_header("Authorization")) cdn_saw_authorization_ = true;
      const FakeFile* f = find(req.matches[1].str() + "/" + req.matches[2].str(), req.matches[3]);
      if (!f) return void(res.status = 404);
      serve(*f, req, res);
    });
    hub_port_ = start(hub_, hub_thread_);
    cdn_port_ = start(cdn_, cdn_thread_);
  }
  ~FakeHub() {
    hub_.stop();
    cdn_.stop();
    hub_thread_.join();
    cdn_thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_port_); }
  void add_repo(const std::string& repo, std::vector<FakeFile> files) {
    std::lock_guard lock(mu_);
    repos_[repo] = std::move(files);
  }
  // The next download of `path` sends `bytes` bytes of what was asked, then drops the connection.
  void drop_next_download(const std::string& path, size_t bytes) {
    std::lock_guard lock(mu_);
    drops_[path] = bytes;
  }
  // Requests answer 401 unless they carry "Authorization: Bearer <token>" (the hub's answer for
  // a private repo to a client without the right token).
  void require_token(const std::string& token) {
    std::lock_guard lock(mu_);
    token_ = token;
  }
  // The Range header of each download of `path`, in order ("" for a whole-file request).
  std::vector<std::string> ranges(const std::string& path) {
    std::lock_guard lock(mu_);
    return ranges_[path];
  }
  bool cdn_saw_authorization() {
    std::lock_guard lock(mu_);
    return cdn_saw_authorization_;
  }

 private:
  static int start(httplib::Server& server, std::thread& thread) {
    const int port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([&server] { server.listen_after_bind(); });
    for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return port;
  }

  const FakeFile* find(const std::string& repo, const std::string& path) {
    auto it = repos_.find(repo);
    if (it == repos_.end()) return nullptr;
    for (const auto& f : it->second)
      if (f.path == path) return &f;
    return nullptr;
  }

  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (token_.empty() || req.get_header_value("Authorization") == "Bearer " + token_) return true;
    res.status = 401;
    res.set_header("X-Error-Code", "RepoNotFound");
    res.set_content(R"({"error":"Repository Not Found"})", "application/json");
    return false;
  }

  void tree(const std::string& repo, const std::string& revision, const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!authorized(req, res)) return;
    auto it = repos_.find(repo);
    if (it == repos_.end()) {
      res.status = 404;
      res.set_header("X-Error-Code", "RepoNotFound");
      res.set_content(R"({"error":"Repository not found"})", "application/json");
      return;
    }
    if (revision != "main") {
      res.status = 404;
      res.set_header("X-Error-Code", "RevisionNotFound");
      res.set_content(R"({"error":"Invalid rev id: )" + revision + R"("})", "application/json");
      return;
    }
    const size_t page = 3, from = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
    nlohmann::json out = nlohmann::json::array();
    if (from == 0) out.push_back({{"type", "directory"}, {"path", "original"}, {"oid", "0"}, {"size", 0}});
    for (size_t i = from; i < std::min(from + page, it->second.size()); ++i) {
      const FakeFile& f = it->second[i];
      nlohmann::json e = {{"type", "file"}, {"path", f.path}, {"size", f.bytes.size()}};
      if (f.lfs) {
        e["oid"] = "0123456789012345678901234567890123456789";  // the pointer file's blob id
        e["lfs"] = {{"oid", f.listed_sha256.empty() ? hub::sha256_string(f.bytes) : f.listed_sha256},
                    {"size", f.bytes.size()}, {"pointerSize", 134}};
      } else {
        e["oid"] = git_blob_sha1(f.bytes);
      }
      out.push_back(e);
    }
    if (from + page < it->second.size())
      res.set_header("Link", "<" + endpoint() + "/api/models/" + repo + "/tree/main?recursive=true&cursor=" +
                                 std::to_string(from + page) + ">; rel=\"next\"");
    res.set_content(out.dump(), "application/json");
  }

  void resolve(const std::string& repo, const std::string& revision, const std::string& path,
               const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!authorized(req, res)) return;
    const FakeFile* f = find(repo, path);
    if (!f || revision != "main") {
      res.status = 404;
      res.set_header("X-Error-Code", f ? "RevisionNotFound" : "EntryNotFound");
      res.set_content(R"({"error":"Entry not found"})", "application/json");
      return;
    }
    if (f->lfs) {
      res.status = 302;
      res.set_header("Location", "http://127.0.0.1:" + std::to_string(cdn_port_) + "/blob/" + repo + "/" + path);
      return;
    }
    serve(*f, req, res);
  }

  // Under mu_. httplib::Server cuts the Range out of what the provider writes.
  void serve(const FakeFile& f, const httplib::Request& req, httplib::Response& res) {
    ranges_[f.path].push_back(req.get_header_value("Range"));
    size_t drop_after = std::string::npos;
    if (auto d = drops_.find(f.path); d != drops_.end()) drop_after = d->second, drops_.erase(d);
    const std::string* bytes = &f.bytes;
    res.set_content_provider(bytes->size(), "application/octet-stream",
                             [bytes, drop_after](size_t offset, size_t length, httplib::DataSink& sink) {
                               const size_t n = std::min(length, drop_after);
                               if (n > 0 && !sink.write(bytes->data() + offset, n)) return false;
                               return n == length;  // false: the connection drops here
                             });
  }

  // Computed here with OpenSSL directly, not with hub/digest (whose git blob id is under test).
  static std::string git_blob_sha1(const std::string& bytes) {
    const std::string blob = "blob " + std::to_string(bytes.size()) + std::string(1, '\0') + bytes;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(blob.data(), blob.size(), md, &len, EVP_sha1(), nullptr);
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
    return hex;
  }

  httplib::Server hub_, cdn_;
  std::thread hub_thread_, cdn_thread_;
  int hub_port_ = 0, cdn_port_ = 0;
  std::mutex mu_;
  std::map<std::string, std::vector<FakeFile>> repos_;
  std::map<std::string, size_t> drops_;
  std::map<std::string, std::vector<std::string>> ranges_;
  std::string token_;
  bool cdn_saw_authorization_ = false;
};

}  // namespace ax::test
