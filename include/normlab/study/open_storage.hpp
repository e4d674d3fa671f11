#pragma once
// open_storage(url): the storage a URL names, with the URLs Optuna (SQLAlchemy) accepts for
// SQLite and PostgreSQL, so the notebook's `storage="sqlite:///optuna-MNIST.sqlite3"` and a
// cluster's `postgresql+psycopg2://...` work as they are. PostgreSQL is there where libpq was found
// when normlab was configured (NORMLAB_HAVE_POSTGRES). No LibTorch.

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "normlab/study/memory_storage.hpp"
#include "normlab/study/sqlite_storage.hpp"
#if NORMLAB_HAVE_POSTGRES
#include "normlab/study/postgres_storage.hpp"
#endif

namespace normlab::study {

/// Whether `url` names a PostgreSQL database: `postgresql://`, `postgres://` or SQLAlchemy's
/// `postgresql+driver://` (e.g. `postgresql+psycopg2://`, as Optuna users write it).
inline bool is_postgres_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return false;
  const std::string scheme = url.substr(0, scheme_end);
  return scheme == "postgresql" || scheme == "postgres" || scheme.rfind("postgresql+", 0) == 0 ||
         scheme.rfind("postgres+", 0) == 0;
}

/// The storage for `url`:
/// - `""` or `":memory:"`: a new InMemoryStorage (Optuna's default, storage=None);
/// - `"sqlite:///relative/path.db"`: an SqliteStorage on a path relative to the working directory;
/// - `"sqlite:////absolute/path.db"`: an absolute path (four slashes, as in SQLAlchemy);
/// - `"sqlite:///:memory:"`: an SqliteStorage in a private in-memory SQLite database;
/// - `"postgresql://user[:password]@host[:port]/database[?sslmode=...]"` (also `postgres://` and
///   `postgresql+psycopg2://`): a PostgresStorage (postgres_storage.hpp), where normlab was built
///   with libpq.
/// @param schema the Optuna schema revision of a new SQLite file (see SqliteStorage)
/// @param must_exist refuse (NotFoundError) an SQLite file that does not exist yet, instead of
///        creating it: resuming a study must not leave an empty database behind a typo
/// @throws std::invalid_argument naming the URL (its password left out) and the accepted forms
///         for anything else (MySQL, query strings on SQLite, a missing path; PostgreSQL in a
///         build without libpq); StorageError when the database cannot be used (see SqliteStorage
///         and PostgresStorage).
inline std::unique_ptr<Storage> open_storage(const std::string& url,
                                             SchemaVersion schema = SchemaVersion::v3_0_0_d,
                                             bool must_exist = false) {
  if (url.empty() || url == ":memory:") return std::make_unique<InMemoryStorage>();
  static const std::string prefix = "sqlite:///";
  auto bad = [&](const std::string& why) {
    return std::invalid_argument(
        "normlab: unsupported storage URL '" + detail::redact_url(url) + "' (" + why +
        "); accepted: \"\" or \":memory:\" (in memory), \"sqlite:///relative/path.db\", "
        "\"sqlite:////absolute/path.db\", \"sqlite:///:memory:\" or "
        "\"postgresql://user@host:port/database\"");
  };
  if (is_postgres_url(url)) {
#if NORMLAB_HAVE_POSTGRES
    return std::make_unique<PostgresStorage>(url, schema);
#else
    throw bad("this build of normlab has no PostgreSQL support: libpq was not found when it was configured "
              "(Debian: apt-get install libpq-dev, then configure again)");
#endif
  }
  if (url.rfind(prefix, 0) != 0) {
    const auto colon = url.find("://");
    if (colon != std::string::npos && url.rfind("sqlite", 0) != 0)
      throw bad("only SQLite and PostgreSQL are supported, not " + url.substr(0, colon));
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
