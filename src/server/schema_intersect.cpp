// allOf: each AllOf node becomes an alias of its members' intersection. Members are first
// resolved to concrete nodes (a member that is itself an allOf is materialised first); two
// concrete nodes combine by kind, and their children (keys, items) are intersected lazily: a new
// AllOf node per pair of children, memoised by pair and materialised later by the same loop. So
// recursive schemas intersect without recursing forever, and an allOf that reaches itself without
// reading input is found (a 400) instead of looping.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "server/api_error.h"
#include "server/regex.h"
#include "server/schema_graph.h"

namespace ax::server {
namespace {

using Kind = SchemaNode::Kind;
constexpr int kNone = -1;

class Intersector {
 public:
  explicit Intersector(SchemaBuilder::Impl& g) : g_(g) {}

  void run() {
    // New AllOf nodes are appended while this runs; the loop reaches them too.
    for (size_t id = 0; id < g_.out.nodes.size(); ++id)
      if (g_.node(static_cast<int>(id)).kind == Kind::AllOf) materialize(static_cast<int>(id));
  }

 private:
  [[noreturn]] void cycle(int id) {
    bad_param(where_of(id), "{}", "refers back to itself through allOf or $ref without reading any input");
  }

  // Through single-option AnyOf nodes ($ref aliases) to what they stand for.
  int follow(int id) {
    std::vector<int> path;
    while (g_.node(id).kind == Kind::AnyOf && g_.node(id).options.size() == 1) {
      if (std::find(path.begin(), path.end(), id) != path.end()) reject_cycle(g_, path);
      path.push_back(id);
      id = g_.node(id).options[0];
    }
    return id;
  }

  // A concrete node (never an AllOf) equivalent to id.
  int resolve(int id) {
    id = follow(id);
    if (g_.node(id).kind != Kind::AllOf) return id;
    materialize(id);
    return follow(id);
  }

  void materialize(int id) {
    if (done_.count(id)) return;
    if (busy_.count(id)) cycle(id);
    busy_.insert(id);
    const std::vector<int> members = g_.node(id).options;
    int acc = resolve(members[0]);
    for (size_t i = 1; i < members.size(); ++i) acc = combine(acc, resolve(members[i]), id);
    SchemaNode& n = g_.node(id);
    n.kind = Kind::AnyOf;
    n.options = {acc};
    busy_.erase(id);
    done_.insert(id);
  }

  // The intersection of a and b, to be worked out later (or now, when trivial).
  int lazy(int a, int b, int origin) {
    if (a == kNone || b == kNone) return kNone;
    a = follow(a);
    b = follow(b);
    if (a == b || b == CompiledSchema::kAny) return a;
    if (a == CompiledSchema::kAny) return b;
    if (a == CompiledSchema::kNever || b == CompiledSchema::kNever) return CompiledSchema::kNever;
    auto key = std::minmax(a, b);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    SchemaNode n;
    n.kind = Kind::AllOf;
    n.options = {a, b};
    const int id = g_.add(std::move(n), where_of(origin));
    if (auto it = g_.where.find(origin); it != g_.where.end()) g_.where.emplace(id, it->second);
    memo_[key] = id;
    return id;
  }

  std::string where_of(int id) const {
    auto it = g_.where.find(id);
    return it != g_.where.end() ? it->second : g_.param;
  }

  int add(SchemaNode n, int origin) { return g_.add(std::move(n), where_of(origin)); }

  // Two concrete nodes.
  int combine(int a, int b, int origin) {
    if (a == b || b == CompiledSchema::kAny) return a;
    if (a == CompiledSchema::kAny) return b;
    const SchemaNode& x = g_.node(a);
    const SchemaNode& y = g_.node(b);
    if (x.kind == Kind::AnyOf || y.kind == Kind::AnyOf) {
      // Distribute over the alternatives (none: nothing matches).
      const bool over_x = x.kind == Kind::AnyOf;
      const std::vector<int> alts = over_x ? x.options : y.options;
      SchemaNode n;
      n.kind = Kind::AnyOf;
      for (int alt : alts) n.options.push_back(over_x ? lazy(alt, b, origin) : lazy(a, alt, origin));
      return add(std::move(n), origin);
    }
    if (x.kind == Kind::Literal || y.kind == Kind::Literal) {
      // The literals of one side that the other accepts (checked by filter_literals).
      const bool lit_x = x.kind == Kind::Literal;
      SchemaNode n = lit_x ? x : y;
      n.literal_filters.push_back(lit_x ? b : a);
      return add(std::move(n), origin);
    }
    const bool numbers = (x.kind == Kind::Number || x.kind == Kind::Integer) &&
                         (y.kind == Kind::Number || y.kind == Kind::Integer);
    if (x.kind != y.kind && !numbers) return CompiledSchema::kNever;
    if (numbers) return combine_numbers(a, b, origin);
    switch (x.kind) {
      case Kind::Object: return combine_objects(a, b, origin);
      case Kind::Array: return combine_arrays(a, b, origin);
      case Kind::String: return combine_strings(a, b, origin);
      default: return CompiledSchema::kNever;
    }
  }

