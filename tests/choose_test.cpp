// normlab/choose.hpp: a run-time name to a compile-time policy, through the policies' names.
#include <catch2/catch.hpp>
#include <normlab/choose.hpp>
#include <normlab/normlab.hpp>

#include <string>
#include <type_traits>

using namespace normlab;

namespace {
struct Only {
  static constexpr const char* name = "only";
};
}  // namespace

TEST_CASE("choose calls the function with the policy whose name is given", "[choose]") {
  auto which = [](const std::string& flag) {
    return choose<compensate::Notebook, compensate::Exact, compensate::None>(
        flag, []<class C>(std::type_identity<C>) { return std::string(typeid(C).name()); });
  };
  CHECK(which("notebook") == typeid(compensate::Notebook).name());
  CHECK(which("exact") == typeid(compensate::Exact).name());
  CHECK(which("none") == typeid(compensate::None).name());
  // The chosen type reaches a Pipeline: its compensation slot is the one named.
  const bool exact_slot = choose<compensate::Notebook, compensate::Exact>("exact", []<class C>(std::type_identity<C>) {
    return std::is_same_v<typename Pipeline<normalize::Runtime, LeNet, C>::compensation_t, compensate::Exact>;
  });
  CHECK(exact_slot);
  CHECK(choose<ResNet18, ResNet34, ResNet50>("resnet34", []<class M>(std::type_identity<M>) { return M::name; }) ==
        std::string("resnet34"));
}

TEST_CASE("choose with a function returning nothing runs it once, for the named policy only", "[choose]") {
  int calls = 0;
  std::string seen;
  choose<data::Mnist, data::FashionMnist>("fashion-mnist", [&]<class D>(std::type_identity<D>) {
    ++calls;
    seen = D::name;
  });
  CHECK(calls == 1);
  CHECK(seen == "fashion-mnist");
}

TEST_CASE("choose refuses an unknown name with the names there are", "[choose]") {
  auto f = []<class C>(std::type_identity<C>) { return 1; };
  CHECK_THROWS_WITH((choose<compensate::Notebook, compensate::Exact, compensate::None>("Exact", f, "--compensation")),
                    "--compensation expects notebook, exact, none (got 'Exact')");
  CHECK_THROWS_WITH((choose<Only>("", f)), "normlab::choose expects only (got '')");
  CHECK(policy_names<compensate::Notebook, compensate::Exact, compensate::None>() == "notebook | exact | none");
  CHECK(policy_name_list<data::Mnist, data::FashionMnist>() == std::vector<std::string>{"mnist", "fashion-mnist"});
}
