#include "bench/manifest.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "bench/json_fields.h"
#include "bench/metric_catalog.h"

namespace ax::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kMaxTokens = int64_t{1} << 24;

std::string read_file(const std::string& path, const std::string& where, const std::string& field) {
  std::ifstream f(path, std::ios::binary);
  if (!f) manifest_fail(where, fmt::format("{}: cannot read {}", field, path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute() || base_dir.empty()) return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

TokenRange token_range(JsonFields& parent, const std::string& key, TokenRange def, int64_t min) {
  const json* v = parent.raw(key);
  if (!v) return def;
  const std::string must = fmt::format("an integer >= {} or {{\"min\": a, \"max\": b}} with {} <= a <= b", min, min);
  if (v->is_number_integer()) {
    const int64_t x = v->get<int64_t>();
    if (x < min || x > kMaxTokens) parent.bad(key, must, *v);
    return {x, x};
  }
  if (!v->is_object()) parent.bad(key, must, *v);
  JsonFields r(*v, parent.where(), parent.field(key));
  TokenRange t;
  t.min = r.integer("min", -1, min, kMaxTokens);
  t.max = r.integer("max", -1, min, kMaxTokens);
  r.finish();
  if (t.min < 0 || t.max < 0 || t.min > t.max) parent.bad(key, must, *v);
  return t;
}

std::vector<int32_t> token_ids(const json& v, const std::string& where, const std::string& field) {
  if (!v.is_array() || v.empty()) manifest_fail(where, fmt::format("{} must be a non-empty array of token ids", field));
  std::vector<int32_t> ids;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number_integer() || v[i].get<int64_t>() < 0 || v[i].get<int64_t>() > INT32_MAX)
      manifest_fail(where, fmt::format("{}[{}] must be a token id (an integer >= 0), got {}", field, i, v[i].dump()));
    ids.push_back(v[i].get<int32_t>());
  }
  return ids;
}

ModelSpec parse_model(JsonFields f, const std::string& base_dir) {
  ModelSpec m;
  m.path = resolve(base_dir, f.required_string("path"));
  m.sha256 = f.string("sha256", "");
  if (!m.sha256.empty() && !std::regex_match(m.sha256, std::regex("[0-9a-f]{64}")))
    f.bad("sha256", "64 lowercase hex digits", m.sha256);
  f.finish();
  return m;
}

RuntimeSpec parse_runtime(JsonFields f) {
  RuntimeSpec r;
  r.backend = f.string("backend", r.backend);
  r.threads = static_cast<int>(f.integer("threads", 0, 0, 4096));
  r.kv_type = f.string("kv_type", r.kv_type, {"f16", "f32"});
  r.kv_pool_mb = f.integer("kv_pool_mb", 0, 0, int64_t{1} << 24);
  r.kv_blocks = f.integer("kv_blocks", 0, 0, int64_t{1} << 31);
  r.max_batch_tokens = f.integer("max_batch_tokens", r.max_batch_tokens, 1, 1 << 20);
  r.max_num_seqs = f.integer("max_num_seqs", r.max_num_seqs, 1, 1 << 16);
  r.prefix_cache = f.boolean("prefix_cache", true);
  if (f.has("speculation")) {
    JsonFields s = f.object("speculation");
    r.speculation = s.string("mode", "ngram", {"ngram", "off"}) == "ngram";
    r.max_draft = static_cast<int>(s.integer("max_draft", r.max_draft, 1, 31));
    s.finish();
  }
  f.finish();
  return r;
}

SamplingSpec parse_sampling(JsonFields f) {
  SamplingSpec s;
  s.temperature = f.number("temperature", 0, 0, 2);
  s.top_k = static_cast<int>(f.integer("top_k", 0, 0, 1 << 24));
  s.top_p = f.number("top_p", 1, 1e-9, 1);
  s.min_p = f.number("min_p", 0, 0, 1);
  s.repetition_penalty = f.number("repetition_penalty", 1, 1e-6, 100);
  s.seed = static_cast<uint64_t>(f.integer("seed", 1, 0, INT64_MAX));
  s.ignore_eos = f.boolean("ignore_eos", true);
  f.finish();
  return s;
}

