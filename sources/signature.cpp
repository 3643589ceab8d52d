#include "sources/signature.h"

#include <gpgme.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdlib.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "core/base64.h"
#include "core/sha256.h"

namespace windlass::sources {

namespace {

constexpr std::string_view kSshBegin = "-----BEGIN SSH SIGNATURE-----";
constexpr std::string_view kSshEnd = "-----END SSH SIGNATURE-----";
constexpr std::string_view kPgpBegin = "-----BEGIN PGP SIGNATURE-----";
constexpr std::string_view kMagic = "SSHSIG";
constexpr std::string_view kNamespace = "git";
// Far beyond any real signature (an RSA-16384 SSHSIG is about 5 KiB armored).
constexpr size_t kMaxSignatureBytes = 64 * 1024;
constexpr size_t kMaxTrustFileBytes = 16 * 1024 * 1024;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

// Reads the SSH wire encoding (RFC 4251): uint32 and length-prefixed strings.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool u32(uint32_t* out) {
    if (data_.size() < 4) return false;
    auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(data_[i])); };
    *out = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
    data_.remove_prefix(4);
    return true;
  }

  bool string(std::string_view* out) {
    uint32_t n = 0;
    if (!u32(&n) || n > data_.size()) return false;
    *out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }

  // An mpint that must be positive (no sign bit set).
  bool positiveMpint(std::string_view* out) {
    if (!string(out)) return false;
    return !out->empty() && (static_cast<uint8_t>(out->front()) & 0x80) == 0;
  }

  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

void putString(std::string& out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out += s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// The first line of `text` that is not blank, trimmed.
std::string_view firstLine(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    if (!line.empty()) return line;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return {};
}

Result<std::string> readTrustFile(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return Status::notFound(path + ": cannot read: " + ec.message());
    }
    return Status::failedPrecondition(path + ": cannot read: " + ec.message());
  }
  if (size > kMaxTrustFileBytes) {
    return Status::failedPrecondition(path + ": too large (" + std::to_string(size) + " bytes)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::failedPrecondition(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- SSH signature verification ---------------------------------------------------

const EVP_MD* hashNamed(std::string_view name) {
  if (name == "sha256") return EVP_sha256();
  if (name == "sha512") return EVP_sha512();
  return nullptr;
}

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), n);
}

BignumPtr bignum(std::string_view bytes) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
}

PkeyPtr keyFromParams(const char* algorithm, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return PkeyPtr(raw);
}

