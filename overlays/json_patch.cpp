#include "overlays/json_patch.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace windlass::overlays {
namespace {

// Inside this file an error is the text Kustomize (Go) would print; empty
// optional means success. applyJsonPatch turns it into a Status.
using Err = std::optional<std::string>;

constexpr std::string_view kMissingValue = "missing value";
constexpr std::string_view kInvalidIndex = "invalid index referenced";

// Go's strconv.Quote for the short strings that appear in index errors.
std::string goQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += '"';
  return out;
}

// Go's strconv.Atoi on a 64-bit platform: optional sign, then decimal digits.
// Returns the number, or sets *err to Go's error text.
std::optional<int64_t> goAtoi(std::string_view s, std::string* err) {
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  bool syntaxOk = !digits.empty();
  for (char c : digits) syntaxOk = syntaxOk && c >= '0' && c <= '9';
  if (!syntaxOk) {
    *err = "strconv.Atoi: parsing " + goQuote(s) + ": invalid syntax";
    return std::nullopt;
  }
  // Accumulate as a negative number so INT64_MIN fits.
  int64_t value = 0;
  for (char c : digits) {
    int digit = c - '0';
    if (value < (INT64_MIN + digit) / 10) {
      *err = "strconv.Atoi: parsing " + goQuote(s) + ": value out of range";
      return std::nullopt;
    }
    value = value * 10 - digit;
  }
  if (!negative) {
    if (value == INT64_MIN) {
      *err = "strconv.Atoi: parsing " + goQuote(s) + ": value out of range";
      return std::nullopt;
    }
    value = -value;
  }
  return value;
}

std::string invalidIndex(int64_t idx) {
  return "Unable to access invalid index: " + std::to_string(idx) + ": " +
         std::string(kInvalidIndex);
}

// RFC 6901 token decoding in one left-to-right pass: "~1" → "/", "~0" → "~".
std::string decodeToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out.push_back(token[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(token[i]);
    }
  }
  return out;
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      return parts;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

JsonValue::MemberIterator findKey(JsonValue& obj, std::string_view key) {
  return obj.FindMember(JsonValue(rapidjson::StringRef(key.data(), key.size())));
}

// A deep copy of `src` allocated from `alloc`. Unlike RapidJSON 1.1's copy
// constructor it also copies const (borrowed) strings, so the copy never points
// into the patch the value came from.
JsonValue deepCopy(const JsonValue& src, JsonAllocator& alloc) {
  switch (src.GetType()) {
    case rapidjson::kStringType:
      return JsonValue(src.GetString(), src.GetStringLength(), alloc);
    case rapidjson::kArrayType: {
      JsonValue out(rapidjson::kArrayType);
      out.Reserve(src.Size(), alloc);
      for (const auto& e : src.GetArray()) out.PushBack(deepCopy(e, alloc), alloc);
      return out;
    }
    case rapidjson::kObjectType: {
      JsonValue out(rapidjson::kObjectType);
      for (const auto& m : src.GetObject()) {
        out.AddMember(deepCopy(m.name, alloc), deepCopy(m.value, alloc), alloc);
      }
      return out;
    }
    default: {
      JsonValue out;
      out.CopyFrom(src, alloc);  // null, bool or number: no memory involved
      return out;
    }
  }
}

// --- container operations (an object or an array), as json-patch v4 does them ---

// Looks up `key`. *out is null when the object has no such key or the value is
// JSON null (json-patch cannot tell them apart). Errors only for arrays.
Err getChild(JsonValue& container, const std::string& key, JsonValue** out) {
  *out = nullptr;
  if (container.IsObject()) {
    auto it = findKey(container, key);
    if (it != container.MemberEnd() && !it->value.IsNull()) *out = &it->value;
    return std::nullopt;
  }
  std::string err;
  auto idx = goAtoi(key, &err);
  if (!idx) return err;
  auto len = static_cast<int64_t>(container.Size());
  int64_t i = *idx;
  if (i < 0) {
    if (i < -len) return invalidIndex(i);
    i += len;
  }
  if (i >= len) return invalidIndex(i);
  JsonValue& element = container[static_cast<rapidjson::SizeType>(i)];
  if (!element.IsNull()) *out = &element;
  return std::nullopt;
}

