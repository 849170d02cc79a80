#pragma once
// A client for the Hugging Face hub's two read routes:
//   GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true   the file list (JSON, paged by
//       a Link: <...>; rel="next" header), each file with its size and digests
//   GET {endpoint}/{repo}/resolve/{revision}/{path}                   a file's bytes; large files
//       redirect to a CDN; a Range header resumes a partial download
// HF_ENDPOINT names another hub (default https://huggingface.co); HF_TOKEN is sent as a bearer
// token, and only to the endpoint's own host (never to the CDN a redirect names).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/error.h"

namespace ax::hub {

// A file of a repo as the tree route lists it.
struct HubFile {
  std::string path;      // inside the repo, '/'-separated
  uint64_t size = 0;
  std::string sha256;    // LFS files: the content's sha256 (lfs.oid)
  std::string git_sha1;  // files kept in git itself: the blob id (oid); empty for LFS files
};

// A failure worth retrying: the connection failed or dropped mid-body.
class TransientError : public Error {
 public:
  using Error::Error;
};

// Receives a download's body. begin(start) comes first with the byte offset the body starts at:
// the offset asked for when the server honoured the Range request, 0 when it sent the whole file.
struct BodySink {
  std::function<void(uint64_t start)> begin;
  std::function<void(const char* data, size_t n)> write;
};

class HubClient {
 public:
  // endpoint: "https://huggingface.co" or "http://127.0.0.1:8000" (a path prefix is kept).
  HubClient(std::string endpoint, std::string token);
  // HF_ENDPOINT and HF_TOKEN from the environment.
  static HubClient from_environment();

  const std::string& endpoint() const { return endpoint_; }

  // Every file of the repo at that revision. Throws ax::Error with a sentence for a repo or
  // revision that does not exist or is not readable (with a hint about HF_TOKEN), and
  // TransientError when the hub cannot be reached.
  std::vector<HubFile> list_files(const std::string& repo, const std::string& revision) const;

  // Streams the file's bytes from `offset` on into `sink`, following redirects. Throws ax::Error
  // for a missing file, TransientError when the connection fails or drops (resume from what the
  // sink has).
  void download(const std::string& repo, const std::string& revision, const std::string& path, uint64_t offset,
                const BodySink& sink) const;

 private:
  struct Response;
  // One GET of `url` (absolute, or a path on the endpoint), following up to 10 redirects; 2xx
  // bodies go to `sink` when given, else into the response.
  Response get(std::string url, uint64_t offset, const BodySink* sink) const;
  [[noreturn]] void fail_status(const Response& r, const std::string& what, const std::string& repo) const;

  std::string endpoint_;  // without a trailing '/'
  std::string token_;
};

// "a b/c.json" -> "a%20b/c.json": each path segment percent-encoded; without keep_slashes '/' is
// encoded too (a revision such as "refs/pr/1" is one segment of the hub's routes).
std::string url_encode_path(const std::string& path, bool keep_slashes = true);

}  // namespace ax::hub