// True when `signature` is `key`'s signature of `data` (md null for Ed25519).
bool evpVerify(EVP_PKEY* key, const EVP_MD* md, std::string_view signature, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

// Checks the SSH signature blob `sigBlob` of `data` by the key `keyBlob`. Ok, or
// InvalidArgument saying what is wrong (unsupported types are Unimplemented).
Status verifyKeySignature(std::string_view keyBlob, std::string_view sigBlob,
                          std::string_view data) {
  WireReader key(keyBlob);
  WireReader sig(sigBlob);
  std::string_view keyType, sigType, sigBytes;
  if (!key.string(&keyType)) return Status::invalidArgument("malformed public key");
  if (!sig.string(&sigType) || !sig.string(&sigBytes) || !sig.done()) {
    return Status::invalidArgument("malformed signature blob");
  }
  auto mismatch = [&] {
    return Status::invalidArgument("signature type \"" + std::string(sigType) +
                                   "\" does not fit a " + std::string(keyType) + " key");
  };
  auto bad = [] { return Status::invalidArgument("the signature does not match"); };

  if (keyType == "ssh-ed25519") {
    std::string_view pk;
    if (!key.string(&pk) || pk.size() != 32 || !key.done()) {
      return Status::invalidArgument("malformed ssh-ed25519 key");
    }
    if (sigType != "ssh-ed25519") return mismatch();
    if (sigBytes.size() != 64) return Status::invalidArgument("malformed ssh-ed25519 signature");
    PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(pk.data()), pk.size()));
    if (pkey == nullptr) return Status::invalidArgument("malformed ssh-ed25519 key");
    return evpVerify(pkey.get(), nullptr, sigBytes, data) ? Status() : bad();
  }

  if (keyType == "ssh-rsa") {
    std::string_view e, n;
    if (!key.positiveMpint(&e) || !key.positiveMpint(&n) || !key.done()) {
      return Status::invalidArgument("malformed ssh-rsa key");
    }
    const EVP_MD* md = sigType == "rsa-sha2-256"   ? EVP_sha256()
                       : sigType == "rsa-sha2-512" ? EVP_sha512()
                                                   : nullptr;
    if (md == nullptr) {
      return sigType == "ssh-rsa"
                 ? Status::invalidArgument("ssh-rsa (SHA-1) signatures are not accepted")
                 : mismatch();
    }
    BignumPtr bn(bignum(n)), be(bignum(e));
    if (bn == nullptr || be == nullptr) return Status::invalidArgument("malformed ssh-rsa key");
    int bits = BN_num_bits(bn.get());
    if (bits < 1024) {
      return Status::invalidArgument("ssh-rsa key of " + std::to_string(bits) +
                                     " bits is too small (at least 1024)");
    }
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get()) != 1) {
      return Status::internal("cannot build an RSA key");
    }
    PkeyPtr pkey = keyFromParams("RSA", bld.get());
    if (pkey == nullptr) return Status::invalidArgument("malformed ssh-rsa key");
    size_t size = static_cast<size_t>(EVP_PKEY_get_size(pkey.get()));
    if (sigBytes.size() > size) return bad();
    std::string padded(size - sigBytes.size(), '\0');  // OpenSSH accepts a short signature
    padded += sigBytes;
    return evpVerify(pkey.get(), md, padded, data) ? Status() : bad();
  }

  struct Curve {
    std::string_view keyType, id;
    const char* group;
    const EVP_MD* (*md)();
  };
  static const Curve kCurves[] = {
      {"ecdsa-sha2-nistp256", "nistp256", "P-256", EVP_sha256},
      {"ecdsa-sha2-nistp384", "nistp384", "P-384", EVP_sha384},
      {"ecdsa-sha2-nistp521", "nistp521", "P-521", EVP_sha512},
  };
  for (const Curve& curve : kCurves) {
    if (keyType != curve.keyType) continue;
    std::string_view id, q;
    if (!key.string(&id) || id != curve.id || !key.string(&q) || q.empty() || !key.done()) {
      return Status::invalidArgument("malformed " + std::string(keyType) + " key");
    }
    if (sigType != keyType) return mismatch();
    WireReader rs(sigBytes);
    std::string_view r, s;
    if (!rs.positiveMpint(&r) || !rs.positiveMpint(&s) || !rs.done()) {
      return Status::invalidArgument("malformed " + std::string(keyType) + " signature");
    }
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (bld == nullptr ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.group, 0) !=
            1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, q.data(), q.size()) !=
            1) {
      return Status::internal("cannot build an EC key");
    }
    PkeyPtr pkey = keyFromParams("EC", bld.get());
    if (pkey == nullptr)
      return Status::invalidArgument("malformed " + std::string(keyType) + " key");
    EcdsaSigPtr ecdsa(ECDSA_SIG_new());
    BignumPtr br(bignum(r)), bs(bignum(s));
    if (ecdsa == nullptr || br == nullptr || bs == nullptr ||
        ECDSA_SIG_set0(ecdsa.get(), br.get(), bs.get()) != 1) {
      return Status::internal("cannot build an ECDSA signature");
    }
    (void)br.release();  // owned by ecdsa now
    (void)bs.release();
    unsigned char* der = nullptr;
    int derLen = i2d_ECDSA_SIG(ecdsa.get(), &der);
    if (derLen <= 0) return Status::internal("cannot encode an ECDSA signature");
    std::string derSig(reinterpret_cast<const char*>(der), static_cast<size_t>(derLen));
    OPENSSL_free(der);
    return evpVerify(pkey.get(), curve.md(), derSig, data) ? Status() : bad();
  }
  return Status::unimplemented("key type \"" + std::string(keyType) + "\" is not supported");
}

