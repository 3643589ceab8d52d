// Strategic merge, built to give the same results as Kustomize 5.5, including its
// odd corners. The merge runs on a small mutable tree (Node) rather than on the
// JSON values, because the results depend on node identity: a patch element that
// is added to a list is the very node that later look-ups in the patch find, and
// a target element that is merged in place keeps its position or moves with the
// node. Scalars keep a pointer to their JSON value; the tree is turned back into
// JSON at the end, so on error the target is untouched.
//
// Notes on list order (all verified with kubectl kustomize v5.5.0):
//   * one merge key (containers by name, env, volumes, ...): the patch's elements
//     in patch order, then the target's unmatched elements in target order;
//   * two keys (ports by containerPort+protocol, Service ports by port+protocol,
//     topologySpreadConstraints): when no element on either side sets the second
//     key, as above. When one does, matched elements keep the target's order and
//     new patch elements come first; a key left out on one side is filled in from
//     a matching element on the other, and a patch element that then matches
//     nothing is dropped (Kustomize's behaviour, kept for compatibility).

#include "overlays/strategic_merge.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace windlass::overlays {
namespace {

constexpr std::string_view kPatchKey = "$patch";

struct Node {
  enum class Kind { kNull, kScalar, kMap, kSeq };
  Kind kind = Kind::kNull;
  // kScalar: the JSON value it came from, or nullptr for a string made from text.
  const JsonValue* scalar = nullptr;
  // The scalar's text as YAML shows it ("null" for null, "" for maps and lists
  // and for a null written with no value, `key:`).
  std::string text;
  std::vector<std::pair<std::string, Node*>> fields;  // kMap, in order
  std::vector<Node*> items;                           // kSeq
  bool keepNull = false;  // a null from the target that survives the merge

  bool isMap() const { return kind == Kind::kMap; }
  bool isSeq() const { return kind == Kind::kSeq; }
};

bool missingOrNull(const Node* n) { return n == nullptr || n->kind == Node::Kind::kNull; }
bool missingOrEmptyMap(const Node* n) {
  return missingOrNull(n) || (n->isMap() && n->fields.empty());
}
// kyaml's IsNilOrEmpty: null, {} and [] count as no value.
bool nilOrEmpty(const Node* n) {
  return missingOrNull(n) || (n->isMap() && n->fields.empty()) || (n->isSeq() && n->items.empty());
}

Node* fieldOf(const Node* n, std::string_view key) {
  if (n == nullptr || !n->isMap()) return nullptr;
  for (const auto& [k, v] : n->fields) {
    if (k == key) return v;
  }
  return nullptr;
}

void removeField(Node* n, std::string_view key) {
  auto& f = n->fields;
  f.erase(std::remove_if(f.begin(), f.end(), [&](const auto& kv) { return kv.first == key; }),
          f.end());
}

const char* kindName(const Node* n) {
  switch (n->kind) {
    case Node::Kind::kNull:
      return "null";
    case Node::Kind::kScalar:
      return "a scalar";
    case Node::Kind::kMap:
      return "a map";
    case Node::Kind::kSeq:
      return "a list";
  }
  return "?";
}

std::string scalarText(const JsonValue& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsNumber()) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v.GetDouble());
    return std::string(buf, res.ptr);
  }
  return "null";
}

class Arena {
 public:
  Node* make(Node::Kind kind) {
    nodes_.emplace_back();
    nodes_.back().kind = kind;
    return &nodes_.back();
  }

  Node* import(const JsonValue& v) {
    if (v.IsObject()) {
      Node* n = make(Node::Kind::kMap);
      n->fields.reserve(v.MemberCount());
      for (const auto& m : v.GetObject()) {
        n->fields.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()),
                               import(m.value));
      }
      return n;
    }
    if (v.IsArray()) {
      Node* n = make(Node::Kind::kSeq);
      n->items.reserve(v.Size());
      for (const auto& e : v.GetArray()) n->items.push_back(import(e));
      return n;
    }
    if (v.IsNull()) {
      Node* n = make(Node::Kind::kNull);
      n->text = "null";
      return n;
    }
    Node* n = make(Node::Kind::kScalar);
    n->scalar = &v;
    n->text = scalarText(v);
    return n;
  }

 private:
  std::deque<Node> nodes_;
};

