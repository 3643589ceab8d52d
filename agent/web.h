// The read-only web page: HTML rendered by the agent from what the JSON API
// serves, with its CSS and a little JavaScript compiled into the binary (no CDN,
// nothing fetched from elsewhere).
//
//   GET /                          every environment: commit (7-character id and
//                                  subject), health, drift, hold, last and next sync
//   GET /environments/{env}        its history, newest first, 50 records a page:
//       ?outcome=REASON&trigger=TRIGGER   only records with that reason / trigger
//       &before=SEQ                       records older than SEQ (the "older" link)
//                                  each record expands to its objects (with their
//                                  `diff` when the record has one), health, images
//                                  and signature; the page says whether the hash
//                                  chain verifies
//   GET /assets/style.css, /assets/app.js
//
// Every text from a record, a commit or the cluster is HTML-escaped; responses
// carry a Content-Security-Policy that allows only the page's own style and
// script, so even an escaping mistake would not run injected script. The page
// is open like the read API (no token): it shows nothing the API does not.
//
// Thread safety: as Api::handle().
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/api.h"
#include "agent/http_server.h"
#include "reconcile/history.h"

namespace windlass::agent {

// Answers `request` when its path is one of the page's (above): 200 with the
// page, 404 for an unknown environment, 405 for a method other than GET,
// 500 when the history cannot be read. nullopt for every other path.
std::optional<HttpResponse> webResponse(
    const HttpRequest& request,
    const std::function<std::vector<EnvironmentSnapshot>()>& environments,
    const reconcile::HistoryStore& history);

// `text` with & < > " ' replaced by character references: safe in element
// content and in quoted attribute values.
std::string htmlEscape(std::string_view text);

// The pages as strings, for tests. `records` are history lines as
// serializeRecord() prints them, oldest first (a field a newer agent adds, such
// as an object's "diff", is shown when present). `chain` is the result of
// HistoryStore::verify().
struct HistoryFilter {
  std::string outcome;             // a reason name, "" = any
  std::string trigger;             // a trigger name, "" = any
  std::optional<uint64_t> before;  // only records with a smaller sequence
};
std::string renderIndex(const std::vector<EnvironmentSnapshot>& environments);
std::string renderHistory(const EnvironmentSnapshot& environment,
                          const std::vector<std::string>& records, const HistoryFilter& filter,
                          const Status& chain, size_t badLines = 0);

}  // namespace windlass::agent