// OpenSSH's match_pattern: '*' any run, '?' any one character.
bool globMatch(std::string_view text, std::string_view pattern) {
  size_t t = 0, p = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++t;
      ++p;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// A comma list of patterns, each possibly negated with '!': a negated match refuses.
bool namespaceAllowed(const std::vector<std::string>& patterns, std::string_view name) {
  if (patterns.empty()) return true;
  bool allowed = false;
  for (const std::string& pattern : patterns) {
    if (pattern.starts_with("!")) {
      if (globMatch(name, std::string_view(pattern).substr(1))) return false;
    } else if (globMatch(name, pattern)) {
      allowed = true;
    }
  }
  return allowed;
}

std::string formatUtc(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "YYYYMMDD[HHMM[SS]][Z]" as UTC seconds, or nullopt.
std::optional<int64_t> parseSignerTime(std::string_view s) {
  if (s.ends_with("Z")) s.remove_suffix(1);
  if (s.size() != 8 && s.size() != 12 && s.size() != 14) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  if (s.size() >= 12) {
    tm.tm_hour = num(8, 2);
    tm.tm_min = num(10, 2);
  }
  if (s.size() == 14) tm.tm_sec = num(12, 2);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 59) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm));
}

bool isKeyType(std::string_view s) {
  return s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-");
}

// ---- GPGME ------------------------------------------------------------------------

using GpgCtxPtr = std::unique_ptr<gpgme_context, Deleter<gpgme_context, gpgme_release>>;
using GpgDataPtr = std::unique_ptr<gpgme_data, Deleter<gpgme_data, gpgme_data_release>>;
using GpgKeyPtr = std::unique_ptr<_gpgme_key, Deleter<_gpgme_key, gpgme_key_unref>>;

std::string gpgError(gpgme_error_t err) { return gpgme_strerror(err); }

GpgDataPtr gpgData(std::string_view bytes) {
  gpgme_data_t raw = nullptr;
  if (gpgme_data_new_from_mem(&raw, bytes.data(), bytes.size(), 1) != 0) return nullptr;
  return GpgDataPtr(raw);
}

