#include "server/crash_report.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "util/mapped_file.h"

namespace ax::server {
namespace {

constexpr int kSlots = 256;
constexpr size_t kIdBytes = 48;

// A slot is claimed by a compare-exchange of its flag (0 free, 1 being written, 2 listed).
struct Slot {
  std::atomic<int> state{0};
  char id[kIdBytes] = {};
};
Slot g_running[kSlots];

// Formatting without allocation, for the handler.
struct Line {
  char buf[4096];
  size_t len = 0;
  void add(const char* s) {
    while (*s && len < sizeof buf) buf[len++] = *s++;
  }
  void add_hex(uintptr_t v) {
    add("0x");
    char tmp[2 * sizeof v];
    int n = 0;
    do {
      tmp[n++] = "0123456789abcdef"[v & 0xF];
      v >>= 4;
    } while (v);
    while (n > 0 && len < sizeof buf) buf[len++] = tmp[--n];
  }
  void add_int(long v) {
    if (v < 0) {
      add("-");
      v = -v;
    }
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (n > 0 && len < sizeof buf) buf[len++] = tmp[--n];
  }
  void flush() {
    size_t off = 0;
    while (off < len) {
      ssize_t n = ::write(STDERR_FILENO, buf + off, len - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
};

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
  }
}

void on_fatal_signal(int sig, siginfo_t* info, void*) {
  Line line;
  char path[256];
  const void* addr = info ? info->si_addr : nullptr;
  if (sig == SIGBUS && addr && MappedFile::mapping_at(addr, path, sizeof path)) {
    line.add("ax-engine serve: fatal: the model file ");
    line.add(path);
    line.add(" was truncated while the server was using it (SIGBUS reading it); the server cannot go on and exits. "
             "Replace model files by renaming a new file over the old one: the server keeps the old one open.\n");
    line.flush();
    _exit(kExitModelFileTruncated);
  }
  line.add("ax-engine serve: fatal signal ");
  line.add(signal_name(sig));
  line.add(" (address ");
  line.add_hex(reinterpret_cast<uintptr_t>(addr));
  line.add(", pid ");
  line.add_int(static_cast<long>(getpid()));
  line.add("); requests running:");
  bool any = false;
  for (auto& slot : g_running)
    if (slot.state.load() == 2) {
      line.add(" ");
      line.add(slot.id);
      any = true;
    }
  if (!any) line.add(" none");
  line.add("\n");
  line.flush();
  // Die by the signal, as without this handler (exit status, core dump).
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

RunningRequest::RunningRequest(std::string_view id) {
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_running[i].state.compare_exchange_strong(expected, 1)) continue;
    const size_t n = std::min(id.size(), kIdBytes - 1);
    std::memcpy(g_running[i].id, id.data(), n);
    g_running[i].id[n] = '\0';
    g_running[i].state.store(2);
    slot_ = i;
    return;
  }
}

RunningRequest::~RunningRequest() {
  if (slot_ >= 0) g_running[slot_].state.store(0);
}

void install_fatal_signal_handlers() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return;  // a sanitizer's own handlers report more (scripts/sanitize.sh)
#endif
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

}  // namespace ax::server
