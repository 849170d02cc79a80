#include "hub/digest.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <vector>

#include "util/error.h"

namespace ax::hub {
namespace {

using DigestCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

std::string hex_final(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += {digits[md[i] >> 4], digits[md[i] & 15]};
  return hex;
}

// The digest of `prefix` followed by the file's bytes, read 1 MiB at a time.
std::string digest_file(const EVP_MD* md, const std::string& prefix, const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot read {}", path.string());
  DigestCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), md, nullptr);
  EVP_DigestUpdate(ctx.get(), prefix.data(), prefix.size());
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(f.gcount()));
  }
  if (f.bad()) fail("error reading {}", path.string());
  return hex_final(ctx.get());
}

}  // namespace

std::string sha256_file(const std::filesystem::path& path) { return digest_file(EVP_sha256(), "", path); }

std::string sha256_string(const std::string& bytes) {
  DigestCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  return hex_final(ctx.get());
}

std::string git_blob_sha1_file(const std::filesystem::path& path) {
  const std::string header = "blob " + std::to_string(std::filesystem::file_size(path)) + std::string(1, '\0');
  return digest_file(EVP_sha1(), header, path);
}

}  // namespace ax::hub
