// ax_engine._native: the Python binding of native_engine.h. Everything that waits or computes runs
// with the GIL released; waits wake every 100 ms to let Python see signals (Ctrl-C). Engine errors
// (ax::Error, one sentence naming what is wrong) become ax_engine.EngineError.
//
// The public, documented API is the Python layer (ax_engine/engine.py); this module is its engine
// room and takes plain values: token ids, JSON strings for messages, option dicts.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "native_engine.h"
#include "server/api_error.h"
#include "util/error.h"

namespace py = pybind11;

namespace ax::python {
namespace {

using std::chrono::milliseconds;

const char* reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "error";
}

py::list logprobs_list(const std::vector<TokenInfo>& tokens) {
  py::list out;
  for (const TokenInfo& t : tokens) {
    py::list top;
    for (const TokenLogprob& alt : t.top) top.append(py::make_tuple(alt.token, alt.logprob));
    out.append(py::make_tuple(t.id, t.logprob, top));
  }
  return out;
}

py::dict metrics_dict(const RequestMetrics& m) {
  py::dict d;
  d["prompt_tokens"] = m.prompt_tokens;
  d["completion_tokens"] = m.completion_tokens;
  d["cached_tokens"] = m.cached_tokens;
  d["preemptions"] = m.preemptions;
  d["queue_s"] = m.queue_s;
  d["ttft_s"] = m.ttft_s;
  d["total_s"] = m.total_s;
  d["decode_tokens_per_s"] = m.decode_tokens_per_s;
  return d;
}

// Text that may end inside a UTF-8 sequence (a decoded token, a stop token's bytes) as a str.
py::str text_of(const std::string& bytes) {
  PyObject* s = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace");
  if (!s) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

// ("token", text, [ids], logprobs | None) or ("finish", reason, stop, error, metrics).
py::tuple event_tuple(const Event& e, bool with_logprobs) {
  if (e.kind == EventKind::Finish)
    return py::make_tuple("finish", reason_name(e.reason), text_of(e.stop), e.error, metrics_dict(e.metrics));
  py::list ids;
  for (const TokenInfo& t : e.tokens) ids.append(t.id);
  py::object lp = with_logprobs ? py::object(logprobs_list(e.tokens)) : py::object(py::none());
  return py::make_tuple("token", e.text, ids, lp);
}

// The next event of a request, or None once `timeout_s` (negative: no limit) has passed.
py::object next_event(RequestStream& s, double timeout_s, bool with_logprobs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s < 0 ? 1e9 : timeout_s);
  for (;;) {
    std::optional<Event> e;
    {
      py::gil_scoped_release nogil;
      auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      e = s.next(std::clamp(left, milliseconds(0), milliseconds(100)));
    }
    if (e) return event_tuple(*e, with_logprobs);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (std::chrono::steady_clock::now() >= deadline) return py::none();
  }
}

// What an option's type is called in a TypeError.
template <typename T>
const char* python_type_name() {
  if constexpr (std::is_same_v<T, bool>) return "a bool";
  else if constexpr (std::is_integral_v<T>) return "an int";
  else if constexpr (std::is_floating_point_v<T>) return "a float";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "a str or a list of str";
  else if constexpr (std::is_same_v<T, std::vector<int32_t>>) return "a list of int";
  else return "a dict of token id (int) to float";
}

// An option of the type its C++ field has; a value of another type is a TypeError naming it.
template <typename T>
std::optional<T> get_opt(const py::dict& d, const char* key) {
  if (!d.contains(key) || d[key].is_none()) return std::nullopt;
  try {
    return d[key].cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(fmt::format("{} must be {}, got {}", key, python_type_name<T>(),
                                     py::str(py::type::of(d[key]).attr("__name__")).cast<std::string>()));
  }
}

template <typename T>
T get_or(const py::dict& d, const char* key, T fallback) {
  return get_opt<T>(d, key).value_or(std::move(fallback));
}

// The option dict the Python layer builds (keys as in Engine.generate's signature), as the
// fields of a /v1/generate request.
GenerateOptions generate_options(const py::dict& d) {
  GenerateOptions o;
  server::GenerationOptions& g = o.gen;
  g.max_tokens = get_opt<int64_t>(d, "max_tokens");
  server::SamplingOptions& s = g.sampling;
  s.temperature = get_or<float>(d, "temperature", s.temperature);
  s.top_k = get_or<int32_t>(d, "top_k", s.top_k);
  s.top_p = get_or<float>(d, "top_p", s.top_p);
  s.min_p = get_or<float>(d, "min_p", s.min_p);
  s.repetition_penalty = get_or<float>(d, "repetition_penalty", s.repetition_penalty);
  s.presence_penalty = get_or<float>(d, "presence_penalty", s.presence_penalty);
  s.frequency_penalty = get_or<float>(d, "frequency_penalty", s.frequency_penalty);
  for (auto [id, bias] : get_or<std::map<int32_t, float>>(d, "logit_bias", {})) s.logit_bias.emplace_back(id, bias);
  if (auto seed = get_opt<int64_t>(d, "seed")) s.seed = static_cast<uint64_t>(*seed);
  g.stop = get_or<std::vector<std::string>>(d, "stop", {});
  g.ignore_eos = get_or<bool>(d, "ignore_eos", false);
  if (auto k = get_opt<int32_t>(d, "logprobs")) {
    if (*k < 0) fail("logprobs must be None, 0 (the chosen token's) or the alternatives to list (<= 20), got {}", *k);
    g.logprobs = true;
    g.top_logprobs = *k;
  }
  if (auto on = get_opt<bool>(d, "speculation"))
    g.speculation.mode = *on ? server::SpeculationOptions::Mode::Ngram : server::SpeculationOptions::Mode::Off;
  if (auto k = get_opt<int>(d, "max_draft")) {
    if (*k < 1 || *k > SpeculationParams::kMaxMaxDraft)
      fail("max_draft must be in [1, {}], got {}", SpeculationParams::kMaxMaxDraft, *k);
    g.speculation.max_draft = *k;
  }
  o.stop_token_ids = get_or<std::vector<int32_t>>(d, "stop_token_ids", {});
  return o;
}

KvType kv_type_of(const std::string& name) {
  if (name == "f16") return KvType::F16;
  if (name == "f32") return KvType::F32;
  fail("kv_type must be 'f16' or 'f32', got '{}'", name);
}

}  // namespace
}  // namespace ax::python

