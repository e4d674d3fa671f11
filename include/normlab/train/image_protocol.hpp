#pragma once
// The notebook's ImageNet protocol (its second half) for an ImageFolder and a ResNet:
// Resize(256) -> ToTensor -> CenterCrop(224) -> Normalize(mean, std) on three channels, pretrained
// weights loaded from a torch.save'd state_dict, the chosen conv1 compensation, optionally N epochs
// of fine-tuning (SGD lr 0.01, momentum 0.9, CrossEntropy, ReduceLROnPlateau('min') on the epoch's
// training loss), then test accuracy.
//
// The protocol is a Pipeline's (pipeline.hpp): run_image_pipeline<PipelineType> takes the model,
// compensation, normalization, optimizer, scheduler, device and data (data::ImageFolderData) from
// its slots, and its fine-tuning epochs are the one epoch loop's (train/epoch_loop.hpp) with an
// ImageStepper. Pipeline::run_images calls it; ImageProtocol<Model, Compensation, Device> names the
// notebook's slots (Sgd<>, ReduceOnTrainLoss<>); run_image_protocol<Model, Compensation, Device,
// Normalization> is that Pipeline's run_images, for the callers that name no Pipeline.
//
// The notebook's own loop is `for epoch in range(1, epochs)` with epochs = 1: it trains zero epochs,
// so its study is evaluation-only. Here `epochs` counts training epochs: 0 is the notebook.
//
// Images are decoded and transformed once per pass by a multi-threaded loader as uint8; the /255
// and Normalize run batched on the device (BatchNormalizer), bit-identical to torchvision's.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "normlab/compensate/compensate.hpp"
#include "normlab/data/batches.hpp"
#include "normlab/data/dataset.hpp"
#include "normlab/data/image_folder.hpp"
#include "normlab/data/image_folder_data.hpp"
#include "normlab/device/device.hpp"
#include "normlab/image/transforms.hpp"
#include "normlab/models/state_dict.hpp"
#include "normlab/normalize/batch_normalizer.hpp"
#include "normlab/normalize/normalizer.hpp"
#include "normlab/optim/policies.hpp"
#include "normlab/schedule/policies.hpp"
#include "normlab/train/epoch_loop.hpp"
#include "normlab/train/progress.hpp"
#include "normlab/train/run.hpp"

namespace normlab {

/// Where the images of a protocol run are: `root/train` and `root/val` when both are image
/// folders, else `root` itself is the folder evaluated (and nothing can be fine-tuned).
struct ImageFolders {
  std::optional<std::filesystem::path> train;
  std::filesystem::path val;

