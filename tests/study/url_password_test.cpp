// normlab/study/url_password.hpp: where a storage URL holds a password, redacted in messages and
// overwritten in the program's own arguments.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "normlab/study/storage.hpp"
#include "normlab/study/url_password.hpp"

using normlab::study::detail::hide_url_passwords;
using normlab::study::detail::password_spans;
using normlab::study::detail::redact_url;

TEST_CASE("url password: the user-info password and password= parameters are found", "[study]") {
  using Spans = std::vector<std::pair<std::size_t, std::size_t>>;
  const std::string url = "postgresql://normlab:s3cret@db:5432/normlab";
  CHECK(password_spans(url) == Spans{{21, 27}});
  CHECK(url.substr(21, 6) == "s3cret");
  CHECK(password_spans("postgresql://normlab@db/normlab").empty());  // no password: ~/.pgpass or PGPASSWORD
  CHECK(password_spans("sqlite:///tmp/a:b@c.sqlite3").empty());      // a path, not user-info
  CHECK(password_spans("--storage=postgres://u:p@h/d?sslmode=require&password=x1").size() == 2);
  CHECK(password_spans("not a url password=x").empty());
  CHECK(redact_url(url) == "postgresql://normlab:***@db:5432/normlab");
  CHECK(redact_url("postgresql://u@h/d?password=abc&sslmode=require") == "postgresql://u@h/d?password=***&sslmode=require");
  CHECK(redact_url("postgresql://u:p@h/d?password=abc") == "postgresql://u:***@h/d?password=***");
  CHECK(redact_url("sqlite:///x.sqlite3") == "sqlite:///x.sqlite3");
}

TEST_CASE("url password: the program's own arguments lose their passwords once parsed", "[study]") {
  std::vector<std::string> words = {"mnist_study", "--storage", "postgresql://normlab:s3cret@db/normlab",
                                    "--storage=postgres://u@h/d?password=abc&x=1", "--trials", "8"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  hide_url_passwords(static_cast<int>(argv.size()), argv.data());
  CHECK(std::string(argv[2]) == "postgresql://normlab:******@db/normlab");  // same length: argv's memory
  CHECK(std::string(argv[3]) == "--storage=postgres://u@h/d?password=***&x=1");
  CHECK(std::string(argv[0]) == "mnist_study");
  CHECK(std::string(argv[5]) == "8");
}