PYBIND11_MODULE(_native, m) {
  using namespace ax;
  using namespace ax::python;
  m.doc() = "AX Engine's C++ engine room (use ax_engine.Engine)";
  // ax::Error (the engine) and server::ApiError (the server's request checks) ->
  // ax_engine.EngineError, with their sentence as the message.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(py::module_::import("ax_engine.errors").attr("EngineError").ptr(), e.what());
    } catch (const server::ApiError& e) {
      PyErr_SetString(py::module_::import("ax_engine.errors").attr("EngineError").ptr(), e.what());
    }
  });

  py::class_<RequestStream>(m, "Request")
      .def("next_event", &next_event, py::arg("timeout_s"), py::arg("with_logprobs"))
      .def("cancel", &RequestStream::cancel, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("finished", &RequestStream::finished);

  py::class_<NativeEngine>(m, "NativeEngine")
      .def(py::init([](const std::string& model, const std::string& backend, int device, int threads,
                       int64_t kv_memory_mb, const std::string& kv_type, int64_t max_num_seqs, bool speculation,
                       int max_draft) {
             EngineOptions o;
             o.model = model;
             if (kv_memory_mb < 0) fail("kv_memory_mb must be positive, got {}", kv_memory_mb);
             o.backend.kind = backend;
             o.backend.device = device;
             o.backend.threads = threads;
             if (kv_memory_mb > 0) o.kv_memory_mb = kv_memory_mb;  // else the server's default
             o.kv_type = kv_type_of(kv_type);
             o.max_num_seqs = max_num_seqs;
             o.speculation = speculation;
             if (max_draft > 0) o.max_draft = max_draft;  // else the engine's default
             py::gil_scoped_release nogil;
             return std::make_unique<NativeEngine>(o);
           }),
           py::arg("model"), py::arg("backend"), py::arg("device"), py::arg("threads"), py::arg("kv_memory_mb"),
           py::arg("kv_type"), py::arg("max_num_seqs"), py::arg("speculation"), py::arg("max_draft"))
      .def("close", &NativeEngine::close, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("closed", &NativeEngine::closed)
      .def("tokenize", &NativeEngine::tokenize, py::arg("text"), py::arg("add_special"),
           py::call_guard<py::gil_scoped_release>())
      .def("detokenize",
           [](const NativeEngine& e, const std::vector<int32_t>& ids) {
             std::string bytes;
             {
               py::gil_scoped_release nogil;
               bytes = e.detokenize(ids);
             }
             return text_of(bytes);
           },
           py::arg("ids"))
      .def("apply_chat_template", &NativeEngine::apply_chat_template, py::arg("request_json"),
           py::arg("add_generation_prompt"), py::call_guard<py::gil_scoped_release>())
      .def("chat_prompt", &NativeEngine::chat_prompt, py::arg("request_json"),
           py::call_guard<py::gil_scoped_release>())
      .def("encode_prompt", &NativeEngine::encode_prompt, py::arg("text"), py::call_guard<py::gil_scoped_release>())
      .def("submit",
           [](NativeEngine& e, std::vector<int32_t> prompt, const py::dict& options, const std::string& prompt_param) {
             GenerateOptions o = generate_options(options);
             py::gil_scoped_release nogil;
             return e.submit(std::move(prompt), o, prompt_param);
           },
           py::arg("prompt"), py::arg("options"), py::arg("prompt_param"))
      .def("embed",
           [](const NativeEngine& e, const std::vector<std::vector<int32_t>>& inputs) {
             std::vector<std::vector<float>> vectors;
             {
               py::gil_scoped_release nogil;
               vectors = e.embed(inputs);
             }
             const size_t n = vectors.size(), dim = n ? vectors[0].size() : 0;
             py::array_t<float> out({n, dim});
             auto view = out.mutable_unchecked<2>();
             for (size_t i = 0; i < n; ++i)
               for (size_t k = 0; k < dim; ++k) view(i, k) = vectors[i][k];
             return out;
           },
           py::arg("inputs"))
      .def("metrics",
           [](const NativeEngine& e) {
             py::dict d;
             for (const MetricSample& s : e.metrics()) d[py::str(s.name)] = s.value;
             return d;
           })
      .def("info", [](const NativeEngine& e) {
        const NativeEngine::Info i = e.info();
        py::dict d;
        d["model_path"] = i.model_path;
        d["architecture"] = i.architecture;
        d["backend"] = i.backend;
        d["kv_cache"] = i.kv_cache;
        d["tokenizer"] = i.tokenizer;
        d["embedding_pooling"] = i.pooling;
        d["vocab_size"] = i.vocab_size;
        d["hidden_size"] = i.hidden_size;
        d["num_layers"] = i.num_layers;
        d["max_context"] = i.max_context;
        d["has_chat_template"] = i.has_chat_template;
        return d;
      });
}