JsonValue exportNode(const Node* n, JsonAllocator& alloc) {
  switch (n->kind) {
    case Node::Kind::kNull:
      return JsonValue();
    case Node::Kind::kScalar:
      if (n->scalar != nullptr) return JsonValue(*n->scalar, alloc);
      // kyaml quotes a new scalar that YAML 1.1 would not read as a string.
      return JsonValue(n->text.c_str(), static_cast<rapidjson::SizeType>(n->text.size()), alloc);
    case Node::Kind::kMap: {
      JsonValue obj(rapidjson::kObjectType);
      for (const auto& [k, v] : n->fields) {
        obj.AddMember(JsonValue(k.c_str(), static_cast<rapidjson::SizeType>(k.size()), alloc),
                      exportNode(v, alloc), alloc);
      }
      return obj;
    }
    case Node::Kind::kSeq: {
      JsonValue arr(rapidjson::kArrayType);
      arr.Reserve(static_cast<rapidjson::SizeType>(n->items.size()), alloc);
      for (const Node* e : n->items) arr.PushBack(exportNode(e, alloc), alloc);
      return arr;
    }
  }
  return JsonValue();
}

// Follows a path of map keys and list indices; nullptr when it leads nowhere.
Node* nodeAt(Node* root, const std::vector<std::string>& path) {
  Node* n = root;
  for (const std::string& step : path) {
    if (n->isMap()) {
      n = fieldOf(n, step);
    } else if (n->isSeq()) {
      size_t i = 0;
      auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), i);
      bool found = ec == std::errc() && end == step.data() + step.size() && i < n->items.size();
      n = found ? n->items[i] : nullptr;
    } else {
      n = nullptr;
    }
    if (n == nullptr) return nullptr;
  }
  return n;
}

// Gives the nulls at `paths` empty text, as kyaml holds a member written with no
// value. Paths that reach no null are ignored. Returns how many were marked.
size_t markEmptyNulls(Node* root, const std::vector<std::vector<std::string>>& paths) {
  size_t marked = 0;
  for (const std::vector<std::string>& path : paths) {
    Node* n = nodeAt(root, path);
    if (n != nullptr && n != root && n->kind == Node::Kind::kNull) {
      n->text.clear();
      ++marked;
    }
  }
  return marked;
}

// Appends the paths of the map members of n that are nulls with empty text.
void collectEmptyNulls(const Node* n, std::vector<std::string>& path,
                       std::vector<std::vector<std::string>>& out) {
  auto visit = [&](const std::string& step, const Node* v) {
    const bool emptyNull = n->isMap() && v->kind == Node::Kind::kNull && v->text.empty();
    if (!emptyNull && !v->isMap() && !v->isSeq()) return;
    path.push_back(step);
    if (emptyNull) {
      out.push_back(path);
    } else {
      collectEmptyNulls(v, path, out);
    }
    path.pop_back();
  };
  if (n->isMap()) {
    for (const auto& [k, v] : n->fields) visit(k, v);
  } else if (n->isSeq()) {
    for (size_t i = 0; i < n->items.size(); ++i) visit(std::to_string(i), n->items[i]);
  }
}

// The schema of the node being walked: an object type, a merged list, or none.
struct Schema {
  SchemaTypeId type = kNoType;
  const SchemaField* list = nullptr;

  bool present() const { return type != kNoType || list != nullptr; }
};

enum class Directive { kMerge, kReplace, kDelete };

using Keys = std::vector<std::string>;
using Values = std::vector<std::string>;

class Merger {
 public:
  Merger(const MergeSchema& schema, Arena& arena) : schema_(schema), arena_(arena) {}

  // Merges origin (the patch side) into dest; either may be null. Returns the
  // resulting node, nullptr when the field is to be removed.
  Result<Node*> walk(Node* dest, Node* origin, Schema schema) {
    schema = resolveSchema(schema, dest, origin);
    const Node* first = !missingOrNull(dest) ? dest : (!missingOrNull(origin) ? origin : nullptr);
    if (first == nullptr) return walkMap(dest, origin, schema);
    for (const Node* n : {dest, origin}) {
      if (!missingOrNull(n) && n->kind != first->kind) {
        return error(std::string("cannot merge ") + kindName(origin) + " into " + kindName(dest));
      }
    }
    switch (first->kind) {
      case Node::Kind::kMap:
        return walkMap(dest, origin, schema);
      case Node::Kind::kSeq:
        if (schema.list != nullptr) return walkMergeList(dest, origin, schema);
        return origin != nullptr ? origin : dest;
      default:
        return origin != nullptr ? origin : dest;
    }
  }

