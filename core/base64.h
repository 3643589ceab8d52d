// Base64 encoding (RFC 4648).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace windlass {

// Standard alphabet with '=' padding.
std::string base64Encode(std::string_view data);

// URL-safe alphabet ('-', '_') without padding, as Go's RawURLEncoding.
std::string base64UrlEncode(std::string_view data);

// Decodes the standard alphabet. The text must be whole groups of four characters, the
// last one padded with '=' as needed; nothing else (no whitespace) is allowed. nullopt
// for anything else.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace windlass
