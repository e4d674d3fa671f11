#pragma once
// A thin C++ wrapper over libpq, as PostgresStorage uses it: one connection opened from a
// `postgresql://` URL (libpq's own URI rules: PGPASSWORD, ~/.pgpass, sslmode and the other
// parameters work as in psql), statements prepared once per connection (PQprepare /
// PQexecPrepared, every value a parameter, never spliced into the SQL text), results as RAII
// objects, and libpq's failures as exceptions: PgConnectionLost when the server went away (the
// storage reconnects and runs the transaction again), PgRetry for a serialization failure or a
// deadlock (run again), StorageError for the rest. Messages name the host, port, database and
// user, never the password. Its own header because it knows nothing of Optuna or of studies: the
// SQL is in postgres_storage.hpp, the schema in optuna_schema.hpp. No LibTorch; libpq through
// <libpq-fe.h>.

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "normlab/study/storage.hpp"

namespace normlab::study::detail {

/// The connection broke (server restart, network): reconnect and run the transaction again.
/// `during_commit`: the COMMIT was sent and its answer lost, so whether it took effect is unknown.
struct PgConnectionLost {
  std::string message;
  bool during_commit = false;
};
/// A serialization failure (40001) or deadlock (40P01): roll back and run the transaction again.
struct PgRetry {
  std::string message;
};

/// What libpq makes of a URL (without connecting): where it points, for messages. The password is
/// left out; `password` holds it only so that messages can be scrubbed of it.
struct PgTarget {
  std::string host, port, dbname, user, password;
  /// "host H port P database D user U", the values libpq will use (its defaults where the URL
  /// names none).
  std::string describe() const {
    return "host " + (host.empty() ? std::string("(local socket)") : host) + " port " +
           (port.empty() ? std::string("5432") : port) + " database '" + dbname + "' user '" + user + "'";
  }
};

/// `postgresql+psycopg2://...` (SQLAlchemy's form, as in Optuna's storage URLs) -> the
/// `postgresql://...` libpq reads; other URLs unchanged.
inline std::string libpq_url(const std::string& url) {
  const auto plus = url.find('+');
  const auto scheme_end = url.find("://");
  if (plus != std::string::npos && scheme_end != std::string::npos && plus < scheme_end &&
      (url.rfind("postgresql+", 0) == 0 || url.rfind("postgres+", 0) == 0))
    return url.substr(0, plus) + url.substr(scheme_end);
  return url;
}

/// The URL as libpq parses it (user, host, port, database), with libpq's environment defaults
/// (PGHOST, PGUSER, ...) for what it leaves out. @throws StorageError for a URL libpq cannot parse.
inline PgTarget pg_target(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &err);
  if (!options) {
    std::string why = err ? err : "out of memory";
    PQfreemem(err);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw StorageError("normlab: cannot read the PostgreSQL URL '" + redact_url(url) + "': " + why);
  }
  PgTarget t;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    const std::string key = o->keyword;
    const char* v = o->val;
    const char* env = o->envvar ? std::getenv(o->envvar) : nullptr;
    const std::string value = v ? v : env ? env : "";
    if (key == "host") t.host = value;
    else if (key == "port") t.port = value;
    else if (key == "dbname") t.dbname = value;
    else if (key == "user") t.user = value;
    else if (key == "password") t.password = v ? v : "";
  }
  PQconninfoFree(options);
  if (t.user.empty()) {  // libpq's default: the name of the user running the process
    if (const passwd* pw = getpwuid(geteuid())) t.user = pw->pw_name;
  }
  if (t.dbname.empty()) t.dbname = t.user;
  return t;
}

/// `text` with every occurrence of `secret` replaced by "***" (a libpq message never shows the
/// password, but a server's or a proxy's might).
inline std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t p = text.find(secret); p != std::string::npos; p = text.find(secret, p + 3))
    text.replace(p, secret.size(), "***");
  return text;
}

/// One value bound to a statement parameter: text in PostgreSQL's input syntax, or NULL.
struct PgParam {
  std::optional<std::string> text;
  PgParam(std::nullopt_t) {}
  PgParam(std::string s) : text(std::move(s)) {}
  PgParam(const char* s) : text(std::string(s)) {}
  PgParam(int64_t v) : text(std::to_string(v)) {}
  PgParam(int v) : text(std::to_string(v)) {}
  /// The shortest text that reads back as the same double (std::to_chars): bit for bit.
  PgParam(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    text = std::string(buf, r.ptr);
  }
  static PgParam or_null(const std::string& s) { return s.empty() ? PgParam(std::nullopt) : PgParam(s); }
};

