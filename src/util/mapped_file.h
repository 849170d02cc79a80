#pragma once
// A read-only memory-mapped file. Weights are used in place from the mapping, so a model costs
// no second copy in RAM.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ax {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws ax::Error naming the path
  // A view of bytes owned by the caller (kept alive by the caller for this object's lifetime);
  // `name` stands in for the path in error messages. Lets readers parse memory buffers (fuzzers,
  // tests) through the same code as files.
  static std::unique_ptr<MappedFile> borrow(const uint8_t* data, size_t size, std::string name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Lets the pages of [p, p + n) go if they lie inside a live read-only file mapping of this
  // class (they are read back from the file if touched again); does nothing for anything else,
  // borrowed buffers included. For weights that were copied into another layout.
  static void release_pages(const uint8_t* p, size_t n);

  // A mapping reads the file as it is now: a file truncated while mapped makes reads past its new
  // end fault (SIGBUS), and one rewritten in place changes under the reader. These let a server
  // notice. The identity of each live file mapping as it was when mapped:
  struct Identity {
    std::string path;
    uint64_t device = 0, inode = 0, size = 0;
    int64_t mtime_ns = 0;
  };
  static std::vector<Identity> live_files();
  // The path of the live file mapping holding addr, copied into out (NUL-terminated, cut to cap);
  // false if addr lies in none. Async-signal-safe (for a SIGBUS handler).
  static bool mapping_at(const void* addr, char* out, size_t cap);

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool owned_ = true;  // munmap on destruction
  MappedFile() = default;
};

}  // namespace ax
