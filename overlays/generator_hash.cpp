#include "overlays/generator_hash.h"

#include <charconv>
#include <cmath>
#include <map>

#include "core/sha256.h"

namespace windlass::overlays {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void appendUnicodeEscape(std::string& out, uint32_t code) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHexDigits[(code >> shift) & 0xf]);
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid
// (Go's utf8.DecodeRuneInString rules: no overlongs, no surrogates, <= U+10FFFF).
size_t utf8SequenceLength(std::string_view s, size_t i, uint32_t* rune) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  size_t len;
  uint32_t r;
  unsigned char lo = 0x80, hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    r = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    r = b0 & 0x0f;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    r = b0 & 0x07;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return 0;
    r = (r << 6) | (b & 0x3f);
  }
  *rune = r;
  return len;
}

// Go's encoding/json string encoding with HTML escaping on (json.Marshal's default).
// Invalid UTF-8 bytes become "\ufffd", or the literal U+FFFD when `decoded`: values
// that went through json.Unmarshal first had them replaced by that rune already.
void appendGoString(std::string& out, std::string_view s, bool decoded) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
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
        case '<':
        case '>':
        case '&':
          appendUnicodeEscape(out, c);
          break;
        default:
          if (c < 0x20) {
            appendUnicodeEscape(out, c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    uint32_t rune = 0;
    size_t len = utf8SequenceLength(s, i, &rune);
    if (len == 0) {
      out += decoded ? "\xef\xbf\xbd" : "\\ufffd";  // Go replaces each invalid byte
      ++i;
    } else if (rune == 0x2028 || rune == 0x2029) {
      appendUnicodeEscape(out, rune);
      i += len;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  out.push_back('"');
}

// Go's float64 formatting in encoding/json: shortest round-trip digits, fixed
// notation for 1e-6 <= |x| < 1e21, otherwise exponent form with "e-7" not "e-07".
void appendGoFloat(std::string& out, double x) {
  if (!std::isfinite(x)) {  // not produced by a JSON parser; Go would refuse to encode
    out += "null";
    return;
  }
  char buf[64];
  double ax = std::fabs(x);
  bool exponent = ax != 0 && (ax < 1e-6 || ax >= 1e21);
  auto res = std::to_chars(buf, buf + sizeof buf, x,
                           exponent ? std::chars_format::scientific : std::chars_format::fixed);
  std::string text(buf, res.ptr);
  if (exponent) {
    size_t n = text.size();
    if (n >= 4 && text[n - 4] == 'e' && text[n - 3] == '-' && text[n - 2] == '0') {
      text.erase(n - 2, 1);
    }
  }
  out += text;
}

void appendGoJson(std::string& out, const JsonValue& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out += "null";
      return;
    case rapidjson::kFalseType:
      out += "false";
      return;
    case rapidjson::kTrueType:
      out += "true";
      return;
    case rapidjson::kStringType:
      appendGoString(out, std::string_view(v.GetString(), v.GetStringLength()), true);
      return;
    case rapidjson::kNumberType:
      // json.Unmarshal into interface{} makes every number a float64.
      if (v.IsInt64() && std::llabs(v.GetInt64()) < (int64_t{1} << 53)) {
        out += std::to_string(v.GetInt64());
      } else {
        appendGoFloat(out, v.GetDouble());
      }
      return;
    case rapidjson::kArrayType: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.GetArray()) {
        if (!first) out.push_back(',');
        first = false;
        appendGoJson(out, e);
      }
      out.push_back(']');
      return;
    }
    case rapidjson::kObjectType: {
      std::map<std::string_view, const JsonValue*> sorted;  // bytewise, like Go's sort
      for (const auto& m : v.GetObject()) {
        sorted[std::string_view(m.name.GetString(), m.name.GetStringLength())] = &m.value;
      }
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : sorted) {
        if (!first) out.push_back(',');
        first = false;
        appendGoString(out, key, true);
        out.push_back(':');
        appendGoJson(out, *value);
      }
      out.push_back('}');
      return;
    }
  }
}

