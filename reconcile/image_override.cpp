#include "reconcile/image_override.h"

#include <functional>
#include <string_view>

#include "sources/registry.h"

namespace windlass::reconcile {

std::string imageRepositoryOf(const std::string& reference) {
  std::string name = reference;
  size_t at = name.find('@');
  if (at != std::string::npos) name.erase(at);
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    name.erase(colon);
  }
  auto repo = sources::parseImageRepository(name);
  if (!repo) return "";
  return repo->display();
}

size_t applyImageOverrides(std::vector<JsonValue>& objects,
                           const std::vector<ImageOverride>& overrides, JsonAllocator& alloc) {
  if (overrides.empty()) return 0;
  size_t changed = 0;
  auto fix = [&](JsonValue& container) {
    if (!container.IsObject()) return;
    auto it = container.FindMember("image");
    if (it == container.MemberEnd() || !it->value.IsString()) return;
    std::string image(it->value.GetString(), it->value.GetStringLength());
    std::string repo = imageRepositoryOf(image);
    if (repo.empty()) return;
    for (const ImageOverride& o : overrides) {
      if (o.repository != repo) continue;
      if (image != o.reference) {
        it->value.SetString(o.reference.data(),
                            static_cast<rapidjson::SizeType>(o.reference.size()), alloc);
        ++changed;
      }
      return;
    }
  };
  std::function<void(JsonValue&)> walk = [&](JsonValue& v) {
    if (v.IsObject()) {
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        std::string_view k(it->name.GetString(), it->name.GetStringLength());
        if ((k == "containers" || k == "initContainers") && it->value.IsArray()) {
          for (JsonValue& c : it->value.GetArray()) fix(c);
        }
        walk(it->value);
      }
    } else if (v.IsArray()) {
      for (JsonValue& e : v.GetArray()) walk(e);
    }
  };
  for (JsonValue& o : objects) walk(o);
  return changed;
}

}  // namespace windlass::reconcile
