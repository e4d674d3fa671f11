// The ResNet protocol as a Pipeline (ImageProtocol, Pipeline::run_images, train/image_protocol.hpp):
// its fine-tuning through the epoch loop is the hand-written loop it replaced, bit for bit, and
// prepared test images give the run that decodes them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <normlab/normlab.hpp>
#include <normlab/train/image_protocol.hpp>

#include "../golden.hpp"
#include "../temp_dir.hpp"

using namespace normlab;

namespace {
/// train/ and val/ image folders of two classes made of the committed test images.
void make_folders(const std::filesystem::path& root) {
  const auto images = std::filesystem::path(testing::test_data_dir()) / "images";
  const std::vector<std::pair<std::string, std::string>> train = {
      {"a", "rgb.png"}, {"a", "gray.jpg"}, {"b", "wide.jpg"}, {"b", "palette.png"}, {"a", "tiny.png"}};
  const std::vector<std::pair<std::string, std::string>> val = {{"a", "square256.jpg"}, {"b", "rgba.png"}, {"b", "cmyk.jpg"}};
  for (const auto& [set, files] : {std::pair{"train", train}, std::pair{"val", val}})
    for (const auto& [cls, file] : files) {
      std::filesystem::create_directories(root / set / cls);
      std::filesystem::copy_file(images / file, root / set / cls / file);
    }
}

/// The fine-tuning loop run_image_protocol had before it became a Pipeline's (the notebook's SGD
/// and ReduceLROnPlateau('min') on the training loss), written out: the reference.
std::pair<std::vector<double>, int64_t> hand_written(const ImageRunOptions& o, const NormalizationValues& v) {
  device::set_threads(o.threads);
  const torch::Device dev(torch::kCPU);
  torch::manual_seed(o.seed);
  const auto test = prepare_images(o.data / "val", o.limit, o.workers, false);
  auto net = ResNet18::make(static_cast<int64_t>(test.classes.size()));
  net->to(dev);
  compensate_model<compensate::Notebook, ResNet18>(net, v);
  BatchNormalizer normalize(v, dev);
  torch::optim::SGD sgd(trained_parameters(net, normalize), torch::optim::SGDOptions(0.01).momentum(0.9));
  schedule::ReduceLROnPlateau plateau(sgd, schedule::ReduceLROnPlateauOptions().mode(schedule::PlateauMode::min));
  data::ImageFolder train_folder(o.data / "train");
  std::vector<double> losses;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    net->train();
    data::EpochOrder order(train_folder.size(), false);
    data::ImageBatchLoader<image::NotebookTransform> loader(
        train_folder, data::ImageLoaderOptions().batch_size(o.train_batch).workers(o.workers).order(order.indices()));
    double loss_sum = 0;
    int64_t batches = 0;
    for (auto& batch : loader) {
      sgd.zero_grad();
      auto loss = ResNet18::loss(net->forward(normalize(batch.images.to(dev))), batch.labels.to(dev));
      loss.backward();
      sgd.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    losses.push_back(loss_sum / batches);
    plateau.step(losses.back());
  }
  const auto [correct, total] = evaluate_images(net, test, normalize, dev, o.test_batch, nullptr);
  return {losses, correct};
}
}  // namespace

TEST_CASE("the ResNet protocol's fine-tuning through the epoch loop is the hand-written loop, bit for bit",
          "[train][image_protocol][resnet]") {
  testing::TempDir dir("normlab_image_pipeline");
  make_folders(dir.path);
  ImageRunOptions o;
  o.data = dir.path;
  o.epochs = 2;
  o.train_batch = 2;
  o.threads = 1;
  o.workers = 1;
  o.log = nullptr;
  const auto v = NormalizationValues::uniform(0.45, 0.225);
  const auto [losses, correct] = hand_written(o, v);
  const auto r = ImageProtocol<ResNet18, compensate::Notebook, device::Cpu>{}.run_images(o, v);
  REQUIRE(r.train_losses.size() == 2);
  CHECK(r.train_losses[0] == losses[0]);
  CHECK(r.train_losses[1] == losses[1]);
  CHECK(r.correct == correct);
  CHECK(r.total == 3);
  // run_image_protocol is the same Pipeline's run
  const auto wrapped = run_image_protocol<ResNet18, compensate::Notebook, device::Cpu>(o, v);
  CHECK(wrapped.train_losses == r.train_losses);
  CHECK(wrapped.correct == r.correct);
}

TEST_CASE("run_images on prepared test images is the run that decodes them",
          "[train][image_protocol][resnet]") {
  testing::TempDir dir("normlab_image_pipeline");
  make_folders(dir.path);
  ImageRunOptions o;
  o.data = dir.path / "val";
  o.threads = 1;
  o.workers = 1;
  o.log = nullptr;
  o.predictions = dir.file("decoded.csv");
  const auto v = NormalizationValues::uniform(-0.5, 2.0);
  using Protocol = ImageProtocol<ResNet18, compensate::Exact, device::Cpu>;
  const auto decoded = Protocol{}.run_images(o, v);
  const auto test = prepare_images(o.data, o.limit, o.workers, false);
  o.predictions = dir.file("prepared.csv");
  const auto prepared = Protocol{}.run_images(o, v, &test);
  CHECK(prepared.correct == decoded.correct);
  CHECK(prepared.total == 3);
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CHECK(read(dir.file("prepared.csv")) == read(dir.file("decoded.csv")));  // the same logits, to 9 digits
}

TEST_CASE("ReduceOnTrainLoss steps ReduceLROnPlateau('min') with the training loss", "[train][image_protocol]") {
  auto w = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1));
  auto s = ReduceOnTrainLoss<0.5, 0>::make(sgd);
  EpochRecord r;
  r.accuracy = 0.9;  // would be an improvement for a 'max' schedule on accuracy
  r.test_loss = 0.1;
  r.train_loss = 1.0;
  step_scheduler<ReduceOnTrainLoss<0.5, 0>>(s, r);
  r.train_loss = 2.0;  // worse: patience 0 halves the lr
  step_scheduler<ReduceOnTrainLoss<0.5, 0>>(s, r);
  CHECK(sgd.param_groups().front().options().get_lr() == 0.05);
  static_assert(normlab::detail::check_scheduler_policy<ReduceOnTrainLoss<>>());
}