// A private GNUPGHOME, removed with everything in it.
class TempHome {
 public:
  static Result<TempHome> make() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/windlass-gnupg-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Status::unavailable("cannot create a temporary GNUPGHOME " + pattern + ": " +
                                 std::strerror(errno));
    }
    TempHome home(pattern);
    // Importing public keys would start a gpg-agent that outlives the folder.
    std::ofstream conf(pattern + "/gpg.conf");
    conf << "no-autostart\n";
    if (!conf.flush()) {
      return Status::unavailable("cannot write " + pattern + "/gpg.conf: " + std::strerror(errno));
    }
    return home;
  }
  TempHome(TempHome&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempHome& operator=(TempHome&&) = delete;
  ~TempHome() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempHome(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace

// ---- SSH: parsing -------------------------------------------------------------------

Result<SshSignature> parseSshSignatureBlob(std::string_view blob) {
  auto bad = [](std::string_view what) {
    return Status::invalidArgument("SSH signature: " + std::string(what));
  };
  if (!blob.starts_with(kMagic)) return bad("no SSHSIG preamble");
  WireReader r(blob.substr(kMagic.size()));
  uint32_t version = 0;
  if (!r.u32(&version)) return bad("truncated");
  if (version != 1) return bad("version " + std::to_string(version) + " is not supported");
  std::string_view publicKey, ns, reserved, hash, signature;
  if (!r.string(&publicKey) || !r.string(&ns) || !r.string(&reserved) || !r.string(&hash) ||
      !r.string(&signature)) {
    return bad("truncated");
  }
  if (!r.done()) return bad("trailing bytes after the signature");
  std::string_view keyType;
  if (!WireReader(publicKey).string(&keyType) || keyType.empty())
    return bad("malformed public key");
  SshSignature out;
  out.publicKey = publicKey;
  out.keyType = keyType;
  out.nameSpace = ns;
  out.hashAlgorithm = hash;
  out.signature = signature;
  return out;
}

Result<SshSignature> parseSshSignature(std::string_view armored) {
  auto bad = [](std::string_view what) {
    return Status::invalidArgument("SSH signature: " + std::string(what));
  };
  if (armored.size() > kMaxSignatureBytes) return bad("too large");
  std::string base64;
  enum { kBefore, kInside, kAfter } state = kBefore;
  while (!armored.empty()) {
    size_t nl = armored.find('\n');
    std::string_view line = trim(armored.substr(0, nl));
    armored.remove_prefix(nl == std::string_view::npos ? armored.size() : nl + 1);
    if (state == kBefore) {
      if (line.empty()) continue;
      if (line != kSshBegin) return bad("no \"" + std::string(kSshBegin) + "\" line");
      state = kInside;
    } else if (state == kInside) {
      if (line == kSshEnd) {
        state = kAfter;
        continue;
      }
      base64 += line;
    } else if (!line.empty()) {
      return bad("text after the end line");
    }
  }
  if (state != kAfter) return bad("no \"" + std::string(kSshEnd) + "\" line");
  auto blob = base64Decode(base64);
  if (!blob) return bad("bad base64");
  return parseSshSignatureBlob(*blob);
}

Result<std::vector<AllowedSigner>> parseAllowedSigners(std::string_view text,
                                                       std::string_view fileName) {
  std::vector<AllowedSigner> out;
  int lineNumber = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++lineNumber;
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](const std::string& what) {
      return Status::invalidArgument(std::string(fileName) + ":" + std::to_string(lineNumber) +
                                     ": " + what);
    };
    // Splits off the next field: up to whitespace that is not inside double quotes.
    auto next = [&line]() -> std::string_view {
      line = trim(line);
      bool quoted = false;
      size_t i = 0;
      for (; i < line.size(); ++i) {
        if (line[i] == '"') quoted = !quoted;
        if (!quoted && (line[i] == ' ' || line[i] == '\t')) break;
      }
      std::string_view field = line.substr(0, i);
      line.remove_prefix(i);
      return field;
    };
    AllowedSigner signer;
    signer.line = lineNumber;
    signer.principals = next();
    std::string_view field = next();
    if (field.empty()) return fail("no key after the principals");
    if (!isKeyType(field)) {
      // Options: a comma list, values in double quotes (which may hold commas).
      std::string_view options = field;
      while (!options.empty()) {
        bool quoted = false;
        size_t i = 0;
        for (; i < options.size(); ++i) {
          if (options[i] == '"') quoted = !quoted;
          if (!quoted && options[i] == ',') break;
        }
        if (quoted) return fail("unterminated quote in the options");
        std::string_view option = options.substr(0, i);
        options.remove_prefix(i == options.size() ? i : i + 1);
        size_t eq = option.find('=');
        std::string_view name = option.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? "" : option.substr(eq + 1);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        std::string lower(name);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "cert-authority" && eq == std::string_view::npos) {
          signer.certAuthority = true;
        } else if (lower == "namespaces" && eq != std::string_view::npos) {
          while (true) {
            size_t comma = value.find(',');
            std::string_view ns = trim(value.substr(0, comma));
            if (ns.empty()) return fail("empty name in namespaces=");
            signer.namespaces.emplace_back(ns);
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
          }
        } else if ((lower == "valid-after" || lower == "valid-before") &&
                   eq != std::string_view::npos) {
          auto t = parseSignerTime(value);
          if (!t) {
            return fail("bad time \"" + std::string(value) + "\" in " + lower +
                        "= (YYYYMMDD[HHMM[SS]][Z])");
          }
          (lower == "valid-after" ? signer.validAfter : signer.validBefore) = *t;
        } else {
          return fail("unknown option \"" + std::string(option) + "\"");
        }
      }
      field = next();
      if (field.empty()) return fail("no key after the options");
    }
    if (!isKeyType(field)) return fail("unknown key type \"" + std::string(field) + "\"");
    signer.keyType = field;
    std::string_view key = next();
    if (key.empty()) return fail("no key after \"" + signer.keyType + "\"");
    auto blob = base64Decode(key);
    std::string_view blobType;
    if (!blob || !WireReader(*blob).string(&blobType)) return fail("the key is not valid base64");
    if (blobType != signer.keyType) {
      return fail("the key is a \"" + std::string(blobType) + "\" key, not \"" + signer.keyType +
                  "\"");
    }
    signer.keyBlob = std::move(*blob);
    out.push_back(std::move(signer));
  }
  return out;
}

