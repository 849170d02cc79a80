#include "format/safetensors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_support.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Builds safetensors bytes from a header JSON and a data section.
std::string make_safetensors(const json& header, const std::string& data) {
  std::string h = header.dump();
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + h + data;
}

std::string error_of(const std::string& bytes) {
  try {
    SafetensorsFile::open_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

fs::path temp_dir(const std::string& tag) {
  fs::path d = fs::temp_directory_path() / ("ax_st_" + tag + "_" + std::to_string(std::random_device{}()));
  fs::create_directories(d);
  return d;
}

// Every tensor of each fixture matches the shape and dtype that reference.json records.
TEST(Safetensors, FixturesMatchReferenceJson) {
  for (const char* name : {"llama", "llama3_rope", "qwen2", "qwen3", "mistral", "stories260K"}) {
    SCOPED_TRACE(name);
    auto model = SafetensorsModel::open(test::fixture(name));
    std::ifstream in(test::fixture(std::string(name) + "/reference.json"));
    json ref = json::parse(in);
    const auto& want = ref["checkpoint_tensors"];
    ASSERT_EQ(model->tensors().size(), want.size());
    for (const auto& [tname, info] : want.items()) {
      const TensorView* t = model->tensor(tname);
      ASSERT_NE(t, nullptr) << tname;
      EXPECT_EQ(t->shape, info["shape"].get<std::vector<int64_t>>()) << tname;
      EXPECT_EQ(std::string(dtype_name(t->dtype)), info["dtype"].get<std::string>()) << tname;
      EXPECT_EQ(t->nbytes, static_cast<size_t>(t->numel()) * 4) << tname;
    }
  }
}

TEST(Safetensors, ShardedCheckpoint) {
  const std::string dir = test::shared_model("ax-code-15m");
  auto model = SafetensorsModel::open(dir);
  std::ifstream in(dir + "/model.safetensors.index.json");
  json index = json::parse(in);
  EXPECT_EQ(model->files().size(), 3u);
  ASSERT_EQ(model->tensors().size(), index["weight_map"].size());
  uint64_t total = 0;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    const TensorView* t = model->tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dtype, DType::BF16) << name;
    EXPECT_EQ(fs::path(model->file_of(name)).filename().string(), shard.get<std::string>());
    total += t->nbytes;
  }
  EXPECT_EQ(total, index["metadata"]["total_size"].get<uint64_t>());
}

