// Commit signatures: is this commit signed by someone we trust?
//
// Two formats, as Git writes them into a commit's `gpgsig` header:
//   SSH      `git -c gpg.format=ssh commit -S`: an SSHSIG blob (OpenSSH
//            PROTOCOL.sshsig, "-----BEGIN SSH SIGNATURE-----") in namespace "git",
//            checked here with OpenSSL against an OpenSSH allowed_signers file
//            (ssh-keygen(1), "ALLOWED SIGNERS"). Keys: ssh-ed25519, ssh-rsa (with
//            rsa-sha2-256 or rsa-sha2-512 signatures, at least 1024 bits),
//            ecdsa-sha2-nistp256/384/521. Certificates and security keys (sk-*) are
//            not supported: a commit signed with one is refused, saying so.
//   OpenPGP  `git commit -S` with gpg: a detached signature checked with GPGME against
//            the public keys of a keyring file, imported into a private, temporary
//            GNUPGHOME (the user's ~/.gnupg is never read or written). Every key of the
//            keyring is trusted; expired or revoked keys are not.
//
// A commit is trusted only when its signature is valid and made by a key listed for
// the format it uses; every other case (no signature, unknown key, wrong namespace,
// content changed after signing, a format without a trust file configured) is a
// refusal with a reason, never an error. Errors are kept for what stops the check
// itself: the trust file cannot be read or does not parse, gpg cannot run, the commit
// is not in the mirror.
//
// Thread safety: every function is reentrant; verifyOpenPgp() runs gpg processes and
// may run in many threads at once (each call has its own GNUPGHOME).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sources/git.h"

namespace windlass::sources {

// `verify:` of a repository or an environment. At least one file must be set for
// verification to be on; with both, each commit is checked against the file of the
// format it is signed in.
struct VerifyConfig {
  std::string allowedSignersFile;  // `ssh.allowedSignersFile`; "" = SSH signatures refused
  std::string keyringFile;         // `openpgp.keyringFile` (armored or binary); "" = refused

  bool enabled() const { return !allowedSignersFile.empty() || !keyringFile.empty(); }
  bool operator==(const VerifyConfig&) const = default;
};

// What a check found. (reconcile::SignatureStatus kUnsigned/kValid/kInvalid; sources/
// sits below reconcile/, hence its own name.)
enum class SignatureVerdict { kUnsigned, kValid, kInvalid };

struct SignatureCheck {
  SignatureVerdict verdict = SignatureVerdict::kUnsigned;
  std::string format;  // "ssh", "openpgp", or "" when unsigned or not recognised
  // Who signed, when valid: the principals of the allowed_signers line
  // ("alice@example.com"), or the OpenPGP key's first user ID ("Bob <bob@example.com>").
  std::string signer;
  // The signing key, whenever it could be read (also for an unknown key):
  // "SHA256:<base64>" as ssh-keygen -l prints it, or the OpenPGP fingerprint (40 hex).
  std::string key;
  // Why the commit is not trusted ("" when valid), e.g. "not signed",
  // "signed by an unknown key SHA256:... (not in /etc/windlass/allowed_signers)".
  std::string reason;