 private:
  Status error(std::string msg) const {
    std::string path;
    for (const std::string& p : path_) {
      if (!path.empty() && p[0] != '[') path += '.';
      path += p;
    }
    return Status::invalidArgument((path.empty() ? std::string("strategic merge patch") : path) +
                                   ": " + msg);
  }

  // kyaml keeps the schema it was given; without one, a map that names its
  // apiVersion and kind is looked up as a resource (dest first).
  Schema resolveSchema(Schema schema, const Node* dest, const Node* origin) const {
    if (schema.present()) return schema;
    for (const Node* n : {dest, origin}) {
      const Node* av = fieldOf(n, "apiVersion");
      const Node* kind = fieldOf(n, "kind");
      if (av == nullptr || kind == nullptr || av->text.empty() || kind->text.empty()) continue;
      SchemaTypeId t = schema_.typeForResource(av->text, kind->text);
      if (t != kNoType) return Schema{t, nullptr};
    }
    return Schema{};
  }

  Schema fieldSchema(Schema s, std::string_view key) const {
    if (s.list != nullptr || s.type == kNoType) return Schema{};
    const SchemaField* f = schema_.field(s.type, key);
    if (f == nullptr) return Schema{};
    if (f->mergeList) return Schema{kNoType, f};
    return Schema{f->type, nullptr};
  }

  // Reads and removes a `$patch` directive of a map or list in the patch.
  Result<Directive> directive(Node* origin) {
    if (origin == nullptr) return Directive::kMerge;
    if (origin->isMap()) {
      const Node* v = fieldOf(origin, kPatchKey);
      if (v == nullptr) return Directive::kMerge;
      Result<Directive> d = parseDirective(v->text);
      if (d) removeField(origin, kPatchKey);
      return d;
    }
    if (origin->isSeq()) {
      const Node* holder = nullptr;
      for (const Node* e : origin->items) {
        if (fieldOf(e, kPatchKey) != nullptr) {
          holder = e;
          break;
        }
      }
      // A `$patch` next to other keys belongs to that element, not to the list.
      if (holder == nullptr || holder->fields.size() > 1) return Directive::kMerge;
      std::string value = fieldOf(holder, kPatchKey)->text;
      Result<Directive> d = parseDirective(value);
      if (d)
        WINDLASS_RETURN_IF_ERROR(setElement(origin, nullptr, {std::string(kPatchKey)}, {value}));
      return d;
    }
    return error("no strategic merge patch strategy for " + std::string(kindName(origin)));
  }

  Result<Directive> parseDirective(const std::string& v) {
    if (v == "delete") return Directive::kDelete;
    if (v == "replace") return Directive::kReplace;
    if (v == "merge") return Directive::kMerge;
    return error("unknown patch strategy '" + v + "'");
  }

  Result<Node*> walkMap(Node* dest, Node* origin, Schema schema) {
    Node* d = nullptr;
    if (missingOrNull(dest)) {
      Result<Directive> dir = directive(origin);  // errors ignored here, as in kyaml
      if (dir && *dir == Directive::kDelete) return static_cast<Node*>(nullptr);
      if (origin == nullptr && dest != nullptr) {
        // A null in the target that the patch does not mention stays when written
        // out ("null", "~"); one written with no value (`key:`) goes.
        if (dest->text.empty()) return static_cast<Node*>(nullptr);
        Node* keep = arena_.make(Node::Kind::kNull);
        keep->text = dest->text;
        keep->keepNull = true;
        return keep;
      }
      d = origin;
    } else {
      if (origin != nullptr && origin->kind == Node::Kind::kNull)
        return static_cast<Node*>(nullptr);
      Result<Directive> dir = directive(origin);
      if (!dir) return dir.error();
      if (*dir == Directive::kDelete) return static_cast<Node*>(nullptr);
      d = *dir == Directive::kReplace ? origin : dest;
    }
    if (d == nullptr) return static_cast<Node*>(nullptr);

    std::set<std::string> names;
    for (const Node* n : {static_cast<const Node*>(d), static_cast<const Node*>(origin)}) {
      if (n == nullptr || !n->isMap()) continue;
      for (const auto& kv : n->fields) names.insert(kv.first);
    }
    for (const std::string& key : names) {
      path_.push_back(key);
      Result<Node*> val = walk(fieldOf(d, key), fieldOf(origin, key), fieldSchema(schema, key));
      if (!val) return val;
      path_.pop_back();
      setField(d, key, *val);
    }
    return d;
  }

