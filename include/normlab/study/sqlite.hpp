#pragma once
// A thin C++ wrapper over SQLite's C API, as SqliteStorage uses it: statements prepared once per
// connection and reused (SqliteStatementCache) or prepared for one use, binding and reading
// columns, and SQLite's errors as exceptions: StorageError, or SqliteBusy for SQLITE_BUSY /
// SQLITE_LOCKED, which the storage's transactions roll back and run again. Its own header because
// it knows nothing of Optuna or of studies: the SQL is in sqlite_storage.hpp and the schema in
// optuna_schema.hpp. No LibTorch; SQLite through <sqlite3.h>.

#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>

#include "normlab/study/storage.hpp"

namespace normlab::study::detail {

/// SQLITE_BUSY / SQLITE_LOCKED: the transaction is rolled back and retried.
struct SqliteBusy {
  std::string message;
};

/// A connection's prepared statements, kept for its lifetime (sqlite3_prepare_v3 with
/// SQLITE_PREPARE_PERSISTENT) and keyed by their SQL text. Not thread-safe: the storage's mutex
/// guards it.
class SqliteStatementCache {
 public:
  struct Entry {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  SqliteStatementCache() = default;
  SqliteStatementCache(const SqliteStatementCache&) = delete;
  SqliteStatementCache& operator=(const SqliteStatementCache&) = delete;
  ~SqliteStatementCache() { clear(); }

  /// Finalizes every statement (before the connection closes).
  void clear() {
    for (auto& [sql, entry] : entries_) sqlite3_finalize(entry.stmt);
    entries_.clear();
  }

  /// The entry for `sql`, prepared on first use; nullptr while it is in use (a nested use of the
  /// same SQL then prepares its own statement). Returns the SQLite error code in `rc`.
  Entry* acquire(sqlite3* db, const char* sql, int& rc) {
    rc = SQLITE_OK;
    auto it = entries_.find(sql);
    if (it == entries_.end()) {
      sqlite3_stmt* stmt = nullptr;
      rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return nullptr;
      }
      it = entries_.emplace(sql, Entry{stmt, false}).first;
    }
    if (it->second.in_use) return nullptr;
    it->second.in_use = true;
    return &it->second;
  }

 private:
  std::unordered_map<std::string, Entry> entries_;
};

class SqliteStatement {
 public:
  /// A statement of its own, finalized at the end.
  SqliteStatement(sqlite3* db, const char* sql) : db_(db), sql_(sql) {
    const int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(rc);
  }
  /// The cached statement for `sql` (reset and unbound at the end), or one of its own when that
  /// one is in use.
  SqliteStatement(SqliteStatementCache& cache, sqlite3* db, const char* sql) : db_(db), sql_(sql) {
    int rc = SQLITE_OK;
    entry_ = cache.acquire(db, sql, rc);
    if (rc != SQLITE_OK) fail(rc);
    if (entry_) {
      stmt_ = entry_->stmt;
    } else {
      rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
      if (rc != SQLITE_OK) fail(rc);
    }
  }
  ~SqliteStatement() {
    if (entry_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
      entry_->in_use = false;
    } else {
      sqlite3_finalize(stmt_);
    }
  }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  SqliteStatement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  SqliteStatement& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  SqliteStatement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  /// A string that outlives the statement's use (a literal): not copied.
  SqliteStatement& bind(int i, const char* v) { return check(sqlite3_bind_text(stmt_, i, v, -1, SQLITE_STATIC)); }
  SqliteStatement& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }
  SqliteStatement& bind_text_or_null(int i, const std::string& v) { return v.empty() ? bind_null(i) : bind(i, v); }

  /// True when a row is ready.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(rc);
  }
  void run() {
    while (step()) {
    }
  }

  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  int64_t int64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const { return sqlite3_column_double(stmt_, c); }
  std::string text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, c))) : std::string();
  }
  /// Whether column c holds the text `s` (NULL reads as empty, as text() does), without a copy.
  bool text_equals(int c, const std::string& s) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    const auto n = p ? static_cast<size_t>(sqlite3_column_bytes(stmt_, c)) : 0;
    return n == s.size() && (n == 0 || std::memcmp(p, s.data(), n) == 0);
  }

 private:
  SqliteStatement& check(int rc) {
    if (rc != SQLITE_OK) fail(rc);
    return *this;
  }
  [[noreturn]] void fail(int rc) const {
    const int primary = rc & 0xFF;
    std::string msg = std::string(sqlite3_errmsg(db_)) + " (SQLite error " + std::to_string(rc) + " in: " + sql_ + ")";
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw SqliteBusy{msg};
    if (primary == SQLITE_NOTADB) throw StorageError("not an SQLite database: " + msg);
    throw StorageError("normlab: SQLite: " + msg);
  }

  sqlite3* db_;
  const char* sql_;
  sqlite3_stmt* stmt_ = nullptr;
  SqliteStatementCache::Entry* entry_ = nullptr;
};

}  // namespace normlab::study::detail
