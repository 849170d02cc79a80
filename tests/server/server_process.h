#pragma once
// Test helper: runs `ax-engine serve` as a child process on a free loopback port, waits for
// /health, and stops it with SIGTERM. Header-only (tests/server builds only *_test.cpp files).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/httplib_config.h"
#include "server/metrics.h"

namespace ax::test {

// A metric's value from the server's /metrics text (first sample of that name), -1 if absent.
inline double metric(httplib::Client& cli, const std::string& name) {
  auto res = cli.Get("/metrics");
  if (!res) return -1;
  return server::prometheus_value(res->body, name).value_or(-1);
}

// A number from /proc/PID/status: "Threads", "VmRSS" (kB), ...; -1 if absent.
inline int64_t proc_status(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

class ServerProcess {
 public:
  // extra: more command-line flags. Throws if the server does not come up in time.
  // wait_ready false: return once the port is known, before the model has loaded.
  explicit ServerProcess(const std::string& model, std::vector<std::string> extra = {}, bool wait_ready = true) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDERR_FILENO);
      close(out[0]);
      std::vector<std::string> args = {AX_ENGINE_BINARY, "serve", "--model", model, "--port", "0", "--threads", "2"};
      for (auto& e : extra) args.push_back(e);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    stderr_fd_ = out[0];
    // The first line names the port: "listening on http://127.0.0.1:PORT".
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::regex port_re(R"(listening on http://[^:]+:(\d+))");
    while (port_ == 0) {
      std::string line = read_line(deadline);
      std::smatch m;
      if (std::regex_search(line, m, port_re)) port_ = std::stoi(m[1]);
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("server did not start: " + log_);
    }
    // Keep draining stderr so the server never blocks on a full pipe (kept: stderr_text()).
    drain_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = read(stderr_fd_, buf, sizeof buf)) > 0) {
        std::lock_guard lock(log_mu_);
        if (log_.size() < (8u << 20)) log_.append(buf, static_cast<size_t>(n));
      }
    });
    while (wait_ready) {
      auto res = client().Get("/health");
      if (res && res->status == 200) break;
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("server never became healthy");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  ~ServerProcess() { stop(); }

  int port() const { return port_; }
  httplib::Client client(int timeout_s = 120) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(timeout_s, 0);
    c.set_write_timeout(timeout_s, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }

  // SIGTERM and wait; the exit status (or -1 if it had to be killed).
  int stop() {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        exit_status_ = -1;
        pid_ = 0;
        finish_drain();
        return exit_status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    wait_status_ = status;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    pid_ = 0;
    finish_drain();
    return exit_status_;
  }

  pid_t pid() const { return pid_; }
  // Everything the server wrote on stderr so far (the first 8 MB).
  std::string stderr_text() {
    std::lock_guard lock(log_mu_);
    return log_;
  }
  // The raw wait status once stop() collected it (to tell an exit from a death by signal).
  int wait_status() const { return wait_status_; }
  // SIGTERM without waiting (stop() then collects the exit status).
  void terminate() const {
    if (pid_ > 0) kill(pid_, SIGTERM);
  }

 private:
  std::string read_line(std::chrono::steady_clock::time_point deadline) {
    std::string line;
    char c;
    while (std::chrono::steady_clock::now() < deadline) {
      ssize_t n = read(stderr_fd_, &c, 1);
      if (n <= 0) throw std::runtime_error("server exited early: " + log_);
      log_ += c;
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }
  void finish_drain() {
    if (drain_.joinable()) drain_.join();
    if (stderr_fd_ >= 0) close(stderr_fd_);
    stderr_fd_ = -1;
  }

  pid_t pid_ = 0;
  int port_ = 0;
  int stderr_fd_ = -1;
  int exit_status_ = -1;
  std::string log_;
  std::mutex log_mu_;
  std::thread drain_;
  int wait_status_ = 0;
};

// Runs a command line to its end; returns {exit status, stderr}.
inline std::pair<int, std::string> run_capture_stderr(std::vector<std::string> args) {
  int err[2];
  if (pipe(err) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    close(err[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(err[1]);
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = read(err[0], buf, sizeof buf)) > 0) text.append(buf, n);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

}  // namespace ax::test