// Random tensors of each weight dtype written by hand come back bit-exact, as views (no copy).
TEST(Safetensors, RandomRoundTrip) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> dim(1, 9);
  json header;
  std::string data;
  std::map<std::string, std::string> want_bytes;
  for (const char* dt : {"F32", "F16", "BF16", "I32"}) {
    const int rows = dim(rng), cols = dim(rng);
    std::string bytes;
    for (int i = 0; i < rows * cols; ++i) {
      float v = nd(rng);
      if (std::string(dt) == "F32" || std::string(dt) == "I32") {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        bytes.append(reinterpret_cast<const char*>(&u), 4);
      } else {
        uint16_t h = std::string(dt) == "F16" ? f32_to_fp16(v) : f32_to_bf16(v);
        bytes.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    std::string name = std::string("t.") + dt;
    header[name] = {{"dtype", dt}, {"shape", {rows, cols}}, {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
    want_bytes[name] = bytes;
  }
  header["__metadata__"] = {{"format", "pt"}};
  const std::string file = make_safetensors(header, data);
  auto f = SafetensorsFile::open_memory(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "mem");
  EXPECT_EQ(f->metadata().at("format"), "pt");
  ASSERT_EQ(f->tensors().size(), 4u);
  for (const auto& [name, bytes] : want_bytes) {
    const TensorView* t = f->tensor(name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->nbytes, bytes.size());
    EXPECT_EQ(std::memcmp(t->data, bytes.data(), bytes.size()), 0) << name;
    EXPECT_GE(t->data, reinterpret_cast<const uint8_t*>(file.data()));
    EXPECT_LE(t->data + t->nbytes, reinterpret_cast<const uint8_t*>(file.data() + file.size()));
  }
}

// U8 (raw bytes: gpt-oss's MXFP4 blocks and scales) reads as DType::U8, a type GGUF has no id for.
TEST(Safetensors, U8TensorsReadAsRawBytes) {
  json header;
  header["blocks"] = {{"dtype", "U8"}, {"shape", {2, 3}}, {"data_offsets", {0, 6}}};
  const std::string file = make_safetensors(header, std::string("\x01\x02\x03\xfd\xfe\xff", 6));
  auto f = SafetensorsFile::open_memory(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "mem");
  const TensorView* t = f->tensor("blocks");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, DType::U8);
  EXPECT_EQ(t->nbytes, 6u);
  EXPECT_EQ(t->data[5], 0xff);
  EXPECT_FALSE(dtype_info(DType::U8).supported);  // no weight type
  EXPECT_FALSE(dtype_info(static_cast<uint32_t>(DType::U8)).has_value());  // a GGUF tensor cannot claim it
}

TEST(Safetensors, RejectsCorruptHeaders) {
  json ok = {{"w", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}}};
  const std::string data(24, '\x01');
  EXPECT_EQ(error_of(make_safetensors(ok, data)), "");

  EXPECT_NE(error_of("abc").find("too short"), std::string::npos);
  std::string too_long = make_safetensors(ok, data);
  too_long[0] = '\xff';
  too_long[5] = '\x01';
  EXPECT_NE(error_of(too_long).find("runs past the end"), std::string::npos);
  std::string bad_json = make_safetensors(ok, data);
  bad_json[9] = '!';
  EXPECT_NE(error_of(bad_json).find("not valid JSON"), std::string::npos);

  auto with = [&](const char* key, json value) {
    json h = ok;
    h["w"][key] = value;
    return error_of(make_safetensors(h, data));
  };
  EXPECT_NE(with("data_offsets", {0, 25}).find("fall outside"), std::string::npos);
  EXPECT_NE(with("data_offsets", {8, 4}).find("fall outside"), std::string::npos);
  EXPECT_NE(with("data_offsets", {0, 20}).find("need 24"), std::string::npos);
  EXPECT_NE(with("shape", {3, 3}).find("need 36"), std::string::npos);
  EXPECT_NE(with("shape", {-1, 3}).find("shape"), std::string::npos);
  EXPECT_NE(with("dtype", "F8_E4M3").find("unsupported dtype 'F8_E4M3'"), std::string::npos);
  EXPECT_NE(with("dtype", 3).find("no string dtype"), std::string::npos);
  EXPECT_NE(with("data_offsets", "x").find("data_offsets"), std::string::npos);
  // Shape product overflowing 64 bits must not wrap around to a small size.
  EXPECT_NE(with("shape", {uint64_t{1} << 62, 8}).find("overflow"), std::string::npos);

  json overlap = ok;
  overlap["v"] = {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {16, 24}}};
  const std::string msg = error_of(make_safetensors(overlap, data));
  EXPECT_NE(msg.find("overlap"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mem.safetensors"), std::string::npos) << msg;
  EXPECT_NE(error_of(make_safetensors(json::array({1}), data)).find("not a JSON object"), std::string::npos);
}

TEST(Safetensors, TruncatedAtEveryCutPoint) {
  std::ifstream in(test::fixture("stories260K/model.safetensors"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(error_of(bytes), "");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(bytes[i]);
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 8 + header_len + 16; ++n) cuts.push_back(n);
  for (size_t n = 8 + header_len; n < bytes.size(); n += 997) cuts.push_back(n);
  cuts.push_back(bytes.size() - 1);
  for (size_t n : cuts) {
    const std::string msg = error_of(bytes.substr(0, n));
    ASSERT_NE(msg.find("mem.safetensors"), std::string::npos) << "cut at " << n << ": '" << msg << "'";
  }
}

TEST(Safetensors, ShardErrors) {
  const fs::path dir = temp_dir("shards");
  json a = {{"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}}};
  json b = {{"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}}};
  write_file(dir / "s1.safetensors", make_safetensors(a, "abcd"));
  write_file(dir / "s2.safetensors", make_safetensors(b, "efgh"));
  auto write_index = [&](json map) {
    write_file(dir / "model.safetensors.index.json", json{{"weight_map", map}}.dump());
  };
  auto err = [&]() -> std::string {
    try {
      SafetensorsModel::open(dir.string());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  write_index({{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  EXPECT_EQ(err(), "");
  EXPECT_EQ(SafetensorsModel::open(dir.string())->tensors().size(), 2u);

  write_index({{"a", "s1.safetensors"}, {"b", "missing.safetensors"}});
  EXPECT_NE(err().find("shard 'missing.safetensors'"), std::string::npos);

  write_index({{"a", "s1.safetensors"}, {"b", "s1.safetensors"}});
  EXPECT_NE(err().find("tensor 'b' is listed in the index but missing"), std::string::npos);

  write_file(dir / "s2.safetensors", make_safetensors(a, "efgh"));
  write_index({{"a", "s1.safetensors"}, {"x", "s2.safetensors"}});
  EXPECT_NE(err().find("tensor 'a' is also in"), std::string::npos) << err();

  write_file(dir / "model.safetensors.index.json", "{not json");
  EXPECT_NE(err().find("not valid JSON"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ax
