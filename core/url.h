// Percent-encoding for URL paths and query values.
#pragma once

#include <string>
#include <string_view>

namespace windlass {

// `s` percent-encoded, keeping only RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~).
// Pure; thread-safe.
std::string percentEncode(std::string_view s);

}  // namespace windlass