std::string sshKeyFingerprint(std::string_view keyBlob) {
  Sha256Digest d = sha256(keyBlob);
  std::string b64 =
      base64Encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

// ---- SSH: verification ---------------------------------------------------------------

SignatureCheck verifySsh(std::string_view armored, std::string_view signedData, int64_t time,
                         const std::vector<AllowedSigner>& signers, std::string_view source) {
  SignatureCheck check;
  check.verdict = SignatureVerdict::kInvalid;
  check.format = "ssh";
  auto parsed = parseSshSignature(armored);
  if (!parsed) {
    check.reason = "malformed signature: " + parsed.error().message();
    return check;
  }
  const SshSignature& sig = *parsed;
  check.key = sshKeyFingerprint(sig.publicKey);
  if (sig.nameSpace != kNamespace) {
    check.reason = "signed for namespace \"" + sig.nameSpace + "\", not \"git\"";
    return check;
  }
  const EVP_MD* md = hashNamed(sig.hashAlgorithm);
  if (md == nullptr) {
    check.reason = "unsupported hash algorithm \"" + sig.hashAlgorithm + "\"";
    return check;
  }
  const AllowedSigner* match = nullptr;
  std::string refusal;
  for (const AllowedSigner& s : signers) {
    if (s.certAuthority || s.keyBlob != sig.publicKey) continue;
    std::string where = std::string(source) + ":" + std::to_string(s.line);
    if (!namespaceAllowed(s.namespaces, kNamespace)) {
      refusal =
          "key " + check.key + " is not allowed to sign Git commits (namespaces= at " + where + ")";
    } else if (s.validAfter && time < *s.validAfter) {
      refusal = "key " + check.key + " is not valid before " + formatUtc(*s.validAfter) +
                " (valid-after at " + where + "); the commit is from " + formatUtc(time);
    } else if (s.validBefore && time >= *s.validBefore) {
      refusal = "key " + check.key + " expired at " + formatUtc(*s.validBefore) +
                " (valid-before at " + where + "); the commit is from " + formatUtc(time);
    } else {
      match = &s;
      break;
    }
  }
  if (match == nullptr) {
    check.reason = !refusal.empty() ? refusal
                                    : "signed by an unknown key " + check.key + " (" + sig.keyType +
                                          ", not in " + std::string(source) + ")";
    return check;
  }
  // What the key signed: the preamble, the namespace, the hash and H(message).
  std::string toVerify(kMagic);
  putString(toVerify, sig.nameSpace);
  putString(toVerify, "");
  putString(toVerify, sig.hashAlgorithm);
  putString(toVerify, digest(md, signedData));
  Status st = verifyKeySignature(sig.publicKey, sig.signature, toVerify);
  if (!st.ok()) {
    check.reason = st.code() == Code::kUnimplemented
                       ? st.message()
                       : "bad signature by " + check.key + ": " + st.message() +
                             " (the commit changed after signing, or the signature is forged)";
    return check;
  }
  check.verdict = SignatureVerdict::kValid;
  check.signer = match->principals;
  return check;
}

// ---- OpenPGP ---------------------------------------------------------------------------

Result<SignatureCheck> verifyOpenPgp(std::string_view armored, std::string_view signedData,
                                     const std::string& keyringFile) {
  static std::once_flag once;
  std::call_once(once, [] { gpgme_check_version(nullptr); });
  auto keyring = readTrustFile(keyringFile);
  if (!keyring) return keyring.error();
  if (gpgme_error_t err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP); err != 0) {
    return Status::unavailable("OpenPGP: gpg cannot be used: " + gpgError(err));
  }
  auto home = TempHome::make();
  if (!home) return home.error();

  gpgme_ctx_t rawCtx = nullptr;
  if (gpgme_error_t err = gpgme_new(&rawCtx); err != 0) {
    return Status::unavailable("OpenPGP: " + gpgError(err));
  }
  GpgCtxPtr ctx(rawCtx);
  if (gpgme_error_t err = gpgme_ctx_set_engine_info(ctx.get(), GPGME_PROTOCOL_OpenPGP, nullptr,
                                                    home->path().c_str());
      err != 0) {
    return Status::unavailable("OpenPGP: cannot use GNUPGHOME " + home->path() + ": " +
                               gpgError(err));
  }
  gpgme_set_protocol(ctx.get(), GPGME_PROTOCOL_OpenPGP);
  gpgme_set_offline(ctx.get(), 1);  // never fetch keys from anywhere

  GpgDataPtr keys = gpgData(*keyring);
  if (keys == nullptr) return Status::resourceExhausted("OpenPGP: out of memory");
  if (gpgme_error_t err = gpgme_op_import(ctx.get(), keys.get()); err != 0) {
    return Status::failedPrecondition(keyringFile + ": cannot import: " + gpgError(err));
  }
  gpgme_import_result_t imported = gpgme_op_import_result(ctx.get());
  if (imported == nullptr || imported->imported + imported->unchanged == 0) {
    return Status::failedPrecondition(keyringFile + ": holds no OpenPGP public key");
  }

  SignatureCheck check;
  check.verdict = SignatureVerdict::kInvalid;
  check.format = "openpgp";
  GpgDataPtr sig = gpgData(armored);
  GpgDataPtr text = gpgData(signedData);
  if (sig == nullptr || text == nullptr) return Status::resourceExhausted("OpenPGP: out of memory");
  gpgme_error_t err = gpgme_op_verify(ctx.get(), sig.get(), text.get(), nullptr);
  gpgme_verify_result_t result = gpgme_op_verify_result(ctx.get());
  if (err != 0 || result == nullptr || result->signatures == nullptr) {
    check.reason = "malformed signature: " + (err != 0 ? gpgError(err) : std::string("none found"));
    return check;
  }
  for (gpgme_signature_t s = result->signatures; s != nullptr; s = s->next) {
    std::string key = s->fpr != nullptr ? s->fpr : "";
    if (check.key.empty()) check.key = key;
    gpgme_err_code_t code = gpgme_err_code(s->status);
    if (code == GPG_ERR_NO_ERROR && (s->summary & GPGME_SIGSUM_RED) == 0) {
      gpgme_key_t rawKey = nullptr;
      if (gpgme_get_key(ctx.get(), key.c_str(), &rawKey, 0) == 0) {
        GpgKeyPtr k(rawKey);
        if (k->fpr != nullptr) key = k->fpr;
        if (check.signer.empty() && k->uids != nullptr && k->uids->uid != nullptr) {
          check.signer = k->uids->uid;
        }
      }
      if (check.signer.empty()) check.signer = key;
      check.key = key;
      continue;
    }
    if (code == GPG_ERR_NO_PUBKEY) {
      check.reason = "signed by an unknown key " + key + " (not in " + keyringFile + ")";
    } else if (code == GPG_ERR_BAD_SIGNATURE) {
      check.reason = "bad signature by " + key +
                     " (the commit changed after signing, or the signature is forged)";
    } else {
      check.reason = "signature by " + key + " not accepted: " + gpgError(s->status);
    }
    check.signer.clear();
    check.key = key;
    return check;
  }
  check.verdict = SignatureVerdict::kValid;
  return check;
}

