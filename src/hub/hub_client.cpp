#include "hub/hub_client.h"

#include <cctype>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <regex>

// Debian's compiled cpp-httplib, with its pkg-config flags (OpenSSL for https://) as the server
// layer sees them: one configuration (CMakeLists.txt, server/httplib_config.h).
#include <httplib.h>

namespace ax::hub {
namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxErrorBody = 64 << 10;

// "https://host:port/a/b?c" -> {"https://host:port", "/a/b?c"}.
std::pair<std::string, std::string> split_url(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) fail("'{}' is not an http:// or https:// URL", url);
  const size_t slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

bool is_redirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

// The message the hub gives with an error: its X-Error-Message header, else the body's "error".
std::string hub_message(const httplib::Headers& headers, const std::string& body) {
  if (auto it = headers.find("X-Error-Message"); it != headers.end()) return it->second;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return {};
}

// The rel="next" URL of a Link header, or "".
std::string next_page(const std::string& link) {
  static const std::regex next_re(R"re(<([^>]+)>\s*;\s*rel="?next"?)re");
  std::smatch m;
  return std::regex_search(link, m, next_re) ? m[1].str() : std::string();
}

// A sentence for a request that got no (complete) response.
std::string describe_failure(const std::string& origin, httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout:
      return fmt::format("cannot reach {} (offline? HF_ENDPOINT names another hub)", origin);
    case httplib::Error::SSLConnection:
      return fmt::format("cannot open a TLS connection to {}", origin);
    case httplib::Error::SSLServerVerification:
      return fmt::format("{}: its TLS certificate could not be verified (are the ca-certificates installed?)", origin);
    case httplib::Error::Read:
      return fmt::format("{}: the connection dropped", origin);
    default:
      return fmt::format("{}: request failed ({})", origin, httplib::to_string(e));
  }
}

}  // namespace

struct HubClient::Response {
  int status = 0;
  httplib::Headers headers;
  std::string body;  // the body when no sink took it (error bodies: capped)
  std::string url;   // the last URL asked (after redirects)
};

std::string url_encode_path(const std::string& path, bool keep_slashes) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || (c == '/' && keep_slashes) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

HubClient::HubClient(std::string endpoint, std::string token) : endpoint_(std::move(endpoint)), token_(std::move(token)) {
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  split_url(endpoint_);  // validates the scheme
}

HubClient HubClient::from_environment() {
  const char* endpoint = std::getenv("HF_ENDPOINT");
  const char* token = std::getenv("HF_TOKEN");
  return HubClient(endpoint && *endpoint ? endpoint : "https://huggingface.co", token ? token : "");
}

HubClient::Response HubClient::get(std::string url, uint64_t offset, const BodySink* sink) const {
  const std::string own_origin = split_url(endpoint_).first;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) url = endpoint_ + url;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    auto [origin, path] = split_url(url);
    httplib::Client cli(origin);
    cli.set_connection_timeout(15);
    cli.set_read_timeout(60);
    cli.set_follow_location(false);  // redirects by hand: the token must not follow them to a CDN
    // Identity encoding: byte offsets of a Range request are offsets into the file itself.
    httplib::Headers headers = {{"Accept-Encoding", "identity"}, {"User-Agent", "ax-engine"}};
    if (!token_.empty() && origin == own_origin) headers.emplace("Authorization", "Bearer " + token_);
    if (offset > 0) headers.emplace("Range", "bytes=" + std::to_string(offset) + "-");

    Response r;
    r.url = url;
    bool to_sink = false;
    // The sink's errors (a failed write, too many bytes) cancel the request and are rethrown
    // here rather than thrown through httplib.
    std::exception_ptr sink_error;
    auto on_response = [&](const httplib::Response& res) {
      r.status = res.status;
      r.headers = res.headers;
      to_sink = sink && (res.status == 200 || res.status == 206);
      if (!to_sink) return true;
      try {
        uint64_t start = 0;
        if (res.status == 206) {
          // "Content-Range: bytes START-END/TOTAL"
          const std::string range = res.get_header_value("Content-Range");
          const size_t at = range.find("bytes ");
          start = at == std::string::npos ? 0 : std::strtoull(range.c_str() + at + 6, nullptr, 10);
          if (start != offset) fail("{}: asked for bytes from {} but got '{}'", url, offset, range);
        }
        sink->begin(start);
        return true;
      } catch (...) {
        sink_error = std::current_exception();
        return false;
      }
    };
    auto on_body = [&](const char* data, size_t n) {
      if (!to_sink) {
        if (r.body.size() < kMaxErrorBody || (r.status >= 200 && r.status < 300)) r.body.append(data, n);
        return true;
      }
      try {
        sink->write(data, n);
        return true;
      } catch (...) {
        sink_error = std::current_exception();
        return false;
      }
    };
    auto result = cli.Get(path, headers, on_response, on_body);
    if (sink_error) std::rethrow_exception(sink_error);
    if (!result) throw TransientError(describe_failure(origin, result.error()));
    if (!is_redirect(r.status)) return r;
    std::string location = result->get_header_value("Location");
    if (location.empty()) fail("{}: HTTP {} redirect without a Location", url, r.status);
    url = location.rfind("http", 0) == 0 ? location : origin + location;
  }
  fail("{}: more than {} redirects", url, kMaxRedirects);
}