  static void setField(Node* map, const std::string& key, Node* val) {
    if (!map->isMap()) return;
    if (val == nullptr || (val->kind == Node::Kind::kNull && !val->keepNull)) {
      removeField(map, key);
      return;
    }
    for (auto& kv : map->fields) {
      if (kv.first == key) {
        kv.second = val;
        return;
      }
    }
    map->fields.emplace_back(key, val);
  }

  Result<Node*> walkMergeList(Node* dest, Node* origin, Schema schema) {
    Node* d = nullptr;
    if (missingOrNull(dest)) {
      d = origin;
    } else {
      if (origin != nullptr && origin->kind == Node::Kind::kNull)
        return static_cast<Node*>(nullptr);
      Result<Directive> dir = directive(origin);
      if (!dir) return dir.error();
      if (*dir == Directive::kDelete) return static_cast<Node*>(nullptr);
      d = *dir == Directive::kReplace ? origin : dest;
    }
    if (d == nullptr) return static_cast<Node*>(nullptr);

    const Keys& keys = schema.list->keys;
    std::vector<Values> values = elementValues(d, origin, keys);
    if (!values.empty() || !keys.empty()) {
      return setElements(std::move(values), keys, d, origin, schema);
    }
    return setElements(primitiveValues(d, origin), {""}, d, origin, schema);
  }

  // The key values of every element, the patch's elements first, without repeats.
  static std::vector<Values> elementValues(const Node* d, const Node* origin, const Keys& keys) {
    std::vector<Values> out;
    for (const Node* src : {origin, d}) {
      if (src == nullptr || !src->isSeq()) continue;
      for (const Node* e : src->items) {
        Values vals;
        for (const std::string& k : keys) {
          const Node* f = fieldOf(e, k);
          vals.push_back(nilOrEmpty(f) ? std::string() : f->text);
        }
        if (vals.empty() || std::find(out.begin(), out.end(), vals) != out.end()) continue;
        out.push_back(std::move(vals));
      }
    }
    return out;
  }

  static std::vector<Values> primitiveValues(const Node* d, const Node* origin) {
    std::vector<Values> out;
    std::set<std::string> seen;
    for (const Node* src : {origin, d}) {
      if (src == nullptr || !src->isSeq()) continue;
      for (const Node* e : src->items) {
        if (seen.insert(e->text).second) out.push_back({e->text});
      }
    }
    return out;
  }

