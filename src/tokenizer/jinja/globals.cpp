// Globals: jinja2's range/dict/namespace/joiner/cycler and HF's raise_exception and
// strftime_now.
#include <ctime>

#include <fmt/format.h>

#include "tokenizer/jinja/library.h"

namespace ax::jinja {
namespace {

// jinja2's sandbox refuses ranges longer than this (MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

Value g_range(CallArgs& a) {
  if (!a.keyword.empty()) runtime_fail("range() takes no keyword arguments");
  std::vector<int64_t> n;
  for (const auto& v : a.positional) {
    if (!v.is_int() && !v.is_bool()) {
      v.require_defined();
      runtime_fail(fmt::format("range(): '{}' object cannot be interpreted as an integer", v.type_name()));
    }
    n.push_back(v.as_int());
  }
  int64_t start = 0, stop = 0, step = 1;
  if (n.size() == 1) stop = n[0];
  else if (n.size() == 2) start = n[0], stop = n[1];
  else if (n.size() == 3) start = n[0], stop = n[1], step = n[2];
  else runtime_fail(fmt::format("range expected 1 to 3 arguments, got {}", n.size()));
  if (step == 0) runtime_fail("range() arg 3 must not be zero");
  long double count = step > 0 ? (stop > start ? (static_cast<long double>(stop) - start + step - 1) / step : 0)
                               : (start > stop ? (static_cast<long double>(start) - stop - step - 1) / -step : 0);
  if (count > kMaxRange)
    runtime_fail(fmt::format("range too big: the sandbox blocks ranges larger than {}", kMaxRange));
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(Value::integer(i));
  a.interp->step(out.size());
  return Value::list(std::move(out));
}

void update_from(DictObj& d, const Value& source) {
  if (source.is_dict() || source.is_namespace()) {
    const DictObj& src = source.is_dict() ? source.dict_obj() : source.namespace_storage();
    for (const auto& [k, v] : src.items()) d.set(k, v);
    return;
  }
  for (const auto& pair : iterate(source)) {
    auto kv = iterate(pair);
    if (kv.size() != 2) runtime_fail("dictionary update sequence element has the wrong length; 2 is required");
    d.set(kv[0], kv[1]);
  }
}

Value g_dict(CallArgs& a) {
  if (a.positional.size() > 1) runtime_fail("dict expected at most 1 argument");
  auto d = std::make_shared<DictObj>();
  if (!a.positional.empty()) update_from(*d, a.positional[0]);
  for (const auto& [k, v] : a.keyword) d->set(Value::string(k), v);
  return Value::dict(std::move(d));
}

Value g_namespace(CallArgs& a) {
  auto d = std::make_shared<DictObj>();
  for (const auto& p : a.positional) update_from(*d, p);
  for (const auto& [k, v] : a.keyword) d->set(Value::string(k), v);
  for (const auto& [k, v] : d->items())
    if (v.is_namespace()) runtime_fail("a namespace attribute cannot hold a namespace");
  return Value::namespace_obj(std::move(d));
}

Value g_raise_exception(CallArgs& a) {
  std::string msg = a.positional.empty() ? "" : to_str(a.positional[0]);
  runtime_fail("the template raised an error: " + msg);
}

Value g_strftime_now(CallArgs& a) {
  auto b = a.bind("strftime_now", {"format"});
  if (!b[0] || !b[0]->is_string()) runtime_fail("strftime_now() needs a format string");
  std::time_t t = a.interp->now();
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[512];
  size_t n = std::strftime(buf, sizeof buf, b[0]->str().c_str(), &tm);
  if (n == 0 && !b[0]->str().empty()) runtime_fail("strftime_now: formatted date too long or invalid");
  return Value::string(std::string(buf, n));
}

Value g_joiner(CallArgs& a) {
  auto b = a.bind("joiner", {"sep"});
  std::string sep = b[0] ? to_str(*b[0]) : ", ";
  auto used = std::make_shared<bool>(false);
  return Value::function("joiner", [sep, used](CallArgs&) {
    if (!*used) {
      *used = true;
      return Value::string("");
    }
    return Value::string(sep);
  });
}

}  // namespace

void add_globals(Scope& scope) {
  scope.set("range", Value::function("range", g_range));
  scope.set("dict", Value::function("dict", g_dict));
  scope.set("namespace", Value::function("namespace", g_namespace));
  scope.set("joiner", Value::function("joiner", g_joiner));
  scope.set("raise_exception", Value::function("raise_exception", g_raise_exception));
  scope.set("strftime_now", Value::function("strftime_now", g_strftime_now));
}

}  // namespace ax::jinja