Err addChild(JsonValue& container, const std::string& key, JsonValue& value, JsonAllocator& alloc) {
  if (container.IsObject()) {
    auto it = findKey(container, key);
    if (it != container.MemberEnd()) {
      it->value = value;  // RapidJSON assignment moves
    } else {
      container.AddMember(
          JsonValue(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc), value, alloc);
    }
    return std::nullopt;
  }
  if (key == "-") {
    container.PushBack(value, alloc);
    return std::nullopt;
  }
  std::string err;
  auto idx = goAtoi(key, &err);
  if (!idx) return "value was not a proper array index: '" + key + "': " + err;
  auto newLen = static_cast<int64_t>(container.Size()) + 1;
  int64_t i = *idx;
  if (i >= newLen) return invalidIndex(i);
  if (i < 0) {
    if (i < -newLen) return invalidIndex(i);
    i += newLen;
  }
  container.PushBack(value, alloc);
  for (auto pos = static_cast<rapidjson::SizeType>(newLen - 1); pos > i; --pos) {
    container[pos].Swap(container[pos - 1]);
  }
  return std::nullopt;
}

Err removeChild(JsonValue& container, const std::string& key) {
  if (container.IsObject()) {
    auto it = findKey(container, key);
    if (it == container.MemberEnd()) {
      return "Unable to remove nonexistent key: " + key + ": " + std::string(kMissingValue);
    }
    container.EraseMember(it);
    return std::nullopt;
  }
  std::string err;
  auto idx = goAtoi(key, &err);
  if (!idx) return err;
  auto len = static_cast<int64_t>(container.Size());
  int64_t i = *idx;
  if (i >= len) return invalidIndex(i);
  if (i < 0) {
    if (i < -len) return invalidIndex(i);
    i += len;
  }
  container.Erase(container.Begin() + i);
  return std::nullopt;
}

// Sets an existing array slot, or any object key. Callers ran getChild first.
void setChild(JsonValue& container, const std::string& key, JsonValue& value,
              JsonAllocator& alloc) {
  if (container.IsObject()) {
    (void)addChild(container, key, value, alloc);
    return;
  }
  std::string err;
  int64_t i = goAtoi(key, &err).value_or(0);
  if (i < 0) i += static_cast<int64_t>(container.Size());
  container[static_cast<rapidjson::SizeType>(i)] = value;
}

// The container a path points into and the decoded last token. container is
// null when the path has no "/" or a parent along it is missing, null or a scalar.
struct Location {
  JsonValue* container = nullptr;
  std::string key;
};

Location findContainer(JsonValue& root, std::string_view path) {
  std::vector<std::string_view> parts = splitPath(path);
  if (parts.size() < 2) return {};
  JsonValue* doc = &root;
  // As json-patch does, the first segment (empty for "/a/b") is never looked at.
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    JsonValue* next = nullptr;
    if (getChild(*doc, decodeToken(parts[i]), &next) || next == nullptr) return {};
    if (!next->IsObject() && !next->IsArray()) return {};
    doc = next;
  }
  return {doc, decodeToken(parts.back())};
}

// Structural equality as json-patch's "test" sees it: types must match, and
// integers never equal floating-point numbers (it compares their JSON text).
bool jsonEqual(const JsonValue& a, const JsonValue& b) {
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kNullType:
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return true;
    case rapidjson::kStringType:
      return a.GetStringLength() == b.GetStringLength() &&
             std::string_view(a.GetString(), a.GetStringLength()) ==
                 std::string_view(b.GetString(), b.GetStringLength());
    case rapidjson::kNumberType:
      if (a.IsDouble() != b.IsDouble()) return false;
      if (a.IsDouble()) return a.GetDouble() == b.GetDouble();
      if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
      return a.IsUint64() && b.IsUint64() && a.GetUint64() == b.GetUint64();
    case rapidjson::kArrayType:
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!jsonEqual(a[i], b[i])) return false;
      }
      return true;
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      for (const auto& m : a.GetObject()) {
        auto it = b.FindMember(m.name);
        if (it == b.MemberEnd() || !jsonEqual(m.value, it->value)) return false;
      }
      return true;
    }
  }
  return false;
}

// --- one operation ---

class Operation {
 public:
  explicit Operation(const JsonValue& op) : op_(op) {}

