// libFuzzer target for SSH commit signatures (untrusted input from any commit): the
// input is read as an armored SSHSIG, as a raw SSHSIG blob and as an allowed_signers
// file. A blob that parses is also checked end to end (armored, against a signer list
// holding its own key), so the OpenSSL glue sees arbitrary keys and signatures. Every
// path must end in a value or a refusal, never a crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/base64.h"
#include "sources/signature.h"

using namespace windlass::sources;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  (void)parseSshSignature(input);
  (void)parseAllowedSigners(input, "fuzz");
  auto blob = parseSshSignatureBlob(input);
  if (blob) {
    AllowedSigner signer;
    signer.principals = "fuzz@example.com";
    signer.keyType = blob->keyType;
    signer.keyBlob = blob->publicKey;
    std::vector<AllowedSigner> signers{signer};
    std::string armored = "-----BEGIN SSH SIGNATURE-----\n" + windlass::base64Encode(input) +
                          "\n-----END SSH SIGNATURE-----\n";
    (void)verifySsh(armored, "tree 0\n\nmessage\n", 0, signers, "fuzz");
  }
  return 0;
}
