#pragma once
// Anonymous zero-filled memory on transparent huge pages where the kernel allows (THP "always" or
// "madvise"). For the big buffers that are streamed every token (packed weights, the KV pool): with
// 4 KiB pages each page is a TLB miss, and those reads touch hundreds of MB per token. Pages are
// committed on first touch, so an unused tail costs no memory.
#include <cstddef>
#include <cstdint>

namespace ax {

class HugeBuffer {
 public:
  explicit HugeBuffer(size_t bytes);
  ~HugeBuffer();
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  uint8_t* data() const { return p_; }

 private:
  uint8_t* p_ = nullptr;
  size_t mapped_ = 0;
};

}  // namespace ax
