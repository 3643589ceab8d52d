// The one way windlass includes RapidJSON (no other file includes a rapidjson/ header): with
// std::string support and with RAPIDJSON_ASSERT turned into an exception, so a type confusion on
// untrusted input can never crash or corrupt memory. Code still checks types before access; the
// exception is a safety net caught at the module edge (see JsonAssertion).
#pragma once

#include <stdexcept>

namespace windlass {
// Thrown by RAPIDJSON_ASSERT. Caught only at module edges and turned into
// Status::internal; it always means a windlass bug, never bad input.
struct JsonAssertion : std::logic_error {
  using std::logic_error::logic_error;
};
}  // namespace windlass

#ifndef RAPIDJSON_HAS_STDSTRING
#define RAPIDJSON_HAS_STDSTRING 1
#endif
#define RAPIDJSON_ASSERT(x) \
  ((x) ? (void)0 : throw ::windlass::JsonAssertion("rapidjson assertion failed: " #x))
#define RAPIDJSON_NOEXCEPT_ASSERT(x) ((void)0)

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace windlass {
using JsonAllocator = rapidjson::MemoryPoolAllocator<>;
using JsonValue = rapidjson::GenericValue<rapidjson::UTF8<>, JsonAllocator>;
using JsonDocument = rapidjson::GenericDocument<rapidjson::UTF8<>, JsonAllocator>;
}  // namespace windlass