// How Kustomize's getNodeValues reads one top-level field.
enum class FieldShape { kMissing, kMap, kScalar, kOther };

struct FieldValue {
  FieldShape shape = FieldShape::kMissing;
  const JsonValue* value = nullptr;
};

FieldValue readField(const JsonValue& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return {};
  const JsonValue& v = it->value;
  if (v.IsObject()) return {FieldShape::kMap, &v};
  if (v.IsArray()) return {FieldShape::kOther, &v};
  return {FieldShape::kScalar, &v};
}

// The value Kustomize puts in its map for a field, as JSON text.
std::string encodeField(const FieldValue& f) {
  std::string out;
  switch (f.shape) {
    case FieldShape::kMissing:
      out = "\"\"";
      break;
    case FieldShape::kMap:
      appendGoJson(out, *f.value);
      break;
    case FieldShape::kOther:
      // A sequence does not unmarshal into a map; Kustomize then encodes a nil map.
      out = "null";
      break;
    case FieldShape::kScalar: {
      // The YAML scalar's text, as a string.
      const JsonValue& v = *f.value;
      std::string text;
      if (v.IsString()) {
        text.assign(v.GetString(), v.GetStringLength());
      } else if (v.IsBool()) {
        text = v.GetBool() ? "true" : "false";
      } else if (v.IsNumber()) {
        appendGoJson(text, v);
      }  // null reads as ""
      appendGoString(out, text, false);
      break;
    }
  }
  return out;
}

}  // namespace

std::string goJsonMarshal(const JsonValue& value) {
  std::string out;
  appendGoJson(out, value);
  return out;
}

Result<std::string> generatorHashInput(const JsonValue& obj) {
  if (!obj.IsObject()) {
    return Status::invalidArgument("generator hash: the object is not a map");
  }
  auto kindIt = obj.FindMember("kind");
  std::string_view kind;
  if (kindIt != obj.MemberEnd() && kindIt->value.IsString()) {
    kind = std::string_view(kindIt->value.GetString(), kindIt->value.GetStringLength());
  }
  // Keys in sorted order, as json.Marshal writes a Go map.
  std::string out = "{";
  if (kind == "ConfigMap") {
    FieldValue binaryData = readField(obj, "binaryData");
    if (binaryData.shape == FieldShape::kMap || binaryData.shape == FieldShape::kOther) {
      out += "\"binaryData\":" + encodeField(binaryData) + ",";
    }
    out += "\"data\":" + encodeField(readField(obj, "data"));
    out += ",\"kind\":\"ConfigMap\",\"name\":\"\"}";
  } else if (kind == "Secret") {
    out += "\"data\":" + encodeField(readField(obj, "data"));
    out += ",\"kind\":\"Secret\",\"name\":\"\"";
    FieldValue stringData = readField(obj, "stringData");
    if (stringData.shape == FieldShape::kMap || stringData.shape == FieldShape::kOther) {
      out += ",\"stringData\":" + encodeField(stringData);
    }
    out += ",\"type\":" + encodeField(readField(obj, "type")) + "}";
  } else {
    return Status::invalidArgument("generator hash: kind \"" + std::string(kind) +
                                   "\" is not ConfigMap or Secret");
  }
  return out;
}

Result<std::string> encodeHashSuffix(std::string_view hex) {
  if (hex.size() < 10) {
    return Status::invalidArgument("generator hash: input length must be at least 10");
  }
  std::string out(hex.substr(0, 10));
  for (char& c : out) {
    switch (c) {
      case '0':
        c = 'g';
        break;
      case '1':
        c = 'h';
        break;
      case '3':
        c = 'k';
        break;
      case 'a':
        c = 'm';
        break;
      case 'e':
        c = 't';
        break;
      default:
        break;
    }
  }
  return out;
}

Result<std::string> generatorHash(const JsonValue& configMapOrSecret) {
  auto input = generatorHashInput(configMapOrSecret);
  if (!input) return input.error();
  return encodeHashSuffix(sha256Hex(*input));
}

}  // namespace windlass::overlays
