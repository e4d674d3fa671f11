#pragma once
// Text inside XML or HTML markup and attribute values: the SVG pictures' labels (plot/canvas.hpp)
// and the report's HTML page (report/html_page.hpp).

#include <string>

namespace normlab::detail {

/// `s` with &, <, >, " and ' written as entities.
inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace normlab::detail