// ---- Commits ---------------------------------------------------------------------------

Result<SignatureCheck> verifySignature(std::string_view signature, std::string_view signedData,
                                       int64_t time, const VerifyConfig& config) {
  if (!config.enabled()) {
    return Status::invalidArgument("signature check: no allowedSignersFile or keyringFile");
  }
  SignatureCheck check;
  if (trim(signature).empty()) {
    check.verdict = SignatureVerdict::kUnsigned;
    check.reason = "not signed";
    return check;
  }
  std::string_view begin = firstLine(signature);
  if (begin == kSshBegin) {
    if (config.allowedSignersFile.empty()) {
      check.verdict = SignatureVerdict::kInvalid;
      check.format = "ssh";
      check.reason = "signed with SSH, but no ssh.allowedSignersFile is configured";
      return check;
    }
    auto text = readTrustFile(config.allowedSignersFile);
    if (!text) return text.error();
    auto signers = parseAllowedSigners(*text, config.allowedSignersFile);
    if (!signers) return signers.error();
    return verifySsh(signature, signedData, time, *signers, config.allowedSignersFile);
  }
  if (begin == kPgpBegin) {
    if (config.keyringFile.empty()) {
      check.verdict = SignatureVerdict::kInvalid;
      check.format = "openpgp";
      check.reason = "signed with OpenPGP, but no openpgp.keyringFile is configured";
      return check;
    }
    return verifyOpenPgp(signature, signedData, config.keyringFile);
  }
  check.verdict = SignatureVerdict::kInvalid;
  std::string shown(begin.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  check.reason = "signed in an unsupported format (\"" + shown + "\")";
  return check;
}

Result<SignatureCheck> verifyCommit(const GitMirror& mirror, const std::string& commitId,
                                    const VerifyConfig& config) {
  auto commit = mirror.signedCommit(commitId);
  if (!commit) return commit.error();
  auto check = verifySignature(commit->signature, commit->signedData, commit->time, config);
  if (!check) return check.error().withContext("commit " + commitId);
  return check;
}

const char* verdictName(SignatureVerdict verdict) {
  switch (verdict) {
    case SignatureVerdict::kUnsigned:
      return "unsigned";
    case SignatureVerdict::kValid:
      return "valid";
    case SignatureVerdict::kInvalid:
      return "invalid";
  }
  return "invalid";
}

}  // namespace windlass::sources