void HubClient::fail_status(const Response& r, const std::string& what, const std::string& repo) const {
  const auto code_it = r.headers.find("X-Error-Code");
  const std::string code = code_it == r.headers.end() ? "" : code_it->second;
  std::string message = hub_message(r.headers, r.body);
  const std::string detail = message.empty() ? "" : " (" + message + ")";
  if (r.status >= 500) throw TransientError(fmt::format("{}: {} answered HTTP {}{}", what, endpoint_, r.status, detail));
  const std::string token_hint = token_.empty()
                                     ? "if it is private or gated, set HF_TOKEN to a token that can read it"
                                     : "check that the token in HF_TOKEN can read it";
  if (code == "RepoNotFound" || (r.status == 401 && code != "GatedRepo"))
    fail("{}: repository '{}' was not found on {} (HTTP {}); {}", what, repo, endpoint_, r.status, token_hint);
  if (code == "GatedRepo" || r.status == 403)
    fail("{}: access to '{}' is restricted (HTTP {}){}; accept its terms on its page at {}/{} and set HF_TOKEN to a "
         "token of that account", what, repo, r.status, detail, endpoint_, repo);
  if (code == "RevisionNotFound") fail("{}: no such revision{}", what, detail);
  if (r.status == 404) fail("{}: not found on {} (HTTP 404){}", what, endpoint_, detail);
  fail("{}: {} answered HTTP {}{}", what, endpoint_, r.status, detail);
}

std::vector<HubFile> HubClient::list_files(const std::string& repo, const std::string& revision) const {
  const std::string what = fmt::format("listing the files of {} at {}", repo, revision);
  std::vector<HubFile> files;
  std::string url = "/api/models/" + url_encode_path(repo) + "/tree/" + url_encode_path(revision, false) + "?recursive=true";
  while (!url.empty()) {
    Response r = get(url, 0, nullptr);
    if (r.status != 200) fail_status(r, what, repo);
    auto page = nlohmann::json::parse(r.body, nullptr, false);
    if (!page.is_array()) fail("{}: {} sent a file list that is not a JSON array", what, r.url);
    for (const auto& e : page) {
      if (!e.is_object() || e.value("type", "") != "file") continue;
      HubFile f;
      f.path = e.value("path", "");
      f.size = e.value("size", uint64_t{0});
      if (e.contains("lfs") && e["lfs"].is_object()) {
        f.sha256 = e["lfs"].value("oid", "");
        f.size = e["lfs"].value("size", f.size);
      } else {
        f.git_sha1 = e.value("oid", "");
      }
      if (f.path.empty()) fail("{}: an entry of {} has no path", what, r.url);
      files.push_back(std::move(f));
    }
    auto link = r.headers.find("Link");
    url = link == r.headers.end() ? "" : next_page(link->second);
  }
  return files;
}

void HubClient::download(const std::string& repo, const std::string& revision, const std::string& path,
                         uint64_t offset, const BodySink& sink) const {
  const std::string url = "/" + url_encode_path(repo) + "/resolve/" + url_encode_path(revision, false) + "/" + url_encode_path(path);
  Response r = get(url, offset, &sink);
  if (r.status == 200 || r.status == 206) return;
  fail_status(r, fmt::format("downloading {} from {}", path, repo), repo);
}

}  // namespace ax::hub
