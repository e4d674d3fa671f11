#pragma once
// Reading the golden files that scripts/golden/*.py write (see each file's header comment).

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace normlab::testing {

inline std::string golden_path(const std::string& name) { return std::string(NORMLAB_GOLDEN_DIR) + "/" + name; }
inline std::string test_data_dir() { return NORMLAB_TEST_DATA_DIR; }

/// The non-comment, non-empty lines of the golden file at `path`, split on white space.
inline std::vector<std::vector<std::string>> golden_rows_at(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden file " + path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string w; words >> w;) row.push_back(w);
    if (!row.empty()) rows.push_back(row);
  }
  return rows;
}

/// The rows of the committed golden file `name` (tests/golden/).
inline std::vector<std::vector<std::string>> golden_rows(const std::string& name) {
  return golden_rows_at(golden_path(name));
}

/// The `key=value` words of the golden file's `# <label>: key=value ...` header line (empty if none).
inline std::map<std::string, std::string> golden_header_fields(const std::string& path, const std::string& label) {
  std::ifstream in(path);
  const std::string prefix = "# " + label + ":";
  std::map<std::string, std::string> fields;
  for (std::string line; std::getline(in, line) && !line.empty() && line[0] == '#';) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream words(line.substr(prefix.size()));
    for (std::string w; words >> w;) {
      const auto eq = w.find('=');
      if (eq != std::string::npos) fields[w.substr(0, eq)] = w.substr(eq + 1);
    }
  }
  return fields;
}

/// The key=value words of a `case k=v k=v ...` row.
inline std::map<std::string, std::string> case_fields(const std::vector<std::string>& row) {
  std::map<std::string, std::string> fields;
  for (std::size_t i = 1; i < row.size(); ++i) {
    const auto eq = row[i].find('=');
    if (eq != std::string::npos) fields[row[i].substr(0, eq)] = row[i].substr(eq + 1);
  }
  return fields;
}

/// 64-bit FNV-1a of a byte buffer (how golden files fingerprint float32 tensors).
inline uint64_t fnv1a64(const void* data, std::size_t size) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace normlab::testing