  static ImageFolders find(const std::filesystem::path& root) {
    const auto train = root / "train", val = root / "val";
    if (std::filesystem::is_directory(train) && std::filesystem::is_directory(val)) return {train, val};
    return {std::nullopt, root};
  }
};

/// How one run of the image protocol goes; defaults are the notebook's.
struct ImageRunOptions {
  std::filesystem::path data;           ///< see ImageFolders::find
  std::filesystem::path weights;        ///< a torch.save'd state_dict; empty: seeded initialisation
  int64_t classes = 0;                  ///< 0: from the weights' fc, else the folder's class count
  int epochs = 0;                       ///< fine-tuning epochs before the test (0: the notebook)
  int64_t train_batch = 64;
  int64_t test_batch = 1000;
  int64_t workers = 2;                  ///< decoding threads
  int64_t limit = 0;                    ///< first K test images (0: all)
  int64_t train_limit = 0;              ///< first K training images (0: all)
  bool skip_corrupt = false;            ///< skip unreadable images (counted) instead of failing
  int threads = 0;                      ///< intra-op threads (0: leave as is)
  uint64_t seed = 1998;
  /// Overrides of the Optimizer policy's learning rate and (SGD's) momentum; unset: the policy's
  /// own (ImageProtocol's Sgd<>: 0.01 and 0.9, the notebook's).
  std::optional<double> lr;
  std::optional<double> momentum;
  std::filesystem::path predictions;    ///< CSV: path, true class, predicted class, logits
  /// Progress lines, and before the run one line of what was loaded (ImageRunSummary) and, where
  /// the model's classes differ from the folder's, a warning; nullptr for silence.
  std::ostream* log = &std::cerr;
};

/**
 * What a run of the image protocol loaded: one line for a person (to_string()) and, when the model's
 * class count differs from the folder's, a warning (class_count_warning()). Made by
 * summarize_image_run; run_image_protocol writes both to ImageRunOptions::log before it evaluates.
 */
struct ImageRunSummary {
  std::string model;                ///< the Model policy's name, e.g. "resnet18"
  int64_t parameters = 0;           ///< the model's parameter count (its buffers not included)
  int64_t classes = 0;              ///< the model's outputs
  std::filesystem::path weights;    ///< empty: seeded initialisation
  bool classes_given = false;       ///< the class count came from ImageRunOptions::classes (--classes)
  std::filesystem::path folder;     ///< the folder evaluated
  int64_t images = 0;               ///< images in the folder that are evaluated (after limit)
  int64_t folder_classes = 0;       ///< the folder's classes (sub-folders)
  int epochs = 0;                   ///< fine-tuning epochs before the test
  std::optional<NormalizationValues> normalization;  ///< nullopt: each trial of a study has its own
  std::string compensation;
  std::string device;

  /// "resnet18 (11689512 parameters, 1000 classes from weights 'w.pt') on 'data/val': 200 images in
  /// 10 classes; mean=0 std=1, compensation notebook, 0 fine-tuning epoch(s), device cpu" (the same
  /// (mean, std) on every channel is written once)
  std::string to_string() const {
    std::ostringstream out;
    out << model << " (" << parameters << " parameters, " << classes << " classes "
        << (classes_given ? "as given" : !weights.empty() ? "from" : "from the folder, seeded initialisation");
    if (!weights.empty()) out << (classes_given ? ", weights '" : " weights '") << weights.string() << "'";
    out << ") on '" << folder.string() << "': " << images << " images in " << folder_classes << " classes; "
        << (!normalization ? std::string("(mean, std) per trial")
            : normalization->is_uniform()  // one (mean, std) on every channel: written once
                ? NormalizationValues::uniform(normalization->mean[0], normalization->std[0]).to_string()
                : normalization->to_string())
        << ", compensation " << compensation << ", " << epochs
        << " fine-tuning epoch(s), device " << device;
    return out.str();
  }

