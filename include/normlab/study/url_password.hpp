#pragma once
// Where a storage URL holds a password, so that it is never shown: messages print the URL with the
// password replaced (redact_url, storage.hpp), and the programs overwrite it in their own command
// line once parsed (hide_url_passwords), so that `ps` and /proc/PID/cmdline no longer show it.
// A password in ~/.pgpass or PGPASSWORD never reaches either (docs/distributed.md). No LibTorch.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace normlab::study::detail {

/// The [begin, end) character ranges of `url` that are passwords: the user-info password
/// (scheme://user:PASSWORD@host) and every `password=VALUE` query parameter.
inline std::vector<std::pair<std::size_t, std::size_t>> password_spans(std::string_view url) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return spans;
  const auto authority = scheme_end + 3;
  const auto slash = url.find('/', authority);
  const auto at = url.rfind('@', slash == std::string_view::npos ? std::string_view::npos : slash);
  if (at != std::string_view::npos && at >= authority) {
    const auto colon = url.find(':', authority);
    if (colon != std::string_view::npos && colon < at) spans.emplace_back(colon + 1, at);
  }
  for (auto p = url.find("password="); p != std::string_view::npos; p = url.find("password=", p + 1)) {
    if (p > 0 && url[p - 1] != '?' && url[p - 1] != '&') continue;
    const auto end = url.find('&', p);
    spans.emplace_back(p + 9, end == std::string_view::npos ? url.size() : end);
  }
  return spans;
}

/// Overwrites with '*' every password in the program's arguments (a storage URL given on the
/// command line), in place: what `ps` shows of this process from then on. Call it once the
/// arguments are parsed (their values are copies by then); before that, `ps` may still see them.
inline void hide_url_passwords(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    for (const auto& [begin, end] : password_spans(argv[i])) std::fill(argv[i] + begin, argv[i] + end, '*');
}

}  // namespace normlab::study::detail
