// normlab/train/image_protocol.hpp: the one-line summary of what a run loaded and the class-count
// warning (ImageRunSummary), and run_image_protocol writing both before it evaluates.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include <normlab/normlab.hpp>
#include <normlab/train/image_protocol.hpp>

#include "../golden.hpp"
#include "../temp_dir.hpp"

using namespace normlab;

namespace {
ImageRunSummary imagenet_weights_on_ten_classes() {
  ImageRunSummary s;
  s.model = "resnet18";
  s.parameters = 11689512;
  s.classes = 1000;
  s.weights = "resnet18.pt";
  s.folder = "imagenette/val";
  s.images = 200;
  s.folder_classes = 10;
  s.normalization = NormalizationValues::uniform(0, 1);
  s.compensation = "notebook";
  s.device = "cpu";
  return s;
}
}  // namespace

TEST_CASE("the summary line names the model, its parameters and classes, the folder, normalization and device",
          "[train][image_protocol]") {
  auto s = imagenet_weights_on_ten_classes();
  CHECK(s.to_string() ==
        "resnet18 (11689512 parameters, 1000 classes from weights 'resnet18.pt') on 'imagenette/val': 200 images "
        "in 10 classes; mean=0 std=1, compensation notebook, 0 fine-tuning epoch(s), device cpu");
  s.normalization = NormalizationValues{{0, 0, 0}, {1, 1, 1}};  // resnet_eval's three channels: written once
  CHECK(s.to_string().find("in 10 classes; mean=0 std=1, compensation") != std::string::npos);
  s.normalization = NormalizationValues{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  CHECK(s.to_string().find("; mean=[0.485,0.456,0.406] std=[0.229,0.224,0.225], compensation") != std::string::npos);
  s.normalization = NormalizationValues::uniform(0, 1);
  s.classes_given = true;
  CHECK(s.to_string() ==
        "resnet18 (11689512 parameters, 1000 classes as given, weights 'resnet18.pt') on 'imagenette/val': 200 "
        "images in 10 classes; mean=0 std=1, compensation notebook, 0 fine-tuning epoch(s), device cpu");
  s.weights.clear();
  s.classes_given = false;
  s.classes = 10;
  s.parameters = 11181642;
  s.normalization.reset();  // a study: each trial has its own (mean, std)
  s.device = "cuda:1";
  CHECK(s.to_string() ==
        "resnet18 (11181642 parameters, 10 classes from the folder, seeded initialisation) on 'imagenette/val': "
        "200 images in 10 classes; (mean, std) per trial, compensation notebook, 0 fine-tuning epoch(s), device cuda:1");
}

TEST_CASE("a class count that differs from the folder's is a warning that says what it means",
          "[train][image_protocol]") {
  auto s = imagenet_weights_on_ten_classes();
  CHECK(s.class_count_warning() ==
        "warning: the weights 'resnet18.pt' have 1000 classes but the image folder 'imagenette/val' has 10; accuracy "
        "will be meaningless unless the folder's classes, sorted by name, are the model's classes 0 to 9 in that "
        "order (fine-tune with epochs > 0 to learn the mapping instead)");
  s.epochs = 2;  // fine-tuning learns folder class i as output i
  CHECK(s.class_count_warning().empty());
  s.weights.clear();
  s.classes = 4;  // fewer outputs than classes: warned even when fine-tuning
  CHECK(s.class_count_warning() ==
        "warning: the model has 4 classes but the image folder 'imagenette/val' has 10; images of its classes 4 to 9 "
        "can never be predicted correctly (set the class count to the folder's)");
  s.classes = 10;
  CHECK(s.class_count_warning().empty());
  s.epochs = 0;
  CHECK(s.class_count_warning().empty());
}

TEST_CASE("run_image_protocol writes the summary and the warning for 10-class weights on a 2-class folder",
          "[train][image_protocol][resnet]") {
  testing::TempDir dir("normlab_image_protocol");
  const auto images = std::filesystem::path(testing::test_data_dir()) / "images";
  std::filesystem::create_directories(dir.path / "folder" / "a");
  std::filesystem::create_directories(dir.path / "folder" / "b");
  std::filesystem::copy_file(images / "rgb.png", dir.path / "folder" / "a" / "1.png");
  std::filesystem::copy_file(images / "gray.jpg", dir.path / "folder" / "a" / "2.jpg");
  std::filesystem::copy_file(images / "wide.jpg", dir.path / "folder" / "b" / "3.jpg");
  torch::manual_seed(7);
  auto ten = models::resnet18(10);
  save_state_dict(ten, dir.file("ten.pt"));

  ImageRunOptions o;
  o.data = dir.path / "folder";
  o.weights = dir.file("ten.pt");
  o.threads = 1;
  o.workers = 1;
  std::ostringstream log;
  o.log = &log;
  const auto r = run_image_protocol<ResNet18, compensate::None, device::Cpu>(o, NormalizationValues::uniform(0.5, 0.25));
  REQUIRE(r.total == 3);
  REQUIRE(r.loaded.classes == 10);
  REQUIRE(r.loaded.folder_classes == 2);
  REQUIRE(r.loaded.parameters == 11181642);  // torchvision's resnet18(num_classes=10)
  const std::string folder = (dir.path / "folder").string();
  CHECK(log.str() == "loaded resnet18 (11181642 parameters, 10 classes from weights '" + dir.file("ten.pt") +
                         "') on '" + folder + "': 3 images in 2 classes; mean=0.5 std=0.25, compensation none, "
                         "0 fine-tuning epoch(s), device cpu\n"
                         "warning: the weights '" + dir.file("ten.pt") + "' have 10 classes but the image folder '" +
                         folder + "' has 2; accuracy will be meaningless unless the folder's classes, sorted by "
                         "name, are the model's classes 0 to 1 in that order (fine-tune with epochs > 0 to learn "
                         "the mapping instead)\n");
  // Without weights the model takes the folder's classes: the summary, no warning.
  o.weights.clear();
  log.str("");
  const auto seeded = run_image_protocol<ResNet18, compensate::None, device::Cpu>(o, NormalizationValues::uniform(0, 1));
  REQUIRE(seeded.loaded.classes == 2);
  CHECK(log.str() == "loaded resnet18 (11177538 parameters, 2 classes from the folder, seeded initialisation) on '" +
                         folder + "': 3 images in 2 classes; mean=0 std=1, compensation none, 0 fine-tuning epoch(s), "
                         "device cpu\n");
}
