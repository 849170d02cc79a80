// The whole-graph passes after allOf (schema_graph.h): alternatives closed, literals filtered,
// pattern length tables built, and everything that can never finish pruned away.
#include <algorithm>
#include <bit>
#include <functional>
#include <map>

#include "server/api_error.h"
#include "server/json_automaton.h"
#include "server/schema_graph.h"

namespace ax::server {
namespace {

using Kind = SchemaNode::Kind;

// propertyNames must come down to one string node (or a list of string literals): the automaton
// writes a free key as that node.
void resolve_key_nodes(SchemaBuilder::Impl& g) {
  for (size_t id = 0; id < g.out.nodes.size(); ++id) {
    SchemaNode& n = g.out.nodes[id];
    if (n.kind != Kind::Object || n.key_node < 0) continue;
    const auto where = g.where.count(n.key_node) ? g.where.at(n.key_node) : g.param;
    int key = n.key_node;
    const SchemaNode* k = &g.out.nodes[key];
    if (k->kind == Kind::AnyOf) {
      if (k->options.size() > 1)
        bad_param(where, "{}", "may only describe strings one way (a pattern, format, lengths or enum), not as alternatives");
      key = k->options.empty() ? CompiledSchema::kNever : k->options[0];
      k = &g.out.nodes[key];
    }
    if (key == CompiledSchema::kNever) {
      n.key_node = key;
      continue;
    }
    bool strings = k->kind == Kind::String;
    if (k->kind == Kind::Literal) {
      strings = true;
      for (const auto& lit : k->literals) strings &= !lit.empty() && lit[0] == '"';
    }
    if (!strings) bad_param(where, "{}", "must describe strings (property names are strings)");
    n.key_node = key;
  }
}

// Does the document text match node `root` of the graph as it stands?
bool accepts(const CompiledSchema& graph, int root, const std::string& text) {
  JsonAutomaton a(graph, root);
  return a.feed(text) && a.can_end();
}

}  // namespace

void reject_cycle(const SchemaBuilder::Impl& g, const std::vector<int>& path) {
  for (auto it = path.rbegin(); it != path.rend(); ++it)
    if (auto ref = g.ref_where.find(*it); ref != g.ref_where.end())
      bad_param(ref->second, "{}", "refers back to itself without reading any input (a recursive schema must nest "
                                   "inside an object or an array)");
  bad_param(g.param, "{}", "refers back to itself without reading any input");
}

// AnyOf nodes are expanded without reading a byte. A cycle of them (a $ref that comes back to
// itself through $ref, anyOf or oneOf alone) has no finite expansion: a 400 naming the $ref.
// Without cycles, each AnyOf's options become the other nodes it reaches, once each, so the
// automaton expands one level and nested alternatives cost linear, not exponential, time.
void close_alternatives(SchemaBuilder::Impl& g) {
  auto& nodes = g.out.nodes;
  std::vector<uint8_t> state(nodes.size(), 0);  // 0: not seen, 1: on the path being expanded, 2: closed
  std::vector<int> path;
  std::function<void(int)> close = [&](int id) {
    state[id] = 1;
    path.push_back(id);
    std::vector<int> leaves;
    for (int option : nodes[id].options) {
      if (nodes[option].kind != Kind::AnyOf) {
        leaves.push_back(option);
        continue;
      }
      if (state[option] == 1) reject_cycle(g, path);
      if (state[option] == 0) close(option);
      const std::vector<int>& sub = nodes[option].options;
      leaves.insert(leaves.end(), sub.begin(), sub.end());
    }
    std::vector<int> unique;
    for (int leaf : leaves)
      if (std::find(unique.begin(), unique.end(), leaf) == unique.end()) unique.push_back(leaf);
    nodes[id].options = std::move(unique);
    path.pop_back();
    state[id] = 2;
  };
  for (size_t id = 0; id < nodes.size(); ++id)
    if (nodes[id].kind == Kind::AnyOf && state[id] == 0) close(static_cast<int>(id));
  resolve_key_nodes(g);
}

// enum/const values combined with other members (allOf, or beside "type") keep the values those
// members accept, and declared keys are kept only if propertyNames accepts them. Each check runs
// the automaton over the graph; repeated until nothing changes, since removing a value can make
// another check fail.
void filter_literals(SchemaBuilder::Impl& g) {
  for (bool changed = true; changed;) {
    changed = false;
    const CompiledSchema snapshot = g.out;
    for (SchemaNode& n : g.out.nodes) {
      if (n.kind == Kind::Literal && !n.literal_filters.empty()) {
        std::vector<std::string> kept;
        for (const auto& lit : n.literals) {
          bool ok = true;
          for (int f : n.literal_filters) ok = ok && accepts(snapshot, f, lit);
          if (ok) kept.push_back(lit);
        }
        changed |= kept.size() != n.literals.size();
        n.literals = std::move(kept);
      }
      if (n.kind == Kind::Object && n.key_node >= 0 && !n.keys.empty()) {
        SchemaNode kept = n;
        kept.keys.clear();
        kept.key_nodes.clear();
        kept.required = 0;
        bool impossible = false;
        for (size_t i = 0; i < n.keys.size(); ++i) {
          const bool required = (n.required >> i) & 1;
          if (n.key_node != CompiledSchema::kNever && accepts(snapshot, n.key_node, n.keys[i])) {
            if (required) kept.required |= uint64_t{1} << kept.keys.size();
            kept.keys.push_back(n.keys[i]);
            kept.key_nodes.push_back(n.key_nodes[i]);
          } else {
            impossible |= required;
          }
        }
        if (impossible) {
          n = SchemaNode{};
          n.kind = Kind::AnyOf;  // no option: nothing matches
          changed = true;
        } else if (kept.keys.size() != n.keys.size()) {
          n = std::move(kept);
          changed = true;
        }
      }
    }
  }
  for (SchemaNode& n : g.out.nodes) n.literal_filters.clear();
}

void prepare_patterns(SchemaBuilder::Impl& g) {
  constexpr size_t kMaxTableWords = size_t{1} << 20;  // 8 MB of length bits per schema at most
  std::map<std::pair<int, int64_t>, std::shared_ptr<const ByteDfa::Lengths>> tables;
  size_t words = 0;
  for (SchemaNode& n : g.out.nodes) {
    if (n.kind != Kind::String || n.pattern < 0 || (n.min_length == 0 && n.max_length < 0)) continue;
    const int64_t cap = (n.max_length >= 0 ? n.max_length : n.min_length) + 1;
    auto& table = tables[{n.pattern, cap}];
    if (!table) {
      const ByteDfa& dfa = g.out.patterns[n.pattern];
      words += dfa.num_states() * static_cast<size_t>(cap / 64 + 1);
      if (cap > (int64_t{1} << 20) || words > kMaxTableWords)
        bad_param(g.param, "{}", "combines a pattern or format with a length limit too large to enforce together");
      table = std::make_shared<const ByteDfa::Lengths>(dfa.lengths(static_cast<int>(cap)));
    }
    n.pattern_lengths = table;
  }
}

bool prune_unproductive(SchemaBuilder::Impl& g, int root) {
  auto& nodes = g.out.nodes;
  const size_t count = nodes.size();
  // productive[i]: node i has a finite value the automaton can write. Least fixpoint.
  std::vector<uint8_t> productive(count, 0);
  auto ok = [&](int id) { return id >= 0 && productive[id]; };
  auto array_slot = [](const SchemaNode& n, size_t i) {
    return i < n.prefix_items.size() ? n.prefix_items[i] : n.items;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t id = 0; id < count; ++id) {
      if (productive[id]) continue;
      const SchemaNode& n = nodes[id];
      bool p = false;
      switch (n.kind) {
        case Kind::Any:
        case Kind::Number:
        case Kind::Integer:
          p = true;
          break;
        case Kind::String:
          if (n.pattern < 0) p = true;
          else if (n.pattern_lengths) p = n.pattern_lengths->any_between(g.out.patterns[n.pattern].start(), n.min_length, n.max_length);
          else p = !g.out.patterns[n.pattern].empty();
          break;
        case Kind::Literal:
          p = !n.literals.empty();
          break;
        case Kind::AnyOf:
          for (int o : n.options) p = p || ok(o);
          break;
        case Kind::Object: {
          p = true;
          int64_t usable = 0;
          for (size_t i = 0; i < n.keys.size(); ++i) {
            const bool required = (n.required >> i) & 1;
            if (required && !ok(n.key_nodes[i])) p = false;
            usable += ok(n.key_nodes[i]);
          }
          const int64_t required_count = std::popcount(n.required);
          if (n.max_properties >= 0 && required_count > n.max_properties) p = false;
          if (!n.declares_keys) {
            // Free keys only: nothing can be required by name.
            const bool free_keys = ok(n.free_value) && (n.key_node < 0 || ok(n.key_node));
            if ((n.min_properties > 0 && !free_keys) || n.required != 0) p = false;
          } else if (usable < n.min_properties) {
            p = false;
          }
          break;
        }
        case Kind::Array:
          p = true;
          for (int64_t i = 0; i < n.min_items && p; ++i) {
            p = ok(array_slot(n, static_cast<size_t>(i)));
            if (static_cast<size_t>(i) >= n.prefix_items.size()) break;  // later slots are all `items`
          }
          break;
        case Kind::AllOf:
          break;
      }
      if (p) {
        productive[id] = 1;
        changed = true;
      }
    }
  }
  if (!ok(root)) return false;
  // Cut what cannot finish out of what can: the automaton then never enters it.
  for (size_t id = 0; id < count; ++id) {
    if (!productive[id]) continue;
    SchemaNode& n = nodes[id];
    if (n.kind == Kind::AnyOf) {
      std::erase_if(n.options, [&](int o) { return !ok(o); });
    } else if (n.kind == Kind::Object) {
      SchemaNode kept = n;
      kept.keys.clear();
      kept.key_nodes.clear();
      kept.required = 0;
      for (size_t i = 0; i < n.keys.size(); ++i) {
        if (!ok(n.key_nodes[i])) continue;  // optional (required ones are productive here)
        if ((n.required >> i) & 1) kept.required |= uint64_t{1} << kept.keys.size();
        kept.keys.push_back(n.keys[i]);
        kept.key_nodes.push_back(n.key_nodes[i]);
      }
      if (!ok(kept.free_value) || (kept.key_node >= 0 && !ok(kept.key_node))) kept.free_value = -1;
      n = std::move(kept);
    } else if (n.kind == Kind::Array) {
      for (size_t i = 0; i < n.prefix_items.size(); ++i)
        if (!ok(n.prefix_items[i])) {
          n.prefix_items.resize(i);
          n.items = -1;
          break;
        }
      if (!ok(n.items)) {
        n.items = -1;
        const int64_t cap = static_cast<int64_t>(n.prefix_items.size());
        n.max_items = tighter_max(n.max_items, cap);
      }
    }
  }
  return true;
}

}  // namespace ax::server
