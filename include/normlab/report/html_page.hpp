#pragma once
// report.md as one HTML page that opens offline: the Markdown that normlab's reports write
// (headings, paragraphs, "- " lists, pipe tables, `code`, **bold**, images) turned into HTML, each
// image read from beside the Markdown and put inline as a base64 data: URL. A paragraph made only
// of images shows them side by side. Not a general Markdown converter: only what the reports use,
// so that report.md stays the one source of both.

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/detail/xml_escape.hpp"

namespace normlab::report {

/// RFC 4648 base64 (with padding) of `bytes`.
inline std::string base64(const std::string& bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(v >> shift) & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace detail {

/// A data: URL of the image file `path` (PNG, SVG, JPEG), or a clear error naming it.
inline std::string data_url(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("normlab::report: the report shows '" + path.string() + "', which cannot be read");
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto ext = path.extension().string();
  const std::string type = ext == ".svg" ? "image/svg+xml" : ext == ".jpg" || ext == ".jpeg" ? "image/jpeg" : "image/png";
  return "data:" + type + ";base64," + base64(bytes);
}

/// Inline Markdown of one line: `code`, **bold**, ![alt](file) (inlined), [text](link).
inline std::string inline_html(const std::string& s, const std::filesystem::path& folder) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '`') {
      const auto end = s.find('`', i + 1);
      if (end != std::string::npos) {
        out += "<code>" + normlab::detail::xml_escape(s.substr(i + 1, end - i - 1)) + "</code>";
        i = end + 1;
        continue;
      }
    }
    if (s.compare(i, 2, "**") == 0) {
      const auto end = s.find("**", i + 2);
      if (end != std::string::npos) {
        out += "<strong>" + inline_html(s.substr(i + 2, end - i - 2), folder) + "</strong>";
        i = end + 2;
        continue;
      }
    }
    const bool image = s.compare(i, 2, "![") == 0;
    if (image || s[i] == '[') {
      const auto close = s.find("](", i);
      const auto end = close == std::string::npos ? close : s.find(')', close);
      if (end != std::string::npos) {
        const auto text = s.substr(i + (image ? 2 : 1), close - i - (image ? 2 : 1));
        const auto target = s.substr(close + 2, end - close - 2);
        if (image)
          out += "<img alt=\"" + normlab::detail::xml_escape(text) + "\" src=\"" + data_url(folder / target) + "\">";
        else
          out += "<a href=\"" + normlab::detail::xml_escape(target) + "\">" + normlab::detail::xml_escape(text) + "</a>";
        i = end + 1;
        continue;
      }
    }
    out += normlab::detail::xml_escape(std::string(1, s[i]));
    ++i;
  }
  return out;
}

inline std::vector<std::string> table_cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {  // past the leading '|'
    if (line[i] == '|') {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  for (auto& c : cells) {
    const auto a = c.find_first_not_of(' '), b = c.find_last_not_of(' ');
    c = a == std::string::npos ? "" : c.substr(a, b - a + 1);
  }
  return cells;
}

}  // namespace detail

/// The HTML page of `markdown`, whose images lie in `folder`; titled `title`.
inline std::string markdown_to_html(const std::string& markdown, const std::filesystem::path& folder,
                                    const std::string& title) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << normlab::detail::xml_escape(title)
       << "</title>\n<style>\nbody{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;"
          "line-height:1.45;color:#222}\ntable{border-collapse:collapse;margin:1em 0}\n"
          "td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}\ntd:first-child,th:first-child{text-align:left}\n"
          "code{background:#f2f2f2;padding:0 .2em}\np.images{display:flex;flex-wrap:wrap;gap:1em}\n"
          "p.images img{flex:1 1 30%;max-width:100%;min-width:320px}\nimg{max-width:100%}\n</style>\n</head>\n<body>\n";
  std::istringstream in(markdown);
  std::string line;
  std::vector<std::string> paragraph, table;
  bool in_list = false;
  auto flush = [&] {
    if (!paragraph.empty()) {
      bool images_only = true;
      for (const auto& l : paragraph) images_only = images_only && l.rfind("![", 0) == 0;
      html << (images_only ? "<p class=\"images\">" : "<p>");
      for (std::size_t k = 0; k < paragraph.size(); ++k)
        html << (k ? "\n" : "") << detail::inline_html(paragraph[k], folder);
      html << "</p>\n";
      paragraph.clear();
    }
    if (!table.empty()) {
      html << "<table>\n";
      for (std::size_t r = 0; r < table.size(); ++r) {
        if (r == 1 && table[r].find_first_not_of("|-: ") == std::string::npos) continue;  // the separator row
        html << "<tr>";
        for (const auto& cell : detail::table_cells(table[r]))
          html << (r == 0 ? "<th>" : "<td>") << detail::inline_html(cell, folder) << (r == 0 ? "</th>" : "</td>");
        html << "</tr>\n";
      }
      html << "</table>\n";
      table.clear();
    }
    if (in_list) html << "</ul>\n", in_list = false;
  };
  while (std::getline(in, line)) {
    if (line.empty()) {
      flush();
    } else if (line[0] == '#') {
      flush();
      const auto level = line.find_first_not_of('#');
      const auto n = std::to_string(std::min<std::size_t>(level, 6));
      html << "<h" << n << ">" << detail::inline_html(line.substr(level + 1), folder) << "</h" << n << ">\n";
    } else if (line.rfind("- ", 0) == 0) {
      if (!in_list) flush(), html << "<ul>\n", in_list = true;
      html << "<li>" << detail::inline_html(line.substr(2), folder) << "</li>\n";
    } else if (line[0] == '|') {
      if (table.empty()) flush();
      table.push_back(line);
    } else {
      if (in_list || !table.empty()) flush();
      paragraph.push_back(line);
    }
  }
  flush();
  html << "</body>\n</html>\n";
  return html.str();
}

/// Writes `html_path` from the Markdown file `markdown_path` (images beside it, inlined).
inline void write_html_page(const std::filesystem::path& markdown_path, const std::filesystem::path& html_path,
                            const std::string& title) {
  std::ifstream in(markdown_path);
  if (!in) throw std::runtime_error("normlab::report: cannot read '" + markdown_path.string() + "'");
  const std::string markdown{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto html = markdown_to_html(markdown, markdown_path.parent_path(), title);
  std::ofstream out(html_path);
  out << html;
  out.close();
  if (!out) throw std::runtime_error("normlab::report: could not write all of '" + html_path.string() + "'");
}

}  // namespace normlab::report
