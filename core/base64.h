// Base64 encoding (RFC 4648).
#pragma once

#include <string>
#include <string_view>

namespace windlass {

// Standard alphabet with '=' padding.
std::string base64Encode(std::string_view data);

// URL-safe alphabet ('-', '_') without padding, as Go's RawURLEncoding.
std::string base64UrlEncode(std::string_view data);

}  // namespace windlass
