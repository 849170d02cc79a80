#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "util/error.h"

namespace ax {
namespace {

// The live file mappings, for release_pages and live_files.
struct Mappings {
  std::mutex mu;
  std::vector<std::pair<const uint8_t*, size_t>> live;
  std::vector<MappedFile::Identity> identities;  // parallel to live
};
Mappings& mappings() {
  static Mappings* m = new Mappings;  // never destroyed: mappings may outlive static destructors
  return *m;
}

// The same mappings in fixed slots a signal handler can read without locks: a slot is published
// by storing its start last and retired by clearing its start first.
constexpr size_t kSignalSlots = 64;
struct SignalSlot {
  std::atomic<uintptr_t> start{0};
  std::atomic<size_t> size{0};
  char path[256] = {};
};
SignalSlot g_signal_slots[kSignalSlots];

void publish_for_signals(const uint8_t* data, size_t size, const std::string& path) {
  for (auto& slot : g_signal_slots) {
    uintptr_t expected = 0;
    // Claimed with a placeholder so no two mappings take one slot.
    if (!slot.start.compare_exchange_strong(expected, 1)) continue;
    slot.size.store(size);
    std::strncpy(slot.path, path.c_str(), sizeof slot.path - 1);
    slot.start.store(reinterpret_cast<uintptr_t>(data));
    return;
  }
}

void retire_for_signals(const uint8_t* data) {
  for (auto& slot : g_signal_slots)
    if (slot.start.load() == reinterpret_cast<uintptr_t>(data)) {
      slot.start.store(0);
      return;
    }
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
    mappings().identities.push_back({path, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), size_,
                                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec});
    publish_for_signals(data_, size_, path);
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

std::vector<MappedFile::Identity> MappedFile::live_files() {
  std::lock_guard lock(mappings().mu);
  return mappings().identities;
}

bool MappedFile::mapping_at(const void* addr, char* out, size_t cap) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  for (const auto& slot : g_signal_slots) {
    const uintptr_t start = slot.start.load();
    if (start <= 1 || a < start || a >= start + slot.size.load()) continue;
    size_t i = 0;
    for (; i + 1 < cap && slot.path[i]; ++i) out[i] = slot.path[i];
    if (cap) out[i] = '\0';
    return true;
  }
  return false;
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
      auto it = std::find(v.begin(), v.end(), std::make_pair(data_, size_));
      if (it != v.end()) {
        mappings().identities.erase(mappings().identities.begin() + (it - v.begin()));
        v.erase(it);
      }
      retire_for_signals(data_);
    }
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
}

}  // namespace ax