std::map<std::string, PromptSpec> parse_prompts(JsonFields f, const json& obj, const std::string& base_dir) {
  std::map<std::string, PromptSpec> out;
  for (const auto& [name, v] : obj.items()) {
    JsonFields p = f.object(name);
    PromptSpec spec;
    const int given = p.has("text") + p.has("file") + p.has("tokens");
    if (given != 1)
      manifest_fail(f.where(), fmt::format("{} must have exactly one of \"text\", \"file\", \"tokens\"", f.field(name)));
    if (p.has("text")) spec.text = p.string("text", "");
    if (p.has("file")) spec.text = read_file(resolve(base_dir, p.string("file", "")), f.where(), p.field("file"));
    if (p.has("tokens")) {
      spec.tokens = token_ids(*p.raw("tokens"), f.where(), p.field("tokens"));
      spec.is_tokens = true;
    }
    if (!spec.is_tokens && spec.text.empty()) manifest_fail(f.where(), fmt::format("{} is empty", f.field(name)));
    spec.repeat = p.integer("repeat", 1, 1, 10000);
    p.finish();
    out[name] = std::move(spec);
  }
  return out;
}

ShapeSpec parse_shape(JsonFields f, const std::map<std::string, PromptSpec>& prompts) {
  ShapeSpec s;
  s.requests = f.integer("requests", -1, 1, 1 << 20);
  if (s.requests < 0) manifest_fail(f.where(), fmt::format("{} is required", f.field("requests")));
  s.input_tokens = token_range(f, "input_tokens", s.input_tokens, 1);
  s.output_tokens = token_range(f, "output_tokens", s.output_tokens, 1);
  s.shared_prefix_fraction = f.number("shared_prefix_fraction", 0, 0, 0.99);
  s.prefix_groups = f.integer("prefix_groups", 1, 1, 1 << 20);
  s.source = f.string("source", "random");
  if (s.source != "random" && !prompts.count(s.source))
    f.bad("source", "\"random\" or the name of an entry of prompts", s.source);
  s.seed = static_cast<uint64_t>(f.integer("seed", 1, 0, INT64_MAX));
  if (f.has("arrival")) {
    JsonFields a = f.object("arrival");
    s.arrival = a.string("process", "closed", {"closed", "poisson"}) == "poisson" ? Arrival::Poisson : Arrival::Closed;
    if (s.arrival == Arrival::Poisson) {
      s.rate_per_s = a.number("rate_per_s", 0, 1e-6, 1e6);
      if (s.rate_per_s <= 0) manifest_fail(f.where(), fmt::format("{} is required with a Poisson process", a.field("rate_per_s")));
    }
    a.finish();
  }
  // Closed loop: the concurrency is the number of clients; Poisson: a cap (0: none).
  s.concurrency = f.integer("concurrency", 1, s.arrival == Arrival::Poisson ? 0 : 1, 1 << 16);
  f.finish();
  return s;
}

std::vector<ReplayEvent> parse_replay(JsonFields f, const std::map<std::string, PromptSpec>& prompts) {
  const json* evs = f.raw("events");
  if (!evs || !evs->is_array() || evs->empty())
    manifest_fail(f.where(), fmt::format("{} must be a non-empty array of events", f.field("events")));
  f.finish();
  struct Parsed {
    ReplayEvent ev;
    std::string field;  // "replay.events[i]" as written
  };
  std::vector<Parsed> parsed;
  for (size_t i = 0; i < evs->size(); ++i) {
    JsonFields e((*evs)[i], f.where(), fmt::format("{}[{}]", f.field("events"), i));
    ReplayEvent ev;
    ev.t_ms = e.number("t_ms", -1, 0, 1e9);
    if (ev.t_ms < 0) manifest_fail(f.where(), fmt::format("{} is required", e.field("t_ms")));
    if (!e.has("op")) manifest_fail(f.where(), fmt::format("{} is required", e.field("op")));
    ev.op = e.string("op", "", {"submit", "cancel"}) == "cancel" ? EventOp::Cancel : EventOp::Submit;
    ev.request_id = e.required_string("request_id");
    if (ev.op == EventOp::Submit) {
      if (e.has("prompt") == e.has("tokens"))
        manifest_fail(f.where(), fmt::format("{} needs exactly one of \"prompt\" and \"tokens\"", e.field("op")));
      if (e.has("prompt")) {
        ev.prompt = e.string("prompt", "");
        if (!prompts.count(ev.prompt)) e.bad("prompt", "the name of an entry of prompts", ev.prompt);
      } else {
        ev.tokens = token_ids(*e.raw("tokens"), f.where(), e.field("tokens"));
      }
      ev.prefix_group = e.string("prefix_group", "");
      if (!ev.prefix_group.empty() && !prompts.count(ev.prefix_group))
        e.bad("prefix_group", "the name of an entry of prompts", ev.prefix_group);
      ev.output_tokens = e.integer("output_tokens", 64, 1, kMaxTokens);
    }
    e.finish();
    parsed.push_back({std::move(ev), e.field("request_id")});
  }
  // Events run in time order (the file's order among equal times); a cancel needs its submit first.
  std::stable_sort(parsed.begin(), parsed.end(), [](const Parsed& a, const Parsed& b) { return a.ev.t_ms < b.ev.t_ms; });
  std::set<std::string> submitted;
  std::vector<ReplayEvent> out;
  for (Parsed& p : parsed) {
    const ReplayEvent& ev = p.ev;
    if (ev.op == EventOp::Submit && !submitted.insert(ev.request_id).second)
      manifest_fail(f.where(), fmt::format("{} must be unique among submits (got \"{}\")", p.field, ev.request_id));
    if (ev.op == EventOp::Cancel && !submitted.count(ev.request_id))
      manifest_fail(f.where(), fmt::format("{} must name a request submitted at or before t_ms {} (got \"{}\")", p.field,
                                           ev.t_ms, ev.request_id));
    out.push_back(std::move(p.ev));
  }
  return out;
}

