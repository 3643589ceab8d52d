// Drift: whether a live object still holds what windlass applied. Pure functions
// over values, used by self-heal on every watch event, so they must be cheap and
// make no request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"

namespace windlass::reconcile {

// True when every field of `desired` (as applied) has the same value in `live`:
// mappings are compared key by key (extra keys in `live`, such as defaults and
// fields other managers own, are fine), lists element by element with equal
// length, scalars by value (numbers by numeric value, quantities by quantity). `status`,
// server-owned metadata and a Secret's `stringData` (the server folds it into `data`) are not
// compared. A difference is drift; a false one (a quantity the server normalised, "0.5" → "500m")
// costs one no-op apply and no loop, since a no-op apply produces no watch event.
bool conforms(const JsonValue& desired, const JsonValue& live);

// The value of a Kubernetes quantity ("500m", "1Gi", "1.5", "2e3"), or nullopt when
// `text` is not one. Values under resources, limits, requests, hard, capacity and the
// like compare by this value, so the server's canonical form is not drift.
std::optional<long double> parseQuantity(std::string_view text);

// The field manager that last wrote `live` other than `self` (the newest
// managedFields entry by time), or "" when there is none. Names the other side
// of a fight.
std::string lastOtherManager(const JsonValue& live, const std::string& self = "windlass");

}  // namespace windlass::reconcile
