// Flux-style image setter markers in YAML text, for image automation with `update: git`.
// A line whose comment is a JSON object with "$imagepolicy" has its value rewritten:
//
//   image: ghcr.io/acme/web:1.0.0 # {"$imagepolicy": "web"}         whole reference
//   newTag: 1.0.0                 # {"$imagepolicy": "flux-system:web:tag"}
//   newName: ghcr.io/acme/web     # {"$imagepolicy": "web:name"}
//   digest: sha256:…              # {"$imagepolicy": "web:digest"}
//   - ghcr.io/acme/web:1.0.0      # {"$imagepolicy": "web"}         (a list item)
//
// The marker names [NAMESPACE:]POLICY[:FIELD], as Flux writes it; the namespace is ignored
// (windlass has one configuration). A marker with "$hold": "reason" is never rewritten and
// is reported as a hold. Only the value of a marked line changes (its quotes kept); every
// other byte of the text, line endings included, is kept.
//
// Thread safety: pure functions over values; reentrant.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace windlass::sources {

// What a policy chose, in the parts a marker may ask for.
struct SetterValues {
  std::string name;    // image repository, "ghcr.io/acme/web"
  std::string tag;     // "1.4.2"
  std::string digest;  // "sha256:…" or "" (not pinned)

  // The whole reference a plain marker gets: name:tag, or name@digest when pinned.
  std::string reference() const { return digest.empty() ? name + ":" + tag : name + "@" + digest; }
};

struct SetterHold {
  int line = 0;  // 1-based
  std::string policy;
  std::string reason;
};

struct SetterResult {
  std::string text;               // the new text (equal to the input when nothing changed)
  std::vector<int> changedLines;  // 1-based numbers of the lines rewritten
  std::vector<SetterHold> holds;  // markers of known policies held by "$hold"
};

// Rewrites the marked lines of `text` for the policies in `values` (policy name →
// values); markers of other policies, malformed markers and lines without a value are left
// alone. A held marker is never rewritten.
SetterResult applySetters(std::string_view text, const std::map<std::string, SetterValues>& values);

}  // namespace windlass::sources