  // Two key tuples match when they share a value and differ only where one is empty.
  static bool matchValues(const Values& a, const Values& b, Values* merged) {
    if (a.size() != b.size()) return false;
    bool common = false;
    Values res;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] == b[i]) {
        common = true;
        res.push_back(a[i]);
      } else if (!a[i].empty() && !b[i].empty()) {
        return false;
      } else {
        res.push_back(a[i].empty() ? b[i] : a[i]);
      }
    }
    if (common) *merged = std::move(res);
    return common;
  }

  static void mergeValues(std::vector<Values>& list) {
    for (size_t i = 0; i < list.size(); ++i) {
      for (size_t j = 0; j < list.size(); ++j) {
        Values merged;
        if (matchValues(list[i], list[j], &merged)) {
          list[i] = merged;
          list[j] = merged;
        }
      }
    }
  }

  // Drops the keys that no tuple sets (falling back to all keys when none is set).
  static std::pair<Keys, Values> validKeys(const std::vector<Values>& list, const Values& values,
                                           const Keys& keys) {
    std::vector<bool> used(keys.size(), false);
    bool any = false;
    for (const Values& vals : list) {
      for (size_t i = 0; i < vals.size() && i < keys.size(); ++i) {
        if (!vals[i].empty()) used[i] = any = true;
      }
    }
    if (!any) return {keys, values};
    Keys k;
    Values v;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (used[i]) k.push_back(keys[i]);
    }
    for (size_t i = 0; i < values.size() && i < keys.size(); ++i) {
      if (!values[i].empty() || used[i]) v.push_back(values[i]);
    }
    return {std::move(k), std::move(v)};
  }

  // The first element of seq whose keys all have exactly these values.
  static Node* findElement(const Node* seq, Keys keys, Values values) {
    if (seq == nullptr || !seq->isSeq()) return nullptr;
    if (keys.empty()) keys.emplace_back();
    if (values.empty()) values.emplace_back();
    if (keys[0].empty()) {
      for (Node* e : seq->items) {
        if (e->text == values[0]) return e;
      }
      return nullptr;
    }
    if (keys.size() != values.size()) return nullptr;
    for (Node* e : seq->items) {
      if (e->kind == Node::Kind::kNull) continue;
      if (!e->isMap()) continue;
      bool all = true;
      for (size_t i = 0; i < keys.size() && all; ++i) {
        const Node* f = fieldOf(e, keys[i]);
        all = f != nullptr && f->text == values[i];
      }
      if (all) return e;
    }
    return nullptr;
  }

  // kyaml's ElementSetter: replaces (element != nullptr) or removes (nullptr) the
  // elements of seq matching keys/values, appending element when none matched.
  // Null and empty-map elements are dropped on the way.
  Status setElement(Node* seq, Node* element, Keys keys, const Values& values) {
    if (keys.empty()) keys.emplace_back();
    if (!missingOrNull(seq) && !seq->isSeq()) return error("expected a list");
    if (seq == nullptr || !seq->isSeq()) return Status();
    const bool mappingSetter = !keys[0].empty() && !values.empty() && !values[0].empty();
    std::vector<Node*> kept;
    bool found = false;
    for (Node* e : seq->items) {
      if (missingOrEmptyMap(e)) continue;
      if (!e->isMap() && mappingSetter) {
        kept.push_back(e);
        continue;
      }
      // As in kyaml, keys beyond the given values reuse the last comparison.
      bool match = false;
      for (size_t j = 0; j < keys.size(); ++j) {
        if (j < values.size()) {
          Result<bool> m = fieldMatches(e, keys[j], values[j]);
          if (!m) return m.error();
          match = *m;
        }
        if (!match) break;
      }
      if (!match) {
        if (!values.empty()) kept.push_back(e);
        continue;
      }
      found = true;
      if (element != nullptr) kept.push_back(element);
    }
    seq->items = std::move(kept);
    if (missingOrNull(element)) return Status();
    if (!found) seq->items.push_back(element);
    return Status();
  }

  // kyaml's FieldMatcher as ElementSetter uses it: an empty value matches any.
  Result<bool> fieldMatches(const Node* e, const std::string& key, const std::string& value) {
    if (key.empty()) {
      if (e->kind != Node::Kind::kScalar) {
        return error(std::string("expected a scalar list element, got ") + kindName(e));
      }
      return e->text == value;
    }
    if (!e->isMap()) return error(std::string("expected a map list element, got ") + kindName(e));
    const Node* f = fieldOf(e, key);
    return f != nullptr && (value.empty() || f->text == value);
  }

  Result<Node*> setElements(std::vector<Values> list, const Keys& keys, Node* d, Node* origin,
                            Schema schema) {
    Node* items = arena_.make(Node::Kind::kSeq);
    Schema elemSchema{schema.list != nullptr ? schema.list->type : kNoType, nullptr};
    if (keys.size() > 1) mergeValues(list);

    Keys vk;
    Values vv;
    for (const Values& values : list) {
      if (values.empty()) continue;
      std::tie(vk, vv) = validKeys(list, values, keys);
      auto [k2, v2] = validKeys({vv}, vv, vk);
      path_.push_back(elementLabel(k2, v2));
      Result<Node*> r = walk(findElement(d, k2, v2), findElement(origin, k2, v2), elemSchema);
      if (!r) return r;
      Node* val = *r;
      bool removed = false;
      for (size_t i = 0; i < vk.size(); ++i) {
        if (missingOrEmptyMap(val)) {
          WINDLASS_RETURN_IF_ERROR(setElement(d, nullptr, vk, vv));
          removed = true;
        } else if (fieldOf(val, vk[i]) == nullptr && i < vv.size() && !vv[i].empty()) {
          WINDLASS_RETURN_IF_ERROR(setKeyText(val, vk[i], vv[i]));
        }
      }
      path_.pop_back();
      if (removed) continue;
      WINDLASS_RETURN_IF_ERROR(setElement(items, val, vk, vv));
    }
    if (!list.empty()) {
      Result<Node*> r = appendList(items, d, vk);
      if (!r) return r;
      d = *r;
    }
    if (missingOrNull(d)) return static_cast<Node*>(nullptr);
    return d;
  }

  static std::string elementLabel(const Keys& keys, const Values& values) {
    std::string s = "[";
    for (size_t i = 0; i < keys.size() && i < values.size(); ++i) {
      if (i > 0) s += ',';
      s += keys[i].empty() ? std::string() : keys[i] + "=";
      s += values[i];
    }
    return s + "]";
  }

  // Sets a missing key of a merged element from its text. For a primitive (key "")
  // kyaml rewrites the scalar with its own text and style, which changes nothing.
  Status setKeyText(Node* val, const std::string& key, const std::string& text) {
    if (key.empty()) {
      if (val->kind != Node::Kind::kScalar) return error("expected a scalar list element");
      return Status();
    }
    if (!val->isMap())
      return error(std::string("expected a map list element, got ") + kindName(val));
    Node* s = arena_.make(Node::Kind::kScalar);
    s->text = text;
    setField(val, key, s);
    return Status();
  }

  // Puts the target's elements after the merged ones (kyaml's appendListNode in
  // prepend mode): an element replaces its match in place, except with several
  // keys, where it is removed and appended again.
  Result<Node*> appendList(Node* dst, Node* src, const Keys& keys) {
    if (src == nullptr || !src->isSeq()) return dst;
    const std::vector<Node*> elems = src->items;
    for (Node* e : elems) {
      if (keys.empty() || keys[0].empty()) {
        WINDLASS_RETURN_IF_ERROR(setElement(dst, e, {""}, {e->text}));
        continue;
      }
      Values v;
      for (const std::string& key : keys) {
        if (!missingOrNull(e) && !e->isMap()) {
          return error(std::string("expected a map list element, got ") + kindName(e));
        }
        const Node* f = missingOrNull(e) ? nullptr : fieldOf(e, key);
        if (f == nullptr) {
          dst->items.push_back(e);
          continue;
        }
        v.push_back(f->text);
      }
      if (keys.size() > 1) WINDLASS_RETURN_IF_ERROR(setElement(dst, nullptr, keys, v));
      WINDLASS_RETURN_IF_ERROR(setElement(dst, e, keys, v));
    }
    return dst;
  }

  const MergeSchema& schema_;
  Arena& arena_;
  std::vector<std::string> path_;
};

}  // namespace

