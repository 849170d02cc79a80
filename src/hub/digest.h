#pragma once
// Digests that check downloaded model files (OpenSSL EVP): sha256 (what the Hugging Face hub
// records for LFS files and what bench manifests pin) and the git blob id (sha1 over
// "blob <size>\0" + content, the hub's oid of a small file kept in git itself).
#include <filesystem>
#include <string>

namespace ax::hub {

// Lowercase hex digests; throw ax::Error naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);
std::string sha256_string(const std::string& bytes);
std::string git_blob_sha1_file(const std::filesystem::path& path);

}  // namespace ax::hub