/// A query's result (PQclear at the end).
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  }
  int64_t int64(int row, int col) const { return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10); }
  /// A double column as PostgreSQL writes it (shortest exact text since PostgreSQL 12, and
  /// "Infinity", "-Infinity", "NaN").
  double real(int row, int col) const { return std::strtod(PQgetvalue(r_.get(), row, col), nullptr); }
  /// The number of rows an INSERT / UPDATE / DELETE changed.
  int64_t affected() const {
    const char* n = PQcmdTuples(r_.get());
    return n && *n ? std::strtoll(n, nullptr, 10) : 0;
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

/// One libpq connection and its prepared statements. Not thread-safe: the storage's mutex guards it.
class PgConnection {
 public:
  /// Connects to `url` (postgresql://user[:password]@host[:port]/database[?param=value...]).
  /// @throws StorageError naming host, port, database and user when the server cannot be reached
  ///         or refuses the connection.
  explicit PgConnection(const std::string& url) : url_(libpq_url(url)), target_(pg_target(url_)) {
    std::string why;
    if (!open(why))
      throw StorageError("normlab: cannot connect to PostgreSQL at " + target_.describe() + ": " + why);
  }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection() {
    if (conn_) PQfinish(conn_);
  }

  const PgTarget& target() const { return target_; }
  /// Whether the connection is usable (false after the server went away).
  bool ok() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

  /// Reconnects, waiting 0.1 s, 0.2 s, 0.4 s, ... (at most 5 s apart) for up to `patience`.
  /// @throws StorageError when the server stays unreachable.
  void reconnect(std::chrono::duration<double> patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    std::chrono::duration<double> wait(0.1);
    std::string why;
    for (;;) {
      if (open(why)) return;
      if (std::chrono::steady_clock::now() + wait > deadline)
        throw StorageError("normlab: lost the connection to PostgreSQL at " + target_.describe() +
                           " and could not reconnect within " + std::to_string(static_cast<int>(patience.count())) +
                           " s: " + why);
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, std::chrono::duration<double>(5.0));
    }
  }

  /// Runs `sql` (no parameters, no result rows wanted: BEGIN, COMMIT, DDL).
  void exec(const char* sql) { check(PQexec(conn_, sql), sql, std::strcmp(sql, "COMMIT") == 0); }

  /// Runs `sql` with parameters $1, $2, ... bound to `params`, prepared once per connection.
  PgResult query(const char* sql, std::initializer_list<PgParam> params = {}) {
    const std::string& name = prepared(sql, static_cast<int>(params.size()));
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const PgParam& p : params) values.push_back(p.text ? p.text->c_str() : nullptr);
    return check(PQexecPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0),
                 sql, false);
  }

 private:
  bool open(std::string& why) {
    if (conn_) PQfinish(conn_);
    statements_.clear();
    // Defaults first: what the URL says wins (expand_dbname processes it in place).
    const char* keys[] = {"application_name", "connect_timeout", "dbname", nullptr};
    const char* values[] = {"normlab", "10", url_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
      PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // no NOTICEs on stderr
      return true;
    }
    why = conn_ ? trimmed(PQerrorMessage(conn_)) : std::string("out of memory");
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    return false;
  }

  std::string trimmed(const char* message) const {
    std::string m = scrub(message ? message : "", target_.password);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    std::string one_line;  // libpq's messages span lines ("...failed: Connection refused\n\tIs the server...")
    for (char c : m) {
      if (c == '\n' || c == '\t') c = ' ';
      if (c != ' ' || one_line.empty() || one_line.back() != ' ') one_line += c;
    }
    return one_line;
  }

  const std::string& prepared(const char* sql, int n_params) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    std::string name = "normlab_" + std::to_string(statements_.size());
    check(PQprepare(conn_, name.c_str(), sql, n_params, nullptr), sql, false);
    return statements_.emplace(sql, std::move(name)).first->second;
  }

  PgResult check(PGresult* raw, const char* sql, bool commit) {
    PgResult result(raw);
    const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : "";
    const std::string message = trimmed(raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_));
    if (!ok() || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03")
      throw PgConnectionLost{message, commit};
    if (sqlstate == "40001" || sqlstate == "40P01") throw PgRetry{message};
    throw StorageError("normlab: PostgreSQL at " + target_.describe() + ": " + message + " (in: " + sql + ")");
  }

  std::string url_;
  PgTarget target_;
  PGconn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> statements_;  // SQL -> prepared statement name
};

}  // namespace normlab::study::detail