  /// Empty when the model has as many classes as the folder. Otherwise one sentence: with more
  /// model classes, folder class i (sorted by name) is scored against the model's class i, which is
  /// meaningless unless they are the same class (fine-tuning learns the mapping: no warning then);
  /// with fewer, the folder's extra classes can never be predicted.
  std::string class_count_warning() const {
    if (classes == folder_classes || (classes > folder_classes && epochs > 0)) return "";
    std::ostringstream out;
    out << "warning: ";
    if (!weights.empty()) out << "the weights '" << weights.string() << "' have ";
    else out << "the model has ";
    out << classes << " classes but the image folder '" << folder.string() << "' has " << folder_classes << "; ";
    if (classes > folder_classes)
      out << "accuracy will be meaningless unless the folder's classes, sorted by name, are the model's classes 0 to "
          << folder_classes - 1 << " in that order (fine-tune with epochs > 0 to learn the mapping instead)";
    else
      out << "images of its classes " << classes << " to " << folder_classes - 1
          << " can never be predicted correctly (set the class count to the folder's)";
    return out.str();
  }
};

struct ImageRunResult {
  double accuracy = 0;
  int64_t correct = 0;
  int64_t total = 0;
  int64_t skipped = 0;                  ///< corrupt images skipped (skip_corrupt)
  std::vector<double> train_losses;     ///< per fine-tuning epoch
  double seconds = 0;
  ImageRunSummary loaded;               ///< what was loaded (also written to ImageRunOptions::log)
};

/// A test set decoded and transformed once (uint8 [N, 3, 224, 224]) for many evaluations, e.g.
/// the trials of a study: each trial then costs only the network's forward passes
/// (Pipeline::run_images takes it; data/image_folder_data.hpp).
using PreparedImages = data::DecodedImages;

template <class Transform = image::NotebookTransform>
PreparedImages prepare_images(const std::filesystem::path& folder_root, int64_t limit, int64_t workers,
                              bool skip_corrupt) {
  return data::decode_image_folder<Transform>(folder_root, limit, workers, skip_corrupt);
}

/// The class count a state_dict's final layer was saved with (fc.weight's rows).
inline int64_t classes_in_weights(const std::filesystem::path& weights) {
  // From data.pkl alone: nothing is read (or allocated) for a file whose fc claims millions of rows.
  for (const auto& [name, sizes] : read_state_dict_shapes(weights.string()))
    if (name == "fc.weight" && !sizes.empty()) return sizes[0];
  throw StateDictError("normlab: '" + weights.string() + "' has no fc.weight to take the class count from");
}

/// The model's class count for a run on `test`: ImageRunOptions::classes when set, else the
/// weights' (fc.weight's rows), else the folder's.
inline int64_t image_run_classes(const ImageRunOptions& o, const PreparedImages& test) {
  return o.classes > 0 ? o.classes
         : !o.weights.empty() ? classes_in_weights(o.weights)
                              : static_cast<int64_t>(test.classes.size());
}

/// What a run with `net` (a ModelPolicy's module, `classes` outputs) on `test` (read from `folder`)
/// loaded, for the summary line and the class-count warning; `values` nullopt for a study's trials.
template <class ModelPolicy, class Compensation, class Net>
ImageRunSummary summarize_image_run(const Net& net, int64_t classes, const ImageRunOptions& o,
                                    const std::filesystem::path& folder, const PreparedImages& test,
                                    const std::optional<NormalizationValues>& values, torch::Device device) {
  ImageRunSummary s;
  if constexpr (requires { ModelPolicy::name; }) s.model = ModelPolicy::name;
  else s.model = "model";
  for (const auto& p : net->parameters()) s.parameters += p.numel();
  s.classes = classes;
  s.weights = o.weights;
  s.classes_given = o.classes > 0;
  s.folder = folder;
  s.images = test.set.size();
  s.folder_classes = static_cast<int64_t>(test.classes.size());
  s.epochs = o.epochs;
  s.normalization = values;
  if constexpr (requires { Compensation::name; }) s.compensation = Compensation::name;
  else s.compensation = "custom";
  s.device = device.str();
  return s;
}

/// Writes the summary line (prefixed with `program`, e.g. "resnet_eval: ") and, when there is one,
/// the class-count warning, one line each, to `out` (nothing when `out` is nullptr).
inline void print_image_run_summary(const ImageRunSummary& s, std::ostream* out, const std::string& program = "") {
  if (!out) return;
  *out << program << "loaded " << s.to_string() << "\n";
  const auto warning = s.class_count_warning();
  if (!warning.empty()) *out << program << warning << "\n";
}

namespace detail {

/// A CSV field as RFC 4180 quotes it: in double quotes, each inner quote doubled, so that a file
/// name holding quotes, commas or newlines stays one field. (Cells are not altered against
/// spreadsheet formulas: a path starts with the folder's own name, and the data must stay exact.)
inline std::string csv_quoted(const std::string& field) {
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

inline void write_predictions_header(std::ofstream& out, int64_t classes) {
  out << "path,true_class,predicted_class";
  for (int64_t c = 0; c < classes; ++c) out << ",logit_" << c;
  out << "\n";
}

inline void write_predictions(std::ofstream& out, const std::vector<std::string>& paths, int64_t first,
                              const torch::Tensor& labels, const torch::Tensor& logits) {
  const auto cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto truth = labels.to(torch::kCPU);
  const auto predicted = cpu.argmax(1);
  const auto n = cpu.size(0), classes = cpu.size(1);
  const float* l = cpu.data_ptr<float>();
  char number[32];
  for (int64_t i = 0; i < n; ++i) {
    const auto& path = paths[static_cast<std::size_t>(first + i)];
    out << csv_quoted(path) << ',' << truth[i].item<int64_t>() << ',' << predicted[i].item<int64_t>();
    for (int64_t c = 0; c < classes; ++c) {
      std::snprintf(number, sizeof number, "%.9g", l[i * classes + c]);
      out << ',' << number;
    }
    out << '\n';
  }
}

}  // namespace detail

/// Test accuracy of `net` (eval mode, no grad) on prepared images, normalized on the device.
template <class Module, class BatchInput>
std::pair<int64_t, int64_t> evaluate_images(Module& net, const PreparedImages& images, BatchInput& normalize,
                                            torch::Device device, int64_t batch, std::ofstream* predictions) {
  net->eval();
  torch::NoGradGuard no_grad;
  data::EpochOrder order(images.set.size(), false);  // the DataLoader iterator's draw, as the notebook
  int64_t correct = 0;
  for (auto range : data::batch_ranges(images.set.size(), batch)) {
    auto [raw, labels] = order.take(images.set, range);
    auto logits = net->forward(normalize(raw.to(device)));
    correct += logits.argmax(1).eq(labels.to(device)).sum().template item<int64_t>();
    if (predictions) detail::write_predictions(*predictions, images.paths, range.start, labels, logits);
  }
  return {correct, images.set.size()};
}

/**
 * The epoch loop's stepper (train/epoch_loop.hpp) for fine-tuning one net on an image folder: each
 * epoch streams the folder's training images through the loader (shuffled on CUDA, as the
 * notebook's DataLoader), one optimizer step per batch; the mean batch loss (each read as a double,
 * as the notebook's loss.item()) is the epoch's. It does not test each epoch: the protocol tests
 * once, after the last one.
 */
template <class ModelPolicy, class SchedulerPolicy, class Module, class BatchInput, class SchedulerState,
          class Transform>
struct ImageStepper {
  static constexpr bool tests_each_epoch = false;
  Module& net;
  torch::optim::Optimizer& optimizer;
  SchedulerState& scheduler;
  BatchInput& input;
  const data::ImageFolder& folder;
  const ImageRunOptions& options;  ///< train_batch, train_limit, workers, skip_corrupt
  torch::Device device;