  // The "op" member, or "unknown" when missing or not a string.
  std::string kind() const {
    const JsonValue* v = member("op");
    return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength())
                                         : "unknown";
  }

  // The "path" (or "from") member; on failure sets *err to the text Go gives.
  std::optional<std::string> path(std::string* err) const { return stringMember("path", err); }
  std::optional<std::string> from(std::string* err) const { return stringMember("from", err); }

  // The "value" member, or null when absent.
  const JsonValue* value() const { return member("value"); }

  // A copy of the value, allocated from `alloc`; JSON null when absent.
  JsonValue valueCopy(JsonAllocator& alloc) const {
    JsonValue out;
    if (const JsonValue* v = value()) out = deepCopy(*v, alloc);
    return out;
  }

 private:
  const JsonValue* member(const char* name) const {
    auto it = op_.FindMember(name);
    return it == op_.MemberEnd() ? nullptr : &it->value;
  }

  std::optional<std::string> stringMember(const char* name, std::string* err) const {
    const JsonValue* v = member(name);
    if (v == nullptr || v->IsNull()) {
      *err = std::string(name) == "path" ? "operation missing path field: missing value"
                                         : "operation, missing from field: missing value";
      return std::nullopt;
    }
    if (!v->IsString()) {
      const char* type = v->IsNumber()  ? "number"
                         : v->IsBool()  ? "bool"
                         : v->IsArray() ? "array"
                                        : "object";
      *err = std::string("json: cannot unmarshal ") + type + " into Go value of type string";
      return std::nullopt;
    }
    return std::string(v->GetString(), v->GetStringLength());
  }

  const JsonValue& op_;
};

std::string missing(std::string_view what) { return std::string(what) + ": missing value"; }

Err opAdd(JsonValue& doc, const Operation& op, JsonAllocator& alloc) {
  std::string err;
  auto path = op.path(&err);
  if (!path) return missing("add operation failed to decode path");
  Location loc = findContainer(doc, *path);
  if (loc.container == nullptr) {
    return missing("add operation does not apply: doc is missing path: \"" + *path + "\"");
  }
  JsonValue value = op.valueCopy(alloc);
  if (Err e = addChild(*loc.container, loc.key, value, alloc)) {
    return "error in add for path: '" + *path + "': " + *e;
  }
  return std::nullopt;
}

Err opRemove(JsonValue& doc, const Operation& op) {
  std::string err;
  auto path = op.path(&err);
  if (!path) return missing("remove operation failed to decode path");
  Location loc = findContainer(doc, *path);
  if (loc.container == nullptr) {
    return missing("remove operation does not apply: doc is missing path: \"" + *path + "\"");
  }
  if (Err e = removeChild(*loc.container, loc.key)) {
    return "error in remove for path: '" + *path + "': " + *e;
  }
  return std::nullopt;
}

Err opReplace(JsonValue& doc, const Operation& op, JsonAllocator& alloc) {
  std::string err;
  auto path = op.path(&err);
  if (!path) return "replace operation failed to decode path: " + err;
  if (path->empty()) {
    const JsonValue* v = op.value();
    if (v == nullptr) return std::string("replace operation value must be object or array");
    // json-patch wraps a nil error here, so a scalar value is silently ignored.
    if (v->IsObject() || v->IsArray()) doc = deepCopy(*v, alloc);
    return std::nullopt;
  }
  Location loc = findContainer(doc, *path);
  if (loc.container == nullptr) {
    return missing("replace operation does not apply: doc is missing path: " + *path);
  }
  JsonValue* current = nullptr;
  if (getChild(*loc.container, loc.key, &current)) {
    return missing("replace operation does not apply: doc is missing key: " + *path);
  }
  JsonValue value = op.valueCopy(alloc);
  setChild(*loc.container, loc.key, value, alloc);
  return std::nullopt;
}

Err opMove(JsonValue& doc, const Operation& op, JsonAllocator& alloc) {
  std::string err;
  auto from = op.from(&err);
  if (!from) return "move operation failed to decode from: " + err;
  Location src = findContainer(doc, *from);
  if (src.container == nullptr) {
    return missing("move operation does not apply: doc is missing from path: " + *from);
  }
  JsonValue* found = nullptr;
  if (Err e = getChild(*src.container, src.key, &found)) {
    return "error in move for path: '" + src.key + "': " + *e;
  }
  JsonValue value;
  if (found != nullptr) value = *found;  // RapidJSON assignment moves; the slot is erased next
  if (Err e = removeChild(*src.container, src.key)) {
    return "error in move for path: '" + src.key + "': " + *e;
  }
  auto path = op.path(&err);
  if (!path) return "move operation failed to decode path: " + err;
  Location dst = findContainer(doc, *path);
  if (dst.container == nullptr) {
    return missing("move operation does not apply: doc is missing destination path: " + *path);
  }
  if (Err e = addChild(*dst.container, dst.key, value, alloc)) {
    return "error in move for path: '" + *path + "': " + *e;
  }
  return std::nullopt;
}