Result<MergeOutcome> strategicMerge(JsonValue& target, const JsonValue& patch,
                                    const MergeSchema& schema, JsonAllocator& alloc,
                                    std::vector<std::vector<std::string>>* emptyNulls) {
  if (!target.IsObject()) return Status::invalidArgument("strategic merge: target is not a map");
  if (!patch.IsObject()) return Status::invalidArgument("strategic merge: patch is not a map");
  try {
    Arena arena;
    Merger merger(schema, arena);
    Node* root = arena.import(target);
    const bool hasEmptyNulls = emptyNulls != nullptr && !emptyNulls->empty();
    const size_t marked = hasEmptyNulls ? markEmptyNulls(root, *emptyNulls) : 0;
    Result<Node*> r = merger.walk(root, arena.import(patch), Schema{});
    if (!r) return r.error();
    if (*r == nullptr) return MergeOutcome::kDeleted;
    // kyaml merges into the resource's own root node; a `$patch: replace` at the
    // top returns another root, which Kustomize ignores: the target stays.
    if (*r != root) return MergeOutcome::kMerged;
    JsonValue out = exportNode(*r, alloc);
    if (hasEmptyNulls) {
      // What the merge did not walk (lists it does not merge) keeps its empty nulls.
      std::vector<std::vector<std::string>> kept;
      if (marked > 0) {
        std::vector<std::string> path;
        collectEmptyNulls(*r, path, kept);
      }
      *emptyNulls = std::move(kept);
    }
    target = out;  // moves
    return MergeOutcome::kMerged;
  } catch (const JsonAssertion& e) {
    return Status::internal(std::string("strategic merge: ") + e.what());
  }
}

}  // namespace windlass::overlays