  std::size_t lanes() const { return 1; }
  double lr(std::size_t) const { return optimizer.param_groups().front().options().get_lr(); }
  std::vector<TrainStats> train(int epoch, int epochs, std::size_t, Progress& progress, const std::vector<bool>&) {
    const auto& o = options;
    net->train();
    data::EpochOrder order(std::min(folder.size(), o.train_limit > 0 ? o.train_limit : folder.size()),
                           device.is_cuda());
    data::ImageBatchLoader<Transform> loader(folder, data::ImageLoaderOptions()
                                                         .batch_size(o.train_batch)
                                                         .workers(o.workers)
                                                         .limit(o.train_limit)
                                                         .skip_corrupt(o.skip_corrupt)
                                                         .order(order.indices()));
    double loss_sum = 0;
    int64_t batches = 0, done = 0;
    const int64_t total = (loader.size() + o.train_batch - 1) / o.train_batch;
    for (auto& batch : loader) {
      interrupt::check();  // Ctrl-C under an InterruptGuard stops here, between batches
      optimizer.zero_grad();
      auto loss = ModelPolicy::loss(net->forward(input(batch.images.to(device))), batch.labels.to(device));
      loss.backward();
      optimizer.step();
      loss_sum += loss.template item<double>();
      ++batches;
      progress.batch(epoch, epochs, ++done, total);
    }
    TrainStats stats;
    stats.mean_loss = batches ? loss_sum / batches : 0;
    return {stats};
  }
  std::vector<TestStats> test(const std::vector<bool>&) { return {TestStats{}}; }  // not called
  void step_scheduler(std::size_t, const EpochRecord& record) {
    normlab::step_scheduler<SchedulerPolicy>(scheduler, record);
  }
  void retire(std::size_t) {}
};

namespace detail {
/// ImageRunOptions::lr and ::momentum over the Optimizer policy's values, before any step (so the
/// same run as an optimizer made with them).
inline void override_optimizer(torch::optim::Optimizer& optimizer, const ImageRunOptions& o) {
  for (auto& group : optimizer.param_groups()) {
    if (o.lr) group.options().set_lr(*o.lr);
    if (o.momentum) {
      auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&group.options());
      if (!sgd)
        throw std::invalid_argument("normlab: ImageRunOptions::momentum is SGD's; this Pipeline's Optimizer is not SGD");
      sgd->momentum(*o.momentum);
    }
  }
}
}  // namespace detail

/**
 * The notebook's ImageNet protocol once, with PipelineType's slots: its Model (ResNet18/34/50), its
 * Compensation, its Normalization taking `values` (normalize::Runtime: torchvision's Normalize),
 * its Optimizer (ImageRunOptions::lr and ::momentum override its values where set) and Scheduler
 * for the fine-tuning epochs, its Device, and its Dataset's Transform (data::ImageFolderData).
 * Pipeline::run_images calls it; so does run_image_protocol.
 *
 * @param test the test images already decoded (prepare_images with o.limit, o.workers and
 *        o.skip_corrupt on the folder evaluated), e.g. once for all the trials of a study;
 *        nullptr: decoded here.
 * @throws TrainingDiverged when a fine-tuning epoch's mean loss is NaN or infinite.
 */
template <class PipelineType>
ImageRunResult run_image_pipeline(const ImageRunOptions& o, const NormalizationValues& values,
                                  const PreparedImages* test = nullptr) {
  using model_t = typename PipelineType::model_t;
  using compensation_t = typename PipelineType::compensation_t;
  using normalization_t = typename PipelineType::normalization_t;
  using optimizer_t = typename PipelineType::optimizer_t;
  using scheduler_t = typename PipelineType::scheduler_t;
  using device_t = typename PipelineType::device_t;
  using dataset_t = typename PipelineType::dataset_t;
  static_assert(data::is_image_folder_data<dataset_t>,
                "normlab: the image protocol (Pipeline::run_images) needs an image-folder Dataset policy, "
                "data::ImageFolderData<Transform> (docs/imagenet.md)");
  using transform_t = typename dataset_t::transform;
  static_assert(detail::check_normalization_policy<normalization_t>());
  static_assert(detail::check_compensation_applies<compensation_t, normalization_t>());
  values.validate();
  // Checked before any work: a batch of 0 would divide by zero, a negative one test nothing.
  if (o.train_batch < 1 || o.test_batch < 1 || o.epochs < 0 || o.workers < 0 || o.limit < 0 || o.train_limit < 0 ||
      o.classes < 0)
    throw std::invalid_argument("normlab: ImageRunOptions: train_batch (" + std::to_string(o.train_batch) +
                                ") and test_batch (" + std::to_string(o.test_batch) +
                                ") must be >= 1; epochs, workers, limit, train_limit and classes >= 0");
  const auto start = std::chrono::steady_clock::now();
  const auto folders = ImageFolders::find(o.data);
  if (o.epochs > 0 && !folders.train)
    throw std::invalid_argument("normlab: fine-tuning (epochs > 0) needs '" + (o.data / "train").string() +
                                "' and '" + (o.data / "val").string() + "' image folders");
  device::set_threads(o.threads);
  device::keep_freed_memory();
  const torch::Device dev = device_t::select();

  // The notebook's order: seed, data, model (+ weights), compensation, criterion, optimizer.
  // (Decoding draws no random numbers: images decoded before, once, are the same run.)
  torch::manual_seed(o.seed);
  std::optional<PreparedImages> decoded;
  if (!test) test = &decoded.emplace(prepare_images<transform_t>(folders.val, o.limit, o.workers, o.skip_corrupt));
  const int64_t classes = image_run_classes(o, *test);
  auto net = model_t::make(classes);
  if (!o.weights.empty()) load_state_dict(net, o.weights.string());
  net->to(dev);
  compensate_model<compensation_t, model_t>(net, values);

  ImageRunResult result;
  result.skipped = test->skipped;
  result.loaded = summarize_image_run<model_t, compensation_t>(net, classes, o, folders.val, *test, values, dev);
  print_image_run_summary(result.loaded, o.log);
  auto normalize = make_normalizer<normalization_t>(values, dev);  // one for training and testing
  if (o.epochs > 0) {
    auto optimizer = optimizer_t::make(trained_parameters(net, normalize));
    detail::override_optimizer(*optimizer, o);
    auto scheduler = scheduler_t::make(*optimizer);
    data::ImageFolder train_folder(*folders.train);
    ImageStepper<model_t, scheduler_t, decltype(net), decltype(normalize), decltype(scheduler), transform_t> stepper{
        net, *optimizer, scheduler, normalize, train_folder, o, dev};
    EpochLoopOptions loop;
    loop.epochs = o.epochs;
    loop.log = o.log;
    std::vector<VariantRun> runs(1);
    runs.front().result.normalization = values;
    runs = run_epochs(stepper, std::move(runs), loop, start);
    for (const auto& epoch : runs.front().result.history) result.train_losses.push_back(epoch.train_loss);
  }

  std::optional<std::ofstream> predictions;
  if (!o.predictions.empty()) {
    predictions.emplace(o.predictions);
    if (!*predictions) throw std::runtime_error("normlab: cannot write '" + o.predictions.string() + "'");
    detail::write_predictions_header(*predictions, classes);
  }
  const auto [correct, total] =
      evaluate_images(net, *test, normalize, dev, o.test_batch, predictions ? &*predictions : nullptr);
  if (predictions) {  // a full disk shows only here: a CSV that lost rows must not look written
    predictions->close();
    if (predictions->fail())
      throw std::runtime_error("normlab: could not write all of the predictions to '" + o.predictions.string() +
                               "' (disk full?)");
  }
  result.correct = correct;
  result.total = total;
  result.accuracy = total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace detail {
/// The slots of ImageProtocol<ModelPolicy, Compensation, Device, Normalization> (pipeline.hpp), for
/// run_image_protocol, which sits below the Pipeline: the notebook's Sgd<> and ReduceOnTrainLoss<>
/// on data::ImageFolderData<> (a test checks that both give the same run).
template <class ModelPolicy, class Compensation, class Device, class Normalization>
struct NotebookImageSlots {
  using model_t = ModelPolicy;
  using compensation_t = Compensation;
  using normalization_t = Normalization;
  using optimizer_t = Sgd<>;
  using scheduler_t = ReduceOnTrainLoss<>;
  using device_t = Device;
  using dataset_t = data::ImageFolderData<>;
};
}  // namespace detail

/// The notebook's ImageNet protocol once, for a Model policy (ResNet18/34/50), a Compensation and a
/// Normalization policy taking `values` (default: torchvision's Normalize, BatchNormalizer):
/// ImageProtocol<ModelPolicy, Compensation, Device, Normalization>{}.run_images(o, values).
template <class ModelPolicy, class Compensation, class Device = device::Auto, class Normalization = normalize::Runtime>
ImageRunResult run_image_protocol(const ImageRunOptions& o, const NormalizationValues& values) {
  return run_image_pipeline<detail::NotebookImageSlots<ModelPolicy, Compensation, Device, Normalization>>(o, values);
}

}  // namespace normlab
