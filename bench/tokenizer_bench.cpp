// Tokenizer speed: encode a ~1 MiB text with real vocabularies, and the same text with llama.cpp's
// llama-tokenize when its path is given (ids are compared too).
//
// The text (deterministic, so runs and engines compare): every *.md, *.py, *.txt, *.inp file and
// every *.json file under 64 KiB in the shared folder (../shared: fixture READMEs, the fixture
// generator scripts, reference.json files, provenance notes, llama.cpp's multilingual tokenizer
// test inputs), in sorted path order, each preceded by "\n// <path>\n", repeated until the text
// holds 1 MiB (1,048,576 bytes) and cut back to a UTF-8 character boundary.
//
//   build-x/tokenizer_bench [--shared ../shared] [--runs 5] [--vocabs qwen2,llama-spm]
//                           [--llama-tokenize third_party/llama.cpp/build-cpu/bin/llama-tokenize]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <time.h>

#include "format/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds of this thread: on a busy shared machine, steadier than wall time.
double thread_cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// User + system CPU seconds of all waited-for children so far.
double children_cpu() {
  rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

struct Timing {
  double wall, cpu;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string build_text(const fs::path& shared, size_t target) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(shared)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = e.path().extension().string();
    bool take = ext == ".md" || ext == ".py" || ext == ".txt" || ext == ".inp" ||
                (ext == ".json" && e.file_size() < 64 * 1024);
    if (take) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::string unit;
  for (const auto& f : files) {
    std::string body = slurp(f);
    if (!ax::utf8::is_valid(body)) continue;
    unit += "\n// " + fs::relative(f, shared).string() + "\n" + body;
  }
  if (unit.empty()) throw std::runtime_error("no text files under " + shared.string());
  std::string text;
  while (text.size() < target) text += unit;
  text.resize(target);
  text.resize(ax::utf8::complete_prefix(text));  // do not end inside a character
  return text;
}

// Runs llama-tokenize on a file (file bytes as they are, special-token text not parsed, as in our
// encode below); returns its wall and CPU seconds and fills ids from its --ids output.
Timing run_llama_tokenize(const std::string& exe, const std::string& vocab, const std::string& file,
                          std::vector<int32_t>& ids) {
  std::string cmd = "'" + exe + "' -m '" + vocab + "' -f '" + file +
                    "' --ids --no-escape --no-parse-special --log-disable 2>/dev/null";
  auto t0 = Clock::now();
  const double c0 = children_cpu();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + exe);
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  Timing t{since(t0), children_cpu() - c0};
  if (rc != 0) throw std::runtime_error("llama-tokenize failed: " + cmd);
  ids.clear();
  for (size_t i = 0; i < out.size();) {
    if (out[i] >= '0' && out[i] <= '9') {
      size_t used = 0;
      ids.push_back(std::stoi(out.substr(i, 12), &used));
      i += used;
    } else {
      ++i;
    }
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tokenizer encode speed (and llama-tokenize on the same text)"};
  std::string shared = "../shared", llama_tokenize, text_out = "/tmp/ax_tokenizer_bench.txt";
  std::string vocab_list = "qwen2,llama-spm";
  int runs = 5;
  app.add_option("--shared", shared, "the shared folder (text source and vocabularies)");
  app.add_option("--runs", runs, "timed encodes per vocabulary (the first is also reported alone)");
  app.add_option("--vocabs", vocab_list, "llamacpp-vocab names, comma-separated");
  app.add_option("--llama-tokenize", llama_tokenize, "path of llama.cpp's llama-tokenize to compare");
  app.add_option("--text-out", text_out, "where the generated text is written");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::string text = build_text(shared, 1 << 20);
    { std::ofstream(text_out, std::ios::binary) << text; }
    std::printf("text: %zu bytes (%s)\n", text.size(), text_out.c_str());
    std::stringstream vs(vocab_list);
    for (std::string name; std::getline(vs, name, ',');) {
      const std::string vocab = shared + "/models/llamacpp-vocab/ggml-vocab-" + name + ".gguf";
      auto t0 = Clock::now();
      auto gguf = ax::GgufFile::open(vocab);
      auto tok = ax::load_tokenizer(*gguf);
      double load = since(t0);
      std::vector<int32_t> ids;
      Timing first{}, best{1e30, 1e30};
      for (int r = 0; r < std::max(1, runs); ++r) {
        auto t = Clock::now();
        const double c = thread_cpu();
        ids = tok->encode(text, /*add_special=*/false, /*parse_special=*/false);
        Timing s{since(t), thread_cpu() - c};
        if (r == 0) first = s;
        best.wall = std::min(best.wall, s.wall);
        best.cpu = std::min(best.cpu, s.cpu);
      }
      const double mb = text.size() / 1e6;
      std::printf("%-10s ax              load %.3f s | %zu tokens | first: cpu %.3f s (%.2f M tok/s, "
                  "%.1f MB/s), wall %.3f s | best of %d: cpu %.3f s (%.2f M tok/s, %.1f MB/s)\n",
                  name.c_str(), load, ids.size(), first.cpu, ids.size() / first.cpu / 1e6,
                  mb / first.cpu, first.wall, runs, best.cpu, ids.size() / best.cpu / 1e6, mb / best.cpu);
      if (!llama_tokenize.empty()) {
        // llama-tokenize loads the vocabulary each run: time a 1-byte text too and subtract.
        const std::string tiny = text_out + ".tiny";
        { std::ofstream(tiny, std::ios::binary) << "a"; }
        std::vector<int32_t> lids, tiny_ids;
        Timing base{1e30, 1e30}, full{1e30, 1e30};
        for (int r = 0; r < std::max(1, runs); ++r) {
          Timing b = run_llama_tokenize(llama_tokenize, vocab, tiny, tiny_ids);
          Timing f = run_llama_tokenize(llama_tokenize, vocab, text_out, lids);
          base = {std::min(base.wall, b.wall), std::min(base.cpu, b.cpu)};
          full = {std::min(full.wall, f.wall), std::min(full.cpu, f.cpu)};
        }
        // llama-tokenize adds BOS when the vocabulary asks for it; compare with that.
        std::vector<int32_t> ours = tok->encode(text, tok->adds_bos(), false);
        const Timing enc{full.wall - base.wall, full.cpu - base.cpu};
        std::printf("%-10s llama-tokenize  load+init cpu %.3f s | %zu tokens | encode: cpu %.3f s "
                    "(%.2f M tok/s, %.1f MB/s), wall %.3f s | ids %s\n",
                    name.c_str(), base.cpu, lids.size(), enc.cpu, lids.size() / enc.cpu / 1e6,
                    mb / enc.cpu, enc.wall, lids == ours ? "identical" : "DIFFER");
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
