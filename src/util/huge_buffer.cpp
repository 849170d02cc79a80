#include "util/huge_buffer.h"

#include <sys/mman.h>

#include <algorithm>

#include "util/error.h"

namespace ax {

HugeBuffer::HugeBuffer(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  bytes = std::max<size_t>(bytes, 1);
  if (bytes < 4 * kHuge) {  // small: a huge page would mostly be padding
    mapped_ = bytes;
    void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("cannot map {} bytes of memory", bytes);
    p_ = static_cast<uint8_t*>(p);
    return;
  }
  mapped_ = (bytes + kHuge - 1) / kHuge * kHuge;
  // Map one huge page more than needed and keep the 2 MiB-aligned part, so whole huge pages fit.
  void* p = mmap(nullptr, mapped_ + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("cannot map {} bytes of memory", bytes);
  const auto base = reinterpret_cast<uintptr_t>(p);
  const auto aligned = (base + kHuge - 1) & ~(kHuge - 1);
  if (aligned > base) munmap(p, aligned - base);
  const size_t tail = base + mapped_ + kHuge - (aligned + mapped_);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + mapped_), tail);
  p_ = reinterpret_cast<uint8_t*>(aligned);
  madvise(p_, mapped_, MADV_HUGEPAGE);  // advisory: ignored where THP is off
}

HugeBuffer::~HugeBuffer() {
  if (p_ != nullptr) munmap(p_, mapped_);
}

}  // namespace ax
