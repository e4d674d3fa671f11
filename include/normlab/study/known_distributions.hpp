#pragma once
// What a relational storage (SQLite, PostgreSQL) remembers of the distributions it has read:
// each JSON text parsed once, and the first distribution stored per (study, parameter), which a
// new trial's parameter must match (Optuna's check_and_add compares with that first row).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "normlab/study/json.hpp"
#include "normlab/study/storage.hpp"

namespace normlab::study::detail {

class KnownDistributions {
 public:
  /// The distribution a `distribution_json` column holds, parsed once per distinct text.
  const search::Distribution& parse(const std::string& json) {
    auto it = parsed_.find(json);
    if (it == parsed_.end()) it = parsed_.emplace(json, distribution_from_json(json)).first;
    return it->second;
  }

  /// Throws SearchSpaceError when `added` may not be stored for `name` in the study. `first_json`
  /// is asked, at most once per (study, name) until forget(), for the JSON of the first row that
  /// stores the name (std::nullopt: none yet, so anything goes and nothing is remembered).
  template <class FirstJson>
  void check(int64_t study_id, const std::string& study_name, const std::string& name,
             const search::Distribution& added, SpaceCheck space_check, FirstJson&& first_json) {
    auto known = first_.find({study_id, name});
    if (known == first_.end()) {
      std::optional<std::string> json = first_json();
      if (!json) return;
      known = first_.emplace(std::pair{study_id, name}, std::move(*json)).first;
    }
    check_distribution_compatibility(parse(known->second), added, name, study_name, space_check);
  }

  /// Drops the remembered first rows: a rolled-back transaction may have written them, or another
  /// connection committed. Parsed texts stay (a text always parses to the same distribution).
  void forget() { first_.clear(); }

 private:
  std::map<std::string, search::Distribution> parsed_;
  std::map<std::pair<int64_t, std::string>, std::string> first_;  // (study, name) -> JSON
};

}  // namespace normlab::study::detail
