#pragma once
// open_storage(url): the storage a URL names, with the URLs Optuna (SQLAlchemy) accepts for
// SQLite, so the notebook's `storage="sqlite:///optuna-MNIST.sqlite3"` works as is. No LibTorch.

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "normlab/study/memory_storage.hpp"
#include "normlab/study/sqlite_storage.hpp"

namespace normlab::study {

/// The storage for `url`:
/// - `""` or `":memory:"`: a new InMemoryStorage (Optuna's default, storage=None);
/// - `"sqlite:///relative/path.db"`: an SqliteStorage on a path relative to the working directory;
/// - `"sqlite:////absolute/path.db"`: an absolute path (four slashes, as in SQLAlchemy);
/// - `"sqlite:///:memory:"`: an SqliteStorage in a private in-memory SQLite database.
/// @param schema the Optuna schema revision of a new SQLite file (see SqliteStorage)
/// @param must_exist refuse (NotFoundError) an SQLite file that does not exist yet, instead of
///        creating it: resuming a study must not leave an empty database behind a typo
/// @throws std::invalid_argument naming the URL and the accepted forms for anything else
///         (PostgreSQL, MySQL, query strings, a missing path); StorageError when the file cannot
///         be used (see SqliteStorage).
inline std::unique_ptr<Storage> open_storage(const std::string& url,
                                             SchemaVersion schema = SchemaVersion::v3_0_0_d,
                                             bool must_exist = false) {
  if (url.empty() || url == ":memory:") return std::make_unique<InMemoryStorage>();
  static const std::string prefix = "sqlite:///";
  auto bad = [&](const std::string& why) {
    return std::invalid_argument(
        "normlab: unsupported storage URL '" + url + "' (" + why +
        "); accepted: \"\" or \":memory:\" (in memory), \"sqlite:///relative/path.db\", "
        "\"sqlite:////absolute/path.db\" or \"sqlite:///:memory:\"");
  };
  if (url.rfind(prefix, 0) != 0) {
    const auto colon = url.find("://");
    if (colon != std::string::npos && url.rfind("sqlite", 0) != 0)
      throw bad("only SQLite is supported, not " + url.substr(0, colon));
    throw bad("it does not start with sqlite:///");
  }
  const std::string path = url.substr(prefix.size());
  if (path.empty()) throw bad("no database path after sqlite:///");
  if (path.find('?') != std::string::npos) throw bad("query parameters are not supported");
  std::error_code ec;
  if (must_exist && path != ":memory:" && !std::filesystem::exists(path, ec))
    throw NotFoundError("normlab: the study database '" + path + "' does not exist (nothing was created)");
  return std::make_unique<SqliteStorage>(path, schema);
}

}  // namespace normlab::study