ChecksSpec parse_checks(JsonFields f) {
  ChecksSpec c;
  c.expect_deterministic = f.boolean("expect_deterministic", false);
  c.no_failed_requests = f.boolean("no_failed_requests", true);
  if (const json* v = f.raw("require_prefix_reuse")) {
    if (v->is_boolean()) {
      c.require_prefix_reuse = v->get<bool>();
    } else if (v->is_object()) {
      JsonFields r = f.object("require_prefix_reuse");
      c.require_prefix_reuse = true;
      c.min_prefix_hit_rate = r.number("min_hit_rate", 0, 0, 1);
      r.finish();
    } else {
      f.bad("require_prefix_reuse", "true, false or {\"min_hit_rate\": r}", *v);
    }
  }
  if (const json* v = f.raw("thresholds")) {
    if (!v->is_array()) f.bad("thresholds", "an array of strings like \"decode_tok_s >= 20\"", *v);
    for (size_t i = 0; i < v->size(); ++i) {
      const std::string field = fmt::format("{}[{}]", f.field("thresholds"), i);
      if (!(*v)[i].is_string()) manifest_fail(f.where(), fmt::format("{} must be a string like \"decode_tok_s >= 20\"", field));
      try {
        c.thresholds.push_back(parse_threshold((*v)[i].get<std::string>(), field));
      } catch (const ManifestError& e) {
        manifest_fail(f.where(), e.what());
      }
    }
  }
  f.finish();
  return c;
}

json range_json(const TokenRange& r) { return r.fixed() ? json(r.min) : json{{"min", r.min}, {"max", r.max}}; }

// Sets a dotted path ("shape.concurrency") in a document, creating objects on the way.
void set_path(json& doc, const std::string& dotted, const json& value, const std::string& where) {
  json* cur = &doc;
  std::stringstream ss(dotted);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) manifest_fail(where, fmt::format("vary key \"{}\" is not a dotted field path", dotted));
    if (!cur->is_object()) manifest_fail(where, fmt::format("vary key \"{}\": {} is not an object", dotted, parts[i - 1]));
    cur = &(*cur)[parts[i]];
  }
  *cur = value;
}

std::string value_label(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return out;
}

json read_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw ManifestError(fmt::format("manifest {}: cannot read the file", path));
  json doc = json::parse(f, nullptr, false);
  if (doc.is_discarded()) throw ManifestError(fmt::format("manifest {}: not valid JSON", path));
  return doc;
}

}  // namespace

const char* op_text(CompareOp op) {
  switch (op) {
    case CompareOp::Ge: return ">=";
    case CompareOp::Gt: return ">";
    case CompareOp::Le: return "<=";
    case CompareOp::Lt: return "<";
  }
  return "?";
}

Threshold parse_threshold(const std::string& text, const std::string& where) {
  static const std::regex re(R"(^\s*([a-z0-9_]+)\s*(>=|<=|>|<)\s*(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw ManifestError(fmt::format("{} must read \"metric >= number\" (or >, <=, <), got \"{}\"", where, text));
  Threshold t;
  t.metric = m[1];
  const std::string op = m[2];
  t.op = op == ">=" ? CompareOp::Ge : op == ">" ? CompareOp::Gt : op == "<=" ? CompareOp::Le : CompareOp::Lt;
  t.value = std::stod(m[3]);
  t.text = text;
  if (!find_metric(t.metric)) throw ManifestError(fmt::format("{} names an unknown metric \"{}\" (docs/BENCH.md lists them)", where, t.metric));
  return t;
}

