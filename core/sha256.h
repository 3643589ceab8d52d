// SHA-256 (FIPS 180-4), written for windlass so the core needs no crypto library.
//
// Used for Kustomize's generated-name hashes and for content digests. Not for
// secrets: no constant-time guarantees are made or needed here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace windlass {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental hasher: update() any number of times, then finish() once.
//
// Not thread-safe; one instance per thread. After finish() the object is reset
// to the empty state and may be reused for a new message.
class Sha256 {
 public:
  Sha256();

  // Appends `data` to the message.
  void update(std::string_view data);
  void update(const void* data, size_t len);

  // Pads the message, returns its digest and resets the hasher.
  Sha256Digest finish();

 private:
  void reset();
  void compressBlock(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t bufferLen_ = 0;   // bytes waiting in buffer_, always < 64
  uint64_t totalLen_ = 0;  // message length in bytes so far
};

// Returns the SHA-256 digest of `data`. Thread-safe.
Sha256Digest sha256(std::string_view data);

// Returns the 64 lowercase hex characters of `digest`.
std::string hexDigest(const Sha256Digest& digest);

// Returns the lowercase hex SHA-256 of `data` (hexDigest(sha256(data))).
std::string sha256Hex(std::string_view data);

}  // namespace windlass
