#pragma once
// The values a template computes with: Python's None/bool/int/float/str/list/tuple/dict plus
// Jinja's Undefined, namespace() objects and callables. Containers are shared, immutable once
// built (the sandbox HF uses forbids mutating them), except namespaces, which `set ns.x = ...`
// changes in place. Copies are cheap: strings and containers are reference-counted.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace ax::jinja {

// A failure while evaluating, before the evaluator adds where in the template it happened.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
[[noreturn]] void runtime_fail(std::string why);

class Value;
struct CallArgs;
struct ListObj;
class DictObj;

struct Function {
  std::string name;  // for messages: "range", "macro 'format_argument'", "str.split"
  std::function<Value(CallArgs&)> call;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = {});  // hint: "'x' is undefined", for errors on use
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value generator(std::vector<Value> items);
  static Value failed_generator(std::string error);
  static Value dict(std::shared_ptr<DictObj> d = nullptr);
  static Value namespace_obj(std::shared_ptr<DictObj> d = nullptr);
  static Value function(std::string name, std::function<Value(CallArgs&)> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }  // list, tuple or generator
  bool is_generator() const;
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;      // Bool and Int
  double as_double() const;    // Bool, Int and Float
  const std::string& str() const;  // String; for Undefined the hint
  const ListObj& list_obj() const { return *std::get<std::shared_ptr<ListObj>>(data_); }
  const std::vector<Value>& items() const;
  const DictObj& dict_obj() const { return *std::get<std::shared_ptr<DictObj>>(data_); }
  DictObj& namespace_storage() const { return *std::get<std::shared_ptr<DictObj>>(data_); }
  const Function& function_obj() const { return *std::get<std::shared_ptr<Function>>(data_); }
  const void* identity() const;  // for `is sameas` on containers

  bool truthy() const;
  uint32_t depth() const;  // 0 for scalars, 1 + deepest item for containers
  // Raises the Undefined's error ("'x' is undefined") when an operation needs a real value.
  void require_defined() const;
  std::string type_name() const;  // Python's: "str", "int", "dict", "NoneType", ...

 private:
  Kind kind_ = Kind::Undefined;
  std::variant<std::monostate, bool, int64_t, double, std::shared_ptr<const std::string>,
               std::shared_ptr<ListObj>, std::shared_ptr<DictObj>, std::shared_ptr<Function>>
      data_;
};

// Containers track how deeply they nest so a template cannot build a structure deep enough to
// overflow the stack when it is printed, compared or freed.
constexpr uint32_t kMaxValueDepth = 1000;

struct ListObj {
  std::vector<Value> items;
  bool is_tuple = false;  // prints as (a, b) and never equals a list, as in Python
  // What jinja2's map/select/reject/selectattr/rejectattr/unique/batch/items filters return:
  // a Python generator, always true in `if`, without len() or [] (templates add `| list`).
  bool is_generator = false;
  // A generator whose first consumption fails: Python evaluates these filters lazily, so an
  // error surfaces only if the template iterates the result.
  std::string pending_error;
  uint32_t depth = 1;
};

// An insertion-ordered dict (Python 3.7+ order, which tojson and iteration follow).
class DictObj {
 public:
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;  // a str key, without building a Value
  void set(const Value& key, Value value);
  // For keys known to be new and hashable (JSON object keys, `loop` fields): no duplicate search.
  void append_unique(const Value& key, Value value);
  void reserve(size_t n) { items_.reserve(n); }
  const std::vector<std::pair<Value, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  uint32_t depth() const { return depth_; }

 private:
  uint32_t depth_ = 1;
  // Small dicts (messages, tool calls) are scanned; an index is built once they grow.
  static constexpr size_t kIndexFrom = 16;
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::pair<Value, Value>> items_;
  std::unordered_map<std::string, size_t, KeyHash, std::equal_to<>> index_;  // hash_key -> position
};

inline const std::vector<Value>& Value::items() const { return list_obj().items; }
inline bool Value::is_generator() const { return kind_ == Kind::List && list_obj().is_generator; }

// The key under which a value is hashed in a dict (Python: 1, 1.0 and True are the same key).
std::string hash_key(const Value& key);

bool equals(const Value& a, const Value& b);  // Python ==
std::string to_str(const Value& v);           // Python str(); Undefined prints as ""
std::string to_repr(const Value& v);          // Python repr()
std::string repr_string(std::string_view s);  // repr() of a str
std::string float_repr(double d);             // repr() of a float: 1.0, 1e+20, 0.1

// JSON arrives as ordered_json so object keys keep the order the client sent (tojson shows it).
Value from_json(const nlohmann::ordered_json& j, uint32_t depth = 0);

}  // namespace ax::jinja
