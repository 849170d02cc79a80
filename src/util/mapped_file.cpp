#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "util/error.h"

namespace ax {
namespace {

// The live file mappings, for release_pages.
struct Mappings {
  std::mutex mu;
  std::vector<std::pair<const uint8_t*, size_t>> live;
};
Mappings& mappings() {
  static Mappings* m = new Mappings;  // never destroyed: mappings may outlive static destructors
  return *m;
}

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail("{}: mmap failed: {}", path, std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
    std::lock_guard lock(mappings().mu);
    mappings().live.emplace_back(data_, size_);
  }
  ::close(fd);
}

void MappedFile::release_pages(const uint8_t* p, size_t n) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto b = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const auto e = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
  if (e <= b) return;
  std::lock_guard lock(mappings().mu);
  for (const auto& [start, size] : mappings().live)
    if (reinterpret_cast<uintptr_t>(start) <= b && e <= reinterpret_cast<uintptr_t>(start) + size) {
      ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
      return;
    }
}

std::unique_ptr<MappedFile> MappedFile::borrow(const uint8_t* data, size_t size, std::string name) {
  std::unique_ptr<MappedFile> f(new MappedFile());
  f->path_ = std::move(name);
  f->data_ = data;
  f->size_ = size;
  f->owned_ = false;
  return f;
}

MappedFile::~MappedFile() {
  if (data_ && owned_) {
    {
      std::lock_guard lock(mappings().mu);
      auto& v = mappings().live;
      v.erase(std::remove(v.begin(), v.end(), std::make_pair(data_, size_)), v.end());
    }
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
}

}  // namespace ax
