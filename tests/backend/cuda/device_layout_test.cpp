// The CUDA backend's weight layouts (host code, tested without a GPU): every stored type repacks
// into its device layout and reads back as the reference dequantizer reads the original, padding
// included.
#include <gtest/gtest.h>

#include <random>

#include "backend/cuda/device_layout.h"
#include "backend/kernel_test_data.h"
#include "format/dequant.h"
#include "util/error.h"

namespace ax::cuda {
namespace {

TEST(DeviceLayout, EveryTypeRoundTripsThroughItsDeviceLayout) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K, DType::Q3_K, DType::Q5_0, DType::MXFP4}) {
    const int64_t bs = dtype_info(t).block_size;
    for (int64_t k : {bs == 1 ? int64_t{172} : bs == 32 ? int64_t{96} : int64_t{512}, int64_t{768}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " k=" << k << " seed=" << seed);
      const int64_t m = 5;
      const auto w = cpu::kernels::random_weights(t, m, k, rng);
      TensorView v{"w", t, {m, k}, w.data(), w.size()};
      const DeviceLayout l = device_layout(t, m, k);
      EXPECT_EQ(l.cols_padded % 256, 0);
      EXPECT_GE(l.cols_padded, k);
      EXPECT_EQ(l.row_stride % 16, 0u);
      const auto bytes = repack_for_device(v, l);
      ASSERT_EQ(bytes.size(), l.bytes());
      std::vector<float> got(k), want(k);
      for (int64_t r = 0; r < m; ++r) {
        dequantize_device_row(l, bytes.data() + r * l.row_stride, got.data());
        dequantize_row(t, w.data() + r * row_bytes(t, k), want.data(), k);
        for (int64_t i = 0; i < k; ++i) {
          // Float types become f16 on the device; quantized ones keep their exact values.
          const float expect = l.type == DevType::F16 && t != DType::F16 ? fp16_to_f32(f32_to_fp16(want[i])) : want[i];
          ASSERT_EQ(got[i], expect) << "row " << r << " value " << i;
        }
      }
    }
  }
}

TEST(DeviceLayout, FloatWeightsBeyondHalfRangeAreRefused) {
  std::vector<float> w(256, 1.0f);
  w[7] = 1e6f;
  TensorView v{"big", DType::F32, {1, 256}, reinterpret_cast<const uint8_t*>(w.data()), w.size() * 4};
  EXPECT_THROW(repack_for_device(v, device_layout(DType::F32, 1, 256)), Error);
}

}  // namespace
}  // namespace ax::cuda