bool threshold_holds(const Threshold& t, double v) {
  switch (t.op) {
    case CompareOp::Ge: return v >= t.value;
    case CompareOp::Gt: return v > t.value;
    case CompareOp::Le: return v <= t.value;
    case CompareOp::Lt: return v < t.value;
  }
  return false;
}

Manifest parse_manifest(const json& input, const std::string& where, const std::string& base_dir, const std::string& variant) {
  JsonFields root0(input, where, "");  // refuses a document that is not an object
  json doc = input;
  if (doc.contains("variants")) {
    const json& vs = doc["variants"];
    if (!vs.is_object()) manifest_fail(where, "variants must be an object of named merge patches");
    if (!variant.empty()) {
      if (!vs.contains(variant)) {
        std::string names;
        for (const auto& [k, v] : vs.items()) names += (names.empty() ? "" : ", ") + k;
        manifest_fail(where, fmt::format("has no variant \"{}\" (variants: {})", variant, names));
      }
      if (!vs[variant].is_object()) manifest_fail(where, fmt::format("variants.{} must be an object (a merge patch)", variant));
      doc.merge_patch(vs[variant]);
    }
    doc.erase("variants");
  } else if (!variant.empty()) {
    manifest_fail(where, fmt::format("has no variants, so --variant {} cannot apply", variant));
  }

  JsonFields f(doc, where, "");
  Manifest m;
  m.source_path = where;
  const std::string schema = f.string("schema", "");
  if (schema != kManifestSchema)
    manifest_fail(where, fmt::format("schema must be \"{}\" (got \"{}\")", kManifestSchema, schema));
  m.id = f.required_string("id");
  if (!std::regex_match(m.id, std::regex("[A-Za-z0-9._-]{1,80}")))
    f.bad("id", "letters, digits, '.', '_' or '-' (at most 80; it names the artifact folder)", m.id);
  m.description = f.string("description", "");
  // manifest.json (resolved()) records the variant it was made with; re-reading it keeps that.
  m.variant = variant.empty() ? f.string("variant", "") : variant;
  if (!variant.empty()) f.string("variant", "");
  if (!f.has("model")) manifest_fail(where, "model is required ({\"path\": ...})");
  m.model = parse_model(f.object("model"), base_dir);
  if (f.has("runtime")) m.runtime = parse_runtime(f.object("runtime"));
  if (f.has("sampling")) m.sampling = parse_sampling(f.object("sampling"));
  if (f.has("prompts")) m.prompts = parse_prompts(f.object("prompts"), doc["prompts"], base_dir);
  if (f.has("shape") == f.has("replay")) manifest_fail(where, "needs exactly one of \"shape\" (a scenario) and \"replay\"");
  if (f.has("shape")) m.shape = parse_shape(f.object("shape"), m.prompts);
  if (f.has("replay")) m.events = parse_replay(f.object("replay"), m.prompts);
  if (f.has("checks")) m.checks = parse_checks(f.object("checks"));
  f.finish();
  return m;
}

json Manifest::resolved() const {
  json j;
  j["schema"] = kManifestSchema;
  j["id"] = id;
  if (!description.empty()) j["description"] = description;
  if (!variant.empty()) j["variant"] = variant;
  j["model"] = {{"path", model.path}};
  if (!model.sha256.empty()) j["model"]["sha256"] = model.sha256;
  j["runtime"] = {{"backend", runtime.backend},
                  {"threads", runtime.threads},
                  {"kv_type", runtime.kv_type},
                  {"kv_pool_mb", runtime.kv_pool_mb},
                  {"kv_blocks", runtime.kv_blocks},
                  {"max_batch_tokens", runtime.max_batch_tokens},
                  {"max_num_seqs", runtime.max_num_seqs},
                  {"prefix_cache", runtime.prefix_cache},
                  {"speculation", {{"mode", runtime.speculation ? "ngram" : "off"}, {"max_draft", runtime.max_draft}}}};
  j["sampling"] = {{"temperature", sampling.temperature}, {"top_k", sampling.top_k},
                   {"top_p", sampling.top_p},             {"min_p", sampling.min_p},
                   {"repetition_penalty", sampling.repetition_penalty},
                   {"seed", sampling.seed},               {"ignore_eos", sampling.ignore_eos}};
  if (!prompts.empty()) {
    json p = json::object();
    for (const auto& [name, spec] : prompts) {
      p[name] = spec.is_tokens ? json{{"tokens", spec.tokens}} : json{{"text", spec.text}};
      p[name]["repeat"] = spec.repeat;
    }
    j["prompts"] = p;
  }
  if (shape) {
    json s = {{"requests", shape->requests},
              {"concurrency", shape->concurrency},
              {"input_tokens", range_json(shape->input_tokens)},
              {"output_tokens", range_json(shape->output_tokens)},
              {"shared_prefix_fraction", shape->shared_prefix_fraction},
              {"prefix_groups", shape->prefix_groups},
              {"source", shape->source},
              {"seed", shape->seed}};
    s["arrival"] = shape->arrival == Arrival::Poisson ? json{{"process", "poisson"}, {"rate_per_s", shape->rate_per_s}}
                                                      : json{{"process", "closed"}};
    j["shape"] = s;
  } else {
    json evs = json::array();
    for (const auto& e : events) {
      json ev = {{"t_ms", e.t_ms}, {"op", e.op == EventOp::Submit ? "submit" : "cancel"}, {"request_id", e.request_id}};
      if (e.op == EventOp::Submit) {
        if (!e.prompt.empty()) ev["prompt"] = e.prompt;
        else ev["tokens"] = e.tokens;
        if (!e.prefix_group.empty()) ev["prefix_group"] = e.prefix_group;
        ev["output_tokens"] = e.output_tokens;
      }
      evs.push_back(ev);
    }
    j["replay"] = {{"events", evs}};
  }
  json th = json::array();
  for (const auto& t : checks.thresholds) th.push_back(t.text);
  j["checks"] = {{"expect_deterministic", checks.expect_deterministic},
                 {"no_failed_requests", checks.no_failed_requests},
                 {"thresholds", th}};
  j["checks"]["require_prefix_reuse"] =
      checks.require_prefix_reuse ? json{{"min_hit_rate", checks.min_prefix_hit_rate}} : json(false);
  return j;
}

