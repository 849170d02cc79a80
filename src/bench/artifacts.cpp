#include "bench/artifacts.h"

#include <fmt/core.h>
#include <xxhash.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench/metric_catalog.h"
#include "util/error.h"

namespace ax::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream f(p, std::ios::binary);
  if (!f) fail("cannot write {}", p.string());
  f << content;
  if (!f) fail("writing {} failed", p.string());
}

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) fail("{}: missing (not an artifact directory of bench run?)", p.string());
  json j = json::parse(f, nullptr, false);
  if (j.is_discarded()) fail("{}: not valid JSON", p.string());
  return j;
}

std::string format_value(const json& v, const std::string& unit) {
  if (!v.is_number()) return "n/a";
  const double x = v.get<double>();
  std::string s = std::abs(x) >= 100 || x == std::floor(x) ? fmt::format("{:.0f}", x) : fmt::format("{:.3g}", x);
  if (std::abs(x) >= 100 && std::abs(x) < 1e4 && x != std::floor(x)) s = fmt::format("{:.1f}", x);
  return unit.empty() ? s : s + " " + unit;
}

json request_line(const RunRecord& run, size_t i, const PlannedRequest& p) {
  const RequestRecord& r = run.requests[i];
  json arrivals = json::array();
  for (const TokenArrival& a : r.arrivals) arrivals.push_back({a.t_ms, a.count});
  json line = {{"repeat", run.repeat},
               {"request", p.id},
               {"index", i},
               {"prefix_group", p.prefix_group},
               {"prompt_tokens", r.prompt_tokens},
               {"cached_tokens", r.cached_tokens},
               {"output_tokens", r.completion_tokens},
               {"max_tokens", p.max_tokens},
               {"finish_reason", r.finish_reason},
               {"preemptions", r.preemptions},
               {"submit_ms", r.submit_ms},
               {"first_token_ms", r.first_token_ms >= 0 ? json(r.first_token_ms) : json()},
               {"finish_ms", r.finish_ms},
               {"ttft_ms", r.first_token_ms >= 0 ? json(r.first_token_ms - r.submit_ms) : json()},
               {"e2e_ms", r.finish_ms - r.submit_ms},
               {"digest", output_digest(r)},
               {"digest_of", r.has_token_ids ? "token_ids" : "text"},
               {"token_arrivals", arrivals}};
  if (r.has_token_ids) line["output_ids"] = r.output;
  line["output_text"] = r.text;
  if (!r.error.empty()) line["error"] = r.error;
  return line;
}

}  // namespace

std::string manifest_hash(const json& resolved) {
  const std::string s = resolved.dump();
  return fmt::format("{:016x}", XXH64(s.data(), s.size(), 0)).substr(0, 8);
}

std::string artifact_dir_name(const Manifest& m) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return fmt::format("{}-{}-{}", stamp, manifest_hash(m.resolved()), m.id);
}

