#include "core/sha256.h"

#include <doctest/doctest.h>

#include <string>

namespace windlass {

// Known answers from FIPS 180-2, appendix B.
TEST_CASE("sha256 matches the FIPS 180-2 test vectors") {
  CHECK(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256Hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("incremental updates give the one-shot digest at every block boundary") {
  std::string message;
  for (int i = 0; i < 300; ++i) message.push_back(static_cast<char>('A' + (i * 7) % 53));
  for (size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 300}) {
    std::string_view m(message.data(), len);
    Sha256Digest whole = sha256(m);
    for (size_t chunk : {1, 3, 64, 65}) {
      Sha256 h;
      for (size_t pos = 0; pos < len; pos += chunk) h.update(m.substr(pos, chunk));
      CHECK_MESSAGE(h.finish() == whole, "len=" << len << " chunk=" << chunk);
    }
  }
}

TEST_CASE("finish resets the hasher for reuse") {
  Sha256 h;
  h.update("junk");
  (void)h.finish();
  h.update("abc");
  CHECK(hexDigest(h.finish()) == sha256Hex("abc"));
  CHECK(hexDigest(h.finish()) == sha256Hex(""));
}

TEST_CASE("hexDigest prints lowercase, two digits a byte") {
  Sha256Digest d{};
  d[0] = 0x0f;
  d[31] = 0xa0;
  std::string hex = hexDigest(d);
  CHECK(hex.size() == 64);
  CHECK(hex.substr(0, 2) == "0f");
  CHECK(hex.substr(62) == "a0");
}

}  // namespace windlass