  bool valid() const { return verdict == SignatureVerdict::kValid; }
  bool operator==(const SignatureCheck&) const = default;
};

// ---- SSH --------------------------------------------------------------------------

// The fields of an SSHSIG blob. Binary strings are kept as they are.
struct SshSignature {
  std::string publicKey;      // the signer's public key blob (SSH wire format)
  std::string keyType;        // the key blob's first string, e.g. "ssh-ed25519"
  std::string nameSpace;      // "git" for commits
  std::string hashAlgorithm;  // "sha256" or "sha512"
  std::string signature;      // the SSH signature blob: string type, string bytes
};

// Parses armored SSHSIG text ("-----BEGIN SSH SIGNATURE-----", base64 lines,
// "-----END SSH SIGNATURE-----"; CRLF and surrounding blank lines accepted). This
// reads untrusted input: every length is checked. InvalidArgument saying what is
// wrong ("SSH signature: bad base64", "SSH signature: version 2 is not supported").
Result<SshSignature> parseSshSignature(std::string_view armored);

// Parses the binary blob inside the armor (after base64). As parseSshSignature.
Result<SshSignature> parseSshSignatureBlob(std::string_view blob);

// One line of an allowed_signers file.
struct AllowedSigner {
  std::string principals;               // as written: "alice@example.com,*@corp.example"
  std::vector<std::string> namespaces;  // `namespaces="git,file"`; empty = any
  std::optional<int64_t> validAfter;    // `valid-after=`, seconds since the epoch (UTC)
  std::optional<int64_t> validBefore;   // `valid-before=`
  bool certAuthority = false;           // `cert-authority`: trusts certificates only
  std::string keyType;                  // "ssh-ed25519", ...
  std::string keyBlob;                  // the decoded key (SSH wire format)
  int line = 0;                         // 1-based, for messages
};

// Parses an allowed_signers file: `principals [options] keytype base64-key [comment]`
// per line; empty lines and lines starting with '#' are skipped. Options:
// cert-authority, namespaces="...", valid-after="YYYYMMDD[HHMM[SS]][Z]",
// valid-before="..." (times without Z are read as UTC here). On failure
// InvalidArgument naming the file and line: "/etc/allowed_signers:3: unknown
// option \"foo\"". Untrusted text: every field is checked.
Result<std::vector<AllowedSigner>> parseAllowedSigners(std::string_view text,
                                                       std::string_view fileName);

// "SHA256:<unpadded base64 of the SHA-256 of the blob>", as `ssh-keygen -l` prints.
std::string sshKeyFingerprint(std::string_view keyBlob);

// Checks `armored` (an SSHSIG) over `signedData` in namespace "git": the signature
// must be valid, made by a key of `signers` that allows namespace "git" and whose
// validity interval holds `time` (seconds since the epoch: the committer time).
// `source` names the signers' file in reasons. Never fails: every problem is a
// kInvalid verdict with its reason.
SignatureCheck verifySsh(std::string_view armored, std::string_view signedData, int64_t time,
                         const std::vector<AllowedSigner>& signers, std::string_view source);

// ---- OpenPGP ----------------------------------------------------------------------

// Checks the armored OpenPGP detached signature `armored` over `signedData` against
// the keys of `keyringFile` (read and imported each call into a fresh temporary
// GNUPGHOME under $TMPDIR or /tmp, removed before returning). Refusals (bad
// signature, unknown, expired or revoked key) are verdicts; errors: NotFound or
// FailedPrecondition when the keyring file cannot be read or holds no public key,
// Unavailable when gpg cannot be run.
Result<SignatureCheck> verifyOpenPgp(std::string_view armored, std::string_view signedData,
                                     const std::string& keyringFile);

// ---- Commits ----------------------------------------------------------------------

// Checks a signature (as Git stores it; "" = unsigned) over `signedData` (the commit
// object without its signature header) made at `time`, against `config`: the
// format is recognised from the armor line and checked with the file for it. Reads
// the trust file on each call (a rotated file takes effect at once). Errors: those of
// parseAllowedSigners (the file cannot be read: FailedPrecondition naming it) and of
// verifyOpenPgp; InvalidArgument when `config` enables nothing.
Result<SignatureCheck> verifySignature(std::string_view signature, std::string_view signedData,
                                       int64_t time, const VerifyConfig& config);

// verifySignature() for commit `commitId` (40 hex digits) of `mirror`: its gpgsig
// header, the rest of the commit object and its committer time. NotFound when the
// commit is not in the mirror. Reads the mirror without its lock (objects are
// immutable).
Result<SignatureCheck> verifyCommit(const GitMirror& mirror, const std::string& commitId,
                                    const VerifyConfig& config);

// "unsigned", "valid", "invalid".
const char* verdictName(SignatureVerdict verdict);

}  // namespace windlass::sources