json trace_json(const RunOutput& out) {
  json ev = json::array();
  auto us = [](double ms) { return static_cast<int64_t>(ms * 1e3); };
  for (const RunRecord& run : out.runs) {
    const int engine_pid = 2 * run.repeat + 1, req_pid = 2 * run.repeat + 2;
    if (!run.steps.empty() || !run.gauges.empty())
      ev.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", engine_pid},
                    {"args", {{"name", fmt::format("run {}: engine", run.repeat)}}}});
    ev.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", req_pid},
                  {"args", {{"name", fmt::format("run {}: requests", run.repeat)}}}});
    for (const StepSample& s : run.steps) {
      ev.push_back({{"name", "step"}, {"cat", "engine"}, {"ph", "X"}, {"pid", engine_pid}, {"tid", 1},
                    {"ts", us(s.start_ms)}, {"dur", std::max<int64_t>(1, us(s.dur_ms))},
                    {"args", {{"prefill_rows", s.prefill_rows}, {"decode_rows", s.decode_rows}, {"sequences", s.sequences}}}});
      ev.push_back({{"name", "rows"}, {"ph", "C"}, {"pid", engine_pid}, {"ts", us(s.start_ms)},
                    {"args", {{"prefill", s.prefill_rows}, {"decode", s.decode_rows}}}});
      ev.push_back({{"name", "queue"}, {"ph", "C"}, {"pid", engine_pid}, {"ts", us(s.start_ms)},
                    {"args", {{"running", s.running}, {"waiting", s.waiting}}}});
      ev.push_back({{"name", "kv_blocks_used"}, {"ph", "C"}, {"pid", engine_pid}, {"ts", us(s.start_ms)},
                    {"args", {{"blocks", s.kv_blocks_used}}}});
    }
    for (const GaugeSample& g : run.gauges) {
      ev.push_back({{"name", "queue"}, {"ph", "C"}, {"pid", engine_pid}, {"ts", us(g.t_ms)},
                    {"args", {{"running", g.running}, {"waiting", g.waiting}}}});
      ev.push_back({{"name", "kv_blocks_used"}, {"ph", "C"}, {"pid", engine_pid}, {"ts", us(g.t_ms)},
                    {"args", {{"blocks", g.kv_blocks_used}}}});
    }
    for (size_t i = 0; i < run.requests.size(); ++i) {
      const RequestRecord& r = run.requests[i];
      const std::string& id = out.workload->requests[i].id;
      const int tid = static_cast<int>(i) + 1;
      ev.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", req_pid}, {"tid", tid}, {"args", {{"name", id}}}});
      if (r.submit_ms < 0) continue;
      const double first = r.first_token_ms >= 0 ? r.first_token_ms : r.finish_ms;
      ev.push_back({{"name", "until first token"}, {"cat", "request"}, {"ph", "X"}, {"pid", req_pid}, {"tid", tid},
                    {"ts", us(r.submit_ms)}, {"dur", std::max<int64_t>(1, us(first - r.submit_ms))},
                    {"args", {{"prompt_tokens", r.prompt_tokens}, {"cached_tokens", r.cached_tokens}}}});
      if (r.first_token_ms >= 0 && r.finish_ms > r.first_token_ms)
        ev.push_back({{"name", "decoding"}, {"cat", "request"}, {"ph", "X"}, {"pid", req_pid}, {"tid", tid},
                      {"ts", us(r.first_token_ms)}, {"dur", std::max<int64_t>(1, us(r.finish_ms - r.first_token_ms))},
                      {"args", {{"output_tokens", r.completion_tokens}, {"finish_reason", r.finish_reason}}}});
    }
  }
  return {{"traceEvents", ev}, {"displayTimeUnit", "ms"},
          {"otherData", {{"manifest", out.manifest->id}, {"timestamps", "microseconds since each run's start"}}}};
}

std::string summary_markdown(const RunOutput& out) {
  const Manifest& m = *out.manifest;
  const json& env = out.environment;
  std::string s = fmt::format("# {}{}\n\n", m.id, m.variant.empty() ? "" : " (variant " + m.variant + ")");
  if (!m.description.empty()) s += m.description + "\n\n";
  const json& target = env.value("target", json::object());
  s += fmt::format("- target: {}\n", target.value("description", "?"));
  s += fmt::format("- model: `{}`\n", m.model.path);
  const json& machine = env.value("machine", json::object());
  if (machine.contains("cpu"))
    s += fmt::format("- machine: {}, {} logical cores, {:.0f} MB memory; kernels: {}\n",
                     machine["cpu"].value("model", "?"), machine["cpu"].value("logical_cores", 0),
                     machine.value("memory", json::object()).value("total_mb", 0.0), machine["cpu"].value("kernels", "?"));
  if (env.contains("build"))
    s += fmt::format("- build: {}{} ({})\n", env["build"].value("commit", "?").substr(0, 12),
                     env["build"].value("dirty", false) ? "+dirty" : "", env["build"].value("build_type", "?"));
  s += fmt::format("- workload: {} requests{}, {} run{}\n\n", out.workload->requests.size(),
                   out.workload->closed_loop ? fmt::format(", closed loop of {}", out.workload->concurrency)
                   : m.shape                 ? fmt::format(", Poisson at {}/s", m.shape->rate_per_s)
                                             : ", replayed",
                   out.runs.size(), out.runs.size() == 1 ? "" : "s");
  s += fmt::format("## Results ({} of {} run{})\n\n", out.runs.size() > 1 ? "median" : "one", out.runs.size(),
                   out.runs.size() == 1 ? "" : "s");
  s += "| metric | value | spread (min-max) |\n|---|---|---|\n";
  const json& summary = out.metrics["summary"];
  const json& spread = out.metrics.value("spread", json::object());
  for (const MetricInfo& mi : metric_catalog()) {
    const json v = summary.value(mi.name, json());
    if (!v.is_number()) continue;
    const bool latency_detail = mi.name.find("_p90_") != std::string::npos || mi.name.find("_mean_") != std::string::npos;
    if (latency_detail) continue;  // metrics.json has them; the table keeps to p50/p95/p99/max
    std::string sp = "";
    if (spread.contains(mi.name) && out.runs.size() > 1)
      sp = format_value(spread[mi.name]["min"], "") + " - " + format_value(spread[mi.name]["max"], "");
    s += fmt::format("| {} | {} | {} |\n", mi.name, format_value(v, mi.unit), sp);
  }
  s += "\n## Checks\n\n| check | result | detail |\n|---|---|---|\n";
  for (const CheckResult& c : out.checks)
    s += fmt::format("| {} | {} | {} |\n", c.name, to_string(c.status), c.detail);
  if (out.checks.empty()) s += "| (none) | | |\n";
  s += fmt::format("\nExit code {}.\n", out.exit_code);
  return s;
}

