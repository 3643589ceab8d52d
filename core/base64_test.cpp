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

TEST_CASE("base64Decode reads what base64Encode writes and refuses the rest") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    CHECK(base64Decode(base64Encode(s)) == s);
  }
  std::string binary("\xfb\xff\x00", 3);
  CHECK(base64Decode(base64Encode(binary)) == binary);
  CHECK(base64Decode("Zm9vYmFy") == "foobar");
  CHECK(base64Decode("+/8=") == "\xfb\xff");
  CHECK_FALSE(base64Decode("Zm9").has_value());       // not whole groups
  CHECK_FALSE(base64Decode("Zm9v\n").has_value());    // whitespace
  CHECK_FALSE(base64Decode("Zm=v").has_value());      // '=' inside
  CHECK_FALSE(base64Decode("Zm8=Zm8=").has_value());  // padding before the end
  CHECK_FALSE(base64Decode("Zm9=").has_value());      // bits under the padding
  CHECK_FALSE(base64Decode("Z-9v").has_value());      // URL alphabet
}

}  // namespace windlass