std::vector<Manifest> load_manifests(const std::string& path, const std::string& variant) {
  const json doc = read_json_file(path);
  const std::string dir = fs::path(path).parent_path().string();
  if (!doc.is_object() || doc.value("schema", "") != kMatrixSchema) return {parse_manifest(doc, path, dir, variant)};

  // A matrix: each base manifest once per combination of the "vary" values.
  JsonFields f(doc, path, "");
  f.string("schema", "");
  f.string("description", "");
  const json* bases = f.raw("manifests");
  if (!bases || !bases->is_array() || bases->empty())
    manifest_fail(path, "manifests must be a non-empty array of manifest paths");
  std::vector<std::pair<std::string, std::vector<json>>> axes;
  if (const json* vary = f.raw("vary")) {
    if (!vary->is_object()) manifest_fail(path, "vary must be an object of field path -> array of values");
    for (const auto& [key, values] : vary->items()) {
      if (!values.is_array() || values.empty())
        manifest_fail(path, fmt::format("vary.{} must be a non-empty array of values", key));
      axes.push_back({key, std::vector<json>(values.begin(), values.end())});
    }
  }
  f.finish();
  std::vector<Manifest> out;
  for (size_t b = 0; b < bases->size(); ++b) {
    if (!(*bases)[b].is_string()) manifest_fail(path, fmt::format("manifests[{}] must be a path", b));
    const std::string base_path = resolve(dir, (*bases)[b].get<std::string>());
    const json base = read_json_file(base_path);
    const std::string base_dir = fs::path(base_path).parent_path().string();
    // Odometer over the axes.
    std::vector<size_t> idx(axes.size(), 0);
    while (true) {
      json m = base;
      if (!variant.empty() && m.contains("variants") && m["variants"].contains(variant)) {
        m.merge_patch(m["variants"][variant]);
      } else if (!variant.empty()) {
        manifest_fail(base_path, fmt::format("has no variant \"{}\"", variant));
      }
      m.erase("variants");
      std::string suffix, label;
      for (size_t a = 0; a < axes.size(); ++a) {
        const json& v = axes[a].second[idx[a]];
        set_path(m, axes[a].first, v, path);
        const std::string last = axes[a].first.substr(axes[a].first.rfind('.') + 1);
        suffix += "-" + last + value_label(v);
        label += (label.empty() ? "" : ", ") + axes[a].first + "=" + v.dump();
      }
      if (m.contains("id") && m["id"].is_string()) m["id"] = m["id"].get<std::string>() + suffix;
      const std::string where = label.empty() ? base_path : fmt::format("{} ({})", base_path, label);
      Manifest parsed = parse_manifest(m, where, base_dir, "");
      parsed.variant = variant;
      out.push_back(std::move(parsed));
      size_t a = 0;
      for (; a < axes.size(); ++a) {
        if (++idx[a] < axes[a].second.size()) break;
        idx[a] = 0;
      }
      if (a == axes.size()) break;
    }
  }
  return out;
}

}  // namespace ax::bench
