// normlab/report/html_page.hpp: base64 against RFC 4648's test vectors, and report.md's Markdown as
// a page whose images are inline.
#include <catch2/catch.hpp>
#include <fstream>
#include <normlab/report/html_page.hpp>

#include "../temp_dir.hpp"

using namespace normlab;

TEST_CASE("base64 gives RFC 4648's test vectors", "[report][html]") {
  CHECK(report::base64("") == "");
  CHECK(report::base64("f") == "Zg==");
  CHECK(report::base64("fo") == "Zm8=");
  CHECK(report::base64("foo") == "Zm9v");
  CHECK(report::base64("foob") == "Zm9vYg==");
  CHECK(report::base64("fooba") == "Zm9vYmE=");
  CHECK(report::base64("foobar") == "Zm9vYmFy");
  CHECK(report::base64(std::string("\xff\x00\xfe", 3)) == "/wD+");
}

TEST_CASE("xml_escape writes the five markup characters as entities", "[report][html]") {
  CHECK(normlab::detail::xml_escape(R"(a<b & "c" > 'd')") == "a&lt;b &amp; &quot;c&quot; &gt; &apos;d&apos;");
  CHECK(normlab::detail::xml_escape("plain") == "plain");
}

TEST_CASE("markdown_to_html turns the report's Markdown into a page with its images inline", "[report][html]") {
  normlab::testing::TempDir dir("normlab_html_page");
  std::ofstream(dir.path / "a.png", std::ios::binary) << "abc";
  std::ofstream(dir.path / "b.svg") << "<svg/>";
  const std::string md =
      "# Title <1>\n\n## Verdict\n\n- with the `exact` one, **mean** matters\n- std does not\n\n"
      "| source | F |\n|---|---|\n| mean | 3.5 |\n\nSome text\nthat goes on.\n\n![a.png](a.png)\n![b](b.svg)\n\n"
      "See [docs](answer.md).\n";
  const auto html = report::markdown_to_html(md, dir.path, "R & D");
  CHECK(html.find("<title>R &amp; D</title>") != std::string::npos);
  CHECK(html.find("<h1>Title &lt;1&gt;</h1>") != std::string::npos);
  CHECK(html.find("<h2>Verdict</h2>") != std::string::npos);
  CHECK(html.find("<ul>\n<li>with the <code>exact</code> one, <strong>mean</strong> matters</li>\n<li>std does not</li>\n</ul>") !=
        std::string::npos);
  CHECK(html.find("<table>\n<tr><th>source</th><th>F</th></tr>\n<tr><td>mean</td><td>3.5</td></tr>\n</table>") !=
        std::string::npos);
  CHECK(html.find("<p>Some text\nthat goes on.</p>") != std::string::npos);
  CHECK(html.find("<p class=\"images\"><img alt=\"a.png\" src=\"data:image/png;base64,YWJj\">\n"
                  "<img alt=\"b\" src=\"data:image/svg+xml;base64,PHN2Zy8+\"></p>") != std::string::npos);
  CHECK(html.find("<a href=\"answer.md\">docs</a>") != std::string::npos);
  CHECK(html.find("a.png)") == std::string::npos);  // no Markdown left over

  SECTION("write_html_page reads report.md and writes the page beside it") {
    std::ofstream(dir.path / "report.md") << md;
    report::write_html_page(dir.path / "report.md", dir.path / "report.html", "report");
    std::ifstream in(dir.path / "report.html");
    const std::string page{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    CHECK(page.find("data:image/png;base64,YWJj") != std::string::npos);
  }
  SECTION("an image that is not there is named") {
    CHECK_THROWS_WITH(report::markdown_to_html("![x](gone.png)\n", dir.path, "t"), Catch::Contains("gone.png"));
  }
}
