#pragma once
// A fresh folder under the system's temporary directory for one test, removed afterwards.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace normlab::testing {

struct TempDir {
  std::filesystem::path path;
  /// @param prefix names the folder (with the process id and a counter: unique per process and test)
  explicit TempDir(const std::string& prefix) {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string url(const std::string& name) const { return "sqlite:///" + file(name); }
};

}  // namespace normlab::testing