void write_artifacts(const std::string& dir, const RunOutput& out) {
  const fs::path d(dir);
  fs::create_directories(d);
  write_file(d / "manifest.json", dump(out.manifest->resolved()) + "\n");
  write_file(d / "environment.json", dump(out.environment) + "\n");
  json metrics = out.metrics;
  json checks = json::array();
  for (const CheckResult& c : out.checks)
    checks.push_back({{"name", c.name}, {"status", to_string(c.status)}, {"detail", c.detail}});
  metrics["checks"] = checks;
  metrics["exit_code"] = out.exit_code;
  write_file(d / "metrics.json", dump(metrics) + "\n");
  std::string lines;
  for (const RunRecord& run : out.runs)
    for (size_t i = 0; i < run.requests.size(); ++i)
      lines += request_line(run, i, out.workload->requests[i]).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  write_file(d / "requests.jsonl", lines);
  write_file(d / "trace.json", trace_json(out).dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  write_file(d / "summary.md", summary_markdown(out));
}

std::string Artifact::label() const {
  const std::string id = manifest.value("id", "?");
  const std::string target = environment.value("target", json::object()).value("name", "");
  return target.empty() ? id : id + " (" + target + ")";
}

Artifact load_artifact(const std::string& dir) {
  Artifact a;
  a.dir = dir;
  const fs::path d(dir);
  a.manifest = read_json(d / "manifest.json");
  a.environment = read_json(d / "environment.json");
  a.metrics = read_json(d / "metrics.json");
  std::ifstream req(d / "requests.jsonl");
  if (!req) fail("{}: missing (not an artifact directory of bench run?)", (d / "requests.jsonl").string());
  for (std::string line; std::getline(req, line);) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) fail("{}: a line is not valid JSON", (d / "requests.jsonl").string());
    const int repeat = j.value("repeat", 0);
    while (static_cast<int>(a.runs.size()) <= repeat) {
      a.runs.emplace_back();
      a.runs.back().repeat = static_cast<int>(a.runs.size()) - 1;
    }
    RequestRecord r;
    r.submit_ms = j.value("submit_ms", -1.0);
    r.first_token_ms = j["first_token_ms"].is_number() ? j["first_token_ms"].get<double>() : -1.0;
    r.finish_ms = j.value("finish_ms", -1.0);
    r.finish_reason = j.value("finish_reason", "");
    r.prompt_tokens = j.value("prompt_tokens", int64_t{0});
    r.cached_tokens = j.value("cached_tokens", int64_t{0});
    r.completion_tokens = j.value("output_tokens", int64_t{0});
    for (const json& t : j.value("token_arrivals", json::array())) r.arrivals.push_back({t[0].get<double>(), t[1].get<int32_t>()});
    r.has_token_ids = j.contains("output_ids");
    if (r.has_token_ids) r.output = j["output_ids"].get<std::vector<int32_t>>();
    r.text = j.value("output_text", "");
    if (repeat == 0) a.request_ids.push_back(j.value("request", ""));
    a.runs[repeat].requests.push_back(std::move(r));
  }
  const json trace = read_json(d / "trace.json");
  for (const json& e : trace.value("traceEvents", json::array())) {
    if (e.value("name", "") != "step" || e.value("ph", "") != "X") continue;
    const int repeat = (e.value("pid", 1) - 1) / 2;
    if (repeat < 0 || repeat >= static_cast<int>(a.runs.size())) continue;
    StepSample s;
    s.start_ms = e.value("ts", 0.0) / 1e3;
    s.dur_ms = e.value("dur", 0.0) / 1e3;
    s.prefill_rows = e["args"].value("prefill_rows", int64_t{0});
    s.decode_rows = e["args"].value("decode_rows", int64_t{0});
    s.sequences = e["args"].value("sequences", int64_t{0});
    a.runs[repeat].steps.push_back(s);
  }
  return a;
}

}  // namespace ax::bench