Err opCopy(JsonValue& doc, const Operation& op, JsonAllocator& alloc) {
  std::string err;
  auto from = op.from(&err);
  if (!from) return "copy operation failed to decode from: " + err;
  Location src = findContainer(doc, *from);
  if (src.container == nullptr) {
    return missing("copy operation does not apply: doc is missing from path: " + *from);
  }
  JsonValue* found = nullptr;
  if (Err e = getChild(*src.container, src.key, &found)) {
    return "error in copy for from: '" + *from + "': " + *e;
  }
  // Copy before touching the destination: an insert may move the source.
  JsonValue value;
  if (found != nullptr) value = deepCopy(*found, alloc);
  auto path = op.path(&err);
  if (!path) return missing("copy operation failed to decode path");
  Location dst = findContainer(doc, *path);
  if (dst.container == nullptr) {
    return missing("copy operation does not apply: doc is missing destination path: " + *path);
  }
  if (Err e = addChild(*dst.container, dst.key, value, alloc)) {
    return "error while adding value during copy: " + *e;
  }
  return std::nullopt;
}

Err opTest(JsonValue& doc, const Operation& op) {
  std::string err;
  auto path = op.path(&err);
  if (!path) return "test operation failed to decode path: " + err;
  std::string failed = "testing value " + *path + " failed: test failed";
  const JsonValue* expected = op.value();
  if (path->empty()) {
    if (expected != nullptr && jsonEqual(doc, *expected)) return std::nullopt;
    return failed;
  }
  Location loc = findContainer(doc, *path);
  if (loc.container == nullptr) {
    return missing("test operation does not apply: is missing path: " + *path);
  }
  JsonValue* actual = nullptr;
  if (Err e = getChild(*loc.container, loc.key, &actual)) {
    return "error in test for path: '" + *path + "': " + *e;
  }
  if (actual == nullptr) {
    // A missing key and a null value both pass against an explicit null.
    if (expected != nullptr && expected->IsNull()) return std::nullopt;
    return failed;
  }
  if (expected == nullptr || !jsonEqual(*actual, *expected)) return failed;
  return std::nullopt;
}

std::string describeOp(size_t index, const JsonValue& op) {
  std::string out = "json patch op " + std::to_string(index);
  if (!op.IsObject()) return out;
  Operation o(op);
  std::string err;
  auto path = o.path(&err);
  out += " (" + o.kind();
  if (path) out += " " + *path;
  out += ")";
  return out;
}

const char* goJsonType(const JsonValue& v) {
  if (v.IsString()) return "string";
  if (v.IsNumber()) return "number";
  if (v.IsBool()) return "bool";
  if (v.IsArray()) return "array";
  if (v.IsNull()) return "null";
  return "object";
}

}  // namespace

Status applyJsonPatch(JsonValue& target, const JsonValue& ops, JsonAllocator& alloc) {
  if (!ops.IsArray()) {
    return Status::invalidArgument(std::string("json patch: json: cannot unmarshal ") +
                                   goJsonType(ops) + " into Go value of type jsonpatch.Patch");
  }
  for (rapidjson::SizeType i = 0; i < ops.Size(); ++i) {
    if (!ops[i].IsObject() && !ops[i].IsNull()) {
      return Status::invalidArgument(describeOp(i, ops[i]) + ": json: cannot unmarshal " +
                                     goJsonType(ops[i]) +
                                     " into Go value of type jsonpatch.Operation");
    }
  }
  if (!target.IsObject() && !target.IsArray()) {
    return Status::invalidArgument("json patch: the target is not an object or an array");
  }
  static const JsonValue kEmptyOp(rapidjson::kObjectType);
  for (rapidjson::SizeType i = 0; i < ops.Size(); ++i) {
    // A null entry decodes to an empty operation in Go, and fails as kind "unknown".
    const JsonValue& raw = ops[i].IsNull() ? kEmptyOp : ops[i];
    Operation op(raw);
    std::string kind = op.kind();
    Err err;
    if (kind == "add") {
      err = opAdd(target, op, alloc);
    } else if (kind == "remove") {
      err = opRemove(target, op);
    } else if (kind == "replace") {
      err = opReplace(target, op, alloc);
    } else if (kind == "move") {
      err = opMove(target, op, alloc);
    } else if (kind == "copy") {
      err = opCopy(target, op, alloc);
    } else if (kind == "test") {
      err = opTest(target, op);
    } else {
      err = "Unexpected kind: " + kind;
    }
    if (err) return Status::invalidArgument(describeOp(i, raw) + ": " + *err);
  }
  return Status();
}

}  // namespace windlass::overlays
