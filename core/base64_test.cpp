#include "core/base64.h"

#include <doctest/doctest.h>

namespace windlass {

TEST_CASE("base64 test vectors of RFC 4648") {
  CHECK(base64Encode("") == "");
  CHECK(base64Encode("f") == "Zg==");
  CHECK(base64Encode("fo") == "Zm8=");
  CHECK(base64Encode("foo") == "Zm9v");
  CHECK(base64Encode("foob") == "Zm9vYg==");
  CHECK(base64Encode("fooba") == "Zm9vYmE=");
  CHECK(base64Encode("foobar") == "Zm9vYmFy");
  CHECK(base64UrlEncode("\xfb\xff") == "-_8");
  CHECK(base64Encode("\xfb\xff") == "+/8=");
}

}  // namespace windlass
