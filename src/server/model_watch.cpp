#include "server/model_watch.h"

#include <sys/stat.h>

#include <cstdio>

#include "util/mapped_file.h"

namespace ax::server {

ModelFileWatch::ModelFileWatch(ServingContext& ctx, std::chrono::milliseconds period) : ctx_(ctx) {
  thread_ = std::thread([this, period] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      check();
      lock.lock();
    }
  });
}

ModelFileWatch::~ModelFileWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ModelFileWatch::check() {
  if (ctx_.model_file_changed.load()) return;  // said once; a restart is needed
  for (const MappedFile::Identity& f : MappedFile::live_files()) {
    struct stat st {};
    const bool exists = ::stat(f.path.c_str(), &st) == 0;
    if (!exists || static_cast<uint64_t>(st.st_ino) != f.inode || static_cast<uint64_t>(st.st_dev) != f.device) {
      if (!replaced_noted_)
        std::fprintf(stderr,
                     "ax-engine serve: %s was replaced or removed on disk; this server keeps using the file it "
                     "loaded (restart to load the new one)\n", f.path.c_str());
      replaced_noted_ = true;
      continue;
    }
    const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (static_cast<uint64_t>(st.st_size) == f.size && mtime == f.mtime_ns) continue;
    const bool shorter = static_cast<uint64_t>(st.st_size) < f.size;
    std::string why = f.path + (shorter ? " was truncated" : " was rewritten") +
                      " in place while the server was using it; its weights are no longer what was loaded. "
                      "Restart the server (and replace model files by renaming a new file over the old one).";
    {
      std::lock_guard lock(ctx_.model_file_mu);
      ctx_.model_file_problem = why;
    }
    ctx_.model_file_changed.store(true);
    std::fprintf(stderr, "ax-engine serve: %s\n", why.c_str());
    return;
  }
}

}  // namespace ax::server