  int combine_numbers(int a, int b, int origin) {
    SchemaNode n = g_.node(a);
    if (!n.range.intersect(g_.node(b).range))
      bad_param(where_of(origin), "{}", "combines multipleOf values too large to enforce together");
    n.kind = n.range.integer ? Kind::Integer : Kind::Number;
    if (!n.range.satisfiable()) return CompiledSchema::kNever;
    return add(std::move(n), origin);
  }

  int combine_strings(int a, int b, int origin) {
    SchemaNode n = g_.node(a);
    const SchemaNode& y = g_.node(b);
    n.min_length = std::max(n.min_length, y.min_length);
    n.max_length = tighter_max(n.max_length, y.max_length);
    if (n.max_length >= 0 && n.min_length > n.max_length) return CompiledSchema::kNever;
    if (n.pattern >= 0 && y.pattern >= 0 && n.pattern != y.pattern) {
      std::optional<ByteDfa> both = ByteDfa::intersect(g_.out.patterns[n.pattern], g_.out.patterns[y.pattern], kMaxPatternStates);
      if (!both) bad_param(where_of(origin), "{}", "combines patterns or formats too complex to enforce together");
      if (both->empty()) return CompiledSchema::kNever;
      n.pattern = g_.add_pattern(std::move(*both));
    } else if (n.pattern < 0) {
      n.pattern = y.pattern;
    }
    return add(std::move(n), origin);
  }

  int combine_arrays(int a, int b, int origin) {
    const SchemaNode x = g_.node(a), y = g_.node(b);
    SchemaNode n;
    n.kind = Kind::Array;
    n.min_items = std::max(x.min_items, y.min_items);
    n.max_items = tighter_max(x.max_items, y.max_items);
    auto at = [](const SchemaNode& s, size_t i) { return i < s.prefix_items.size() ? s.prefix_items[i] : s.items; };
    const size_t prefix = std::max(x.prefix_items.size(), y.prefix_items.size());
    for (size_t i = 0; i < prefix; ++i) {
      const int item = lazy(at(x, i), at(y, i), origin);
      if (item == kNone) {
        // No value may stand at position i: the array ends before it.
        n.max_items = tighter_max(n.max_items, static_cast<int64_t>(i));
        break;
      }
      n.prefix_items.push_back(item);
    }
    n.items = lazy(x.items, y.items, origin);
    if (n.items == kNone) {
      n.max_items = tighter_max(n.max_items, static_cast<int64_t>(n.prefix_items.size()));
    }
    if (n.max_items >= 0 && n.min_items > n.max_items) return CompiledSchema::kNever;
    return add(std::move(n), origin);
  }

  int combine_objects(int a, int b, int origin) {
    const SchemaNode x = g_.node(a), y = g_.node(b);
    SchemaNode n;
    n.kind = Kind::Object;
    n.min_properties = std::max(x.min_properties, y.min_properties);
    n.max_properties = tighter_max(x.max_properties, y.max_properties);
    auto value_of = [](const SchemaNode& s, const std::string& key, bool& required) {
      auto it = std::find(s.keys.begin(), s.keys.end(), key);
      if (it == s.keys.end()) return s.free_value;
      required |= (s.required >> (it - s.keys.begin())) & 1;
      return s.key_nodes[it - s.keys.begin()];
    };
    std::vector<std::string> keys = x.keys;
    for (const auto& k : y.keys)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    for (const auto& k : keys) {
      bool required = false;
      const int vx = value_of(x, k, required), vy = value_of(y, k, required);
      const int value = lazy(vx, vy, origin);
      if (value == kNone) {
        if (required) return CompiledSchema::kNever;  // one side requires a key the other forbids
        continue;
      }
      if (n.keys.size() >= kMaxKeys)
        bad_param(where_of(origin), "{}", "combines more than 64 keys in one object, too many to enforce");
      if (required) n.required |= uint64_t{1} << n.keys.size();
      n.keys.push_back(k);
      n.key_nodes.push_back(value);
    }
    n.declares_keys = x.declares_keys || y.declares_keys;
    n.free_value = lazy(x.free_value, y.free_value, origin);
    n.key_node = x.key_node < 0 ? y.key_node : y.key_node < 0 ? x.key_node : lazy(x.key_node, y.key_node, origin);
    if (n.key_node >= 0 && x.key_node >= 0 && y.key_node >= 0)
      g_.where.emplace(n.key_node, where_of(origin) + ".propertyNames");
    return add(std::move(n), origin);
  }

  SchemaBuilder::Impl& g_;
  std::map<std::pair<int, int>, int> memo_;
  std::set<int> busy_, done_;
};

}  // namespace

void materialize_all_of(SchemaBuilder::Impl& g) { Intersector(g).run(); }

}  // namespace ax::server
