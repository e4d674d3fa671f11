#pragma once
// normlab::Pipeline: the notebook's main(mean, std) as one type.
//
//   using SeedMnist = Pipeline<Normalize<0.1307, 0.3081>, LeNet, Adadelta<>, ReduceOnPlateau<>,
//                              compensate::Notebook, device::Auto, data::Mnist>;
//   auto result = SeedMnist{}.run({.data_root = "data", .epochs = 25, .seed = 1998});
//
// Policies are found by the kind they declare (policy.hpp), in any order. The Model is required;
// every other slot has a default: Normalization = normalize::Identity, Compensation =
// compensate::Notebook, Optimizer = Adadelta<>, Scheduler = ReduceOnPlateau<> (mode max on test
// accuracy, as the notebook), Device = device::Auto, Dataset = data::Mnist. A Search policy may be
// named too; a study over the Pipeline reads it (search::search_policy_of_t, default search::Tpe<>,
// Optuna 3.1's TPESampler): run() never samples, so this header includes no sampler.
// run() trains on a Dataset held in memory; run_images() is the ImageNet protocol on an image
// folder (data::ImageFolderData), and ImageProtocol<Model, ...> names the notebook's slots for it.
// RunOptions::normalization gives the (mean, std) at run time, for searches: to a Pipeline whose
// Normalization is normalize::Runtime (or that names none). A compile-time Normalize<m, s>,
// NormalizePerChannel<...> or normalize::Identity is never overridden: run-time values that differ
// from it are refused (std::invalid_argument naming both), equal ones are accepted.

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <stdexcept>
#include <torch/torch.h>
#include <vector>

#include "normlab/compensate/compensate.hpp"
#include "normlab/data/image_folder_data.hpp"
#include "normlab/data/mnist.hpp"
#include "normlab/detail/compiled.hpp"
#include "normlab/detail/slots.hpp"
#include "normlab/device/device.hpp"
#include "normlab/models/lenet.hpp"
#include "normlab/normalize/batch_normalizer.hpp"
#include "normlab/normalize/normalize.hpp"
#include "normlab/normalize/normalizer.hpp"
#include "normlab/optim/policies.hpp"
#include "normlab/schedule/policies.hpp"
#include "normlab/train/epoch_loop.hpp"
#include "normlab/train/image_protocol.hpp"
#include "normlab/train/loops.hpp"
#include "normlab/train/net_stepper.hpp"
#include "normlab/train/policy_checks.hpp"
#include "normlab/train/policy_options.hpp"
#include "normlab/train/progress.hpp"
#include "normlab/train/run.hpp"
#include "normlab/train/variant_trainer.hpp"

namespace normlab {

#ifdef NORMLAB_COMPILED_TEMPLATE
// normlab::compiled holds LeNet's epochs and its notebook compensation (detail/compiled.hpp).
NORMLAB_COMPILED_TEMPLATE TrainStats train_epoch<LeNet, models::LeNet, BatchNormalizer>(
    models::LeNet&, torch::optim::Optimizer&, const data::LabelledImages&, BatchNormalizer&, int64_t, bool,
    std::size_t, Progress&, int, int);
NORMLAB_COMPILED_TEMPLATE TestStats test_epoch<LeNet, models::LeNet, BatchNormalizer>(
    models::LeNet&, const data::LabelledImages&, BatchNormalizer&, int64_t, bool);
NORMLAB_COMPILED_TEMPLATE void compensate_model<compensate::Notebook, LeNet, models::LeNet>(
    models::LeNet&, const NormalizationValues&);
#endif

template <class... Policies>
class Pipeline {
  static_assert((detail::check_is_policy<Policies>() && ...));
  static_assert(detail::check_model_count<detail::count_of_kind<policy::Model, Policies...>>());
  static_assert(detail::check_at_most_one<detail::count_of_kind<policy::Normalization, Policies...>>());
  static_assert(detail::check_at_most_one<detail::count_of_kind<policy::Compensation, Policies...>>());
  static_assert(detail::check_at_most_one<detail::count_of_kind<policy::Optimizer, Policies...>>());
  static_assert(detail::check_at_most_one<detail::count_of_kind<policy::Scheduler, Policies...>>());
  static_assert(detail::check_at_most_one<detail::count_of_kind<policy::Device, Policies...>>());
  static_assert(detail::check_at_most_one<detail::count_of_kind<policy::Dataset, Policies...>>());
  static_assert(detail::check_at_most_one<detail::count_of_kind<policy::Search, Policies...>>());

 public:
  using normalization_t = detail::slot_t<policy::Normalization, normalize::Identity, Policies...>;
  using compensation_t = detail::slot_t<policy::Compensation, compensate::Notebook, Policies...>;
  using model_t = detail::slot_t<policy::Model, void, Policies...>;
  using optimizer_t = detail::slot_t<policy::Optimizer, Adadelta<>, Policies...>;
  using scheduler_t = detail::slot_t<policy::Scheduler, ReduceOnPlateau<>, Policies...>;
  using device_t = detail::slot_t<policy::Device, device::Auto, Policies...>;
  using dataset_t = detail::slot_t<policy::Dataset, data::Mnist, Policies...>;
  /// The Search policy named in the Pipeline, or void. A study over the Pipeline resolves the
  /// default (search::search_policy_of_t: search::Tpe<>) above it, so the Pipeline knows no sampler.
  using named_search_t = detail::slot_t<policy::Search, void, Policies...>;
  static_assert(detail::check_normalization_policy<normalization_t>());
  static_assert(detail::check_model_policy<model_t>());
  static_assert(detail::check_optimizer_policy<optimizer_t>());
  static_assert(detail::check_scheduler_policy<scheduler_t>());
  static_assert(detail::check_compensation_policy<compensation_t>());
  static_assert(detail::check_device_policy<device_t>());
  static_assert(detail::check_dataset_policy<dataset_t>());
  static_assert(detail::check_compensation_applies<compensation_t, normalization_t>());
  /// Whether a Normalization is named (else: ToTensor alone, or the run-time values' affine).
  static constexpr bool names_normalization = detail::count_of_kind<policy::Normalization, Policies...> != 0;
  /// What turns a uint8 batch into the model's input: the Normalization's `normalizer`, or, where
  /// none is named, the affine one (ToTensor alone until run-time values are given).
  using normalizer_t =
      std::conditional_t<names_normalization, typename normalization_t::normalizer, BatchNormalizer>;


  /// Whether RunOptions::normalization may choose this pipeline's (mean, std): its Normalization
  /// takes run-time values (normalize::Runtime, PerImageStandardize, LearnedAffine: policies that
  /// declare takes_runtime_values), or it names none (then normalize::Identity when no values are
  /// given). False for a compile-time Normalize, NormalizePerChannel or normalize::Identity, which
  /// run-time values may only repeat. A study over (mean, std) needs it true (normalization_study.hpp).
  static constexpr bool takes_runtime_normalization =
      takes_runtime_values<normalization_t> || !names_normalization;

  /**
   * The (mean, std) a run uses, given the run-time values `given` (RunOptions::normalization): them
   * where takes_runtime_normalization, else the compile-time policy's values. Run-time values that
   * differ from a compile-time Normalization are a std::invalid_argument naming both (`source`
   * says where they came from); equal ones (NormalizationValues::same_as) are accepted.
   */
  static NormalizationValues resolve_normalization(const std::optional<NormalizationValues>& given,
                                                   const char* source = "RunOptions::normalization") {
    if (given) given->validate();
    if constexpr (takes_runtime_normalization) {
      if (given) return *given;
      return normalization_t::values();  // the default (normalize::Runtime's throws: it has none)
    } else {
      auto fixed = normalization_t::values();
      if (!given) return fixed;
      if (!given->same_as(fixed)) {
        std::string policy = "its compile-time Normalization";
        if constexpr (requires { normalization_t::name; }) policy = normalization_t::name;
        throw std::invalid_argument("normlab::Pipeline: " + std::string(source) + " (" + given->to_string() +
                                    ") differs from the Pipeline's compile-time " + policy + " (" +
                                    fixed.to_string() +
                                    "); run-time values never override a compile-time Normalization: "
                                    "name normalize::Runtime in the Pipeline to take them at run time, or "
                                    "leave them unset (docs/pipeline.md)");
      }
      return *given;  // the same transform; the run-time spelling, as runs always used
    }
  }

  /// Hyper-parameters at run time (docs/pipeline.md): the optimizer's and the scheduler's options,
  /// the policies' compile-time constants until a program changes them, e.g. for a study over lr:
  /// `Pipeline<...> p; p.optimizer_options.lr(0.5); p.run(options);`. Checked when run() makes them.
  options_of_t<optimizer_t> optimizer_options = default_options<optimizer_t>();
  options_of_t<scheduler_t> scheduler_options = default_options<scheduler_t>();

  /// Reads the Dataset policy's data from options.data_root, then trains and tests.
  RunResult run(const RunOptions& options) const {
    check(options);  // refuse bad options before reading any data
    return run(options, dataset_t::load(options.data_root));
  }

  /// Trains and tests on data already loaded (a study loads once, runs many trials).
  RunResult run(const RunOptions& options, const data::TrainTest& data) const {
    check(options);
    if constexpr (std::is_same_v<model_t, LeNet>) {  // fast is LeNet's; elsewhere ignored
      if constexpr (std::is_base_of_v<BatchNormalizer, normalizer_t>) {
        if (options.fast) {
          if (!are_default_options<optimizer_t>(optimizer_options) || !are_default_options<scheduler_t>(scheduler_options))
            throw std::invalid_argument("normlab::Pipeline: RunOptions::fast trains with the policies' compile-time "
                                        "constants; this Pipeline's optimizer_options or scheduler_options differ: "
                                        "run it without fast, or put the values in the policies' template arguments");
          return detail::run_fast<Pipeline>(options, data);
        }
      } else if (options.fast) {
        throw std::invalid_argument(std::string("normlab::Pipeline: RunOptions::fast trains LeNet with "
                                                "torchvision's Normalize built in; ") +
                                    normalization_t::name + " has a normalizer of its own: run it without fast");
      }
    }
    RunResult result;
    result.normalization = resolve_normalization(options.normalization);
    const bool identity = !options.normalization;  // used only where no Normalization is named

    device::set_threads(options.threads);
    if (options.keep_freed_memory) device::keep_freed_memory();
    const torch::Device dev = device_t::select();
    const bool shuffle = options.shuffle.value_or(dev.is_cuda());
    const auto start = std::chrono::steady_clock::now();

    // The notebook's order: seed, then the model, then the compensation, then the optimizer.
    torch::manual_seed(options.seed);
    auto net = model_t::make(data.classes);
    net->to(dev);
    compensate_model<compensation_t, model_t>(net, result.normalization);
    // One normalizer for training and testing (a learned one must be the same object); it draws no
    // random numbers, so making it here keeps the notebook's order.
    auto input = make_input(result.normalization, dev, identity);
    auto opt = make_with_options<optimizer_t>(trained_parameters(net, input), optimizer_options);
    auto sched = make_with_options<scheduler_t>(*opt, scheduler_options);

    // The data moves to the device once, as uint8; batches are normalized there.
    const auto train = data.train.first(options.train_limit).to(dev);
    const auto test = data.test.first(options.test_limit).to(dev);
    if (train.size() == 0 || test.size() == 0)
      throw std::invalid_argument("normlab::Pipeline: empty training or test set");

    // The epochs: the one epoch loop (train/epoch_loop.hpp) with this net as its one lane.
    using scheduler_state = decltype(sched);
    using module_t = decltype(net);
    NetStepper<model_t, scheduler_t, module_t, normalizer_t, scheduler_state> stepper{
        net, *opt, sched, input, train, test, options.train_batch, options.test_batch, shuffle};
    std::vector<VariantRun> runs(1);
    runs.front().result = std::move(result);
    return std::move(run_epochs(stepper, std::move(runs), run_loop_options(options), start).front().result);
  }

  /**
   * The notebook's ImageNet protocol (train/image_protocol.hpp) with this Pipeline's slots: its
   * Model (ResNet18/34/50) with ImageRunOptions::weights, its Compensation, its Normalization with
   * `values`, `o.epochs` fine-tuning epochs through the epoch loop with its Optimizer and Scheduler
   * (ImageProtocol's: Sgd<>, ReduceOnTrainLoss<>), on its Device, then the test accuracy on the
   * folder's images. The Dataset must be data::ImageFolderData<Transform>.
   *
   * @param test the test images already decoded (prepare_images), e.g. once for all the trials
   *        of a study; nullptr: decoded here.
   */
  ImageRunResult run_images(const ImageRunOptions& o, const NormalizationValues& values,
                            const PreparedImages* test = nullptr) const {
    return run_image_pipeline<Pipeline>(o, resolve_normalization(values, "run_images' (mean, std)"), test);
  }

 private:
  // The Normalization's normalizer; where none is named, ToTensor alone until values are given.
  static normalizer_t make_input(const NormalizationValues& values, torch::Device dev, bool identity) {
    if constexpr (names_normalization)
      return make_normalizer<normalization_t>(values, dev);
    else
      return BatchNormalizer(values, dev, identity);
  }

  static void check(const RunOptions& o) {
    resolve_normalization(o.normalization);  // invalid, missing or conflicting (mean, std)
    auto positive = [](int64_t v, const char* what) {
      if (v <= 0)
        throw std::invalid_argument(std::string("normlab::RunOptions: ") + what +
                                    " must be > 0 (got " + std::to_string(v) + ")");
    };
    positive(o.epochs, "epochs");
    positive(o.train_batch, "train_batch");
    positive(o.test_batch, "test_batch");
    if (o.train_limit < 0 || o.test_limit < 0)
      throw std::invalid_argument("normlab::RunOptions: train_limit and test_limit must be >= 0");
  }
};

/**
 * The notebook's ResNet protocol as a Pipeline: Model (ResNet18, ResNet34, ResNet50), conv1
 * Compensation, Device and Normalization (default normalize::Runtime: the (mean, std) given to
 * run_images), with the notebook's SGD(lr 0.01, momentum 0.9), ReduceLROnPlateau('min') on the
 * epoch's training loss and an image folder (docs/imagenet.md). `ImageProtocol<ResNet18,
 * compensate::Notebook, device::Named>{}.run_images(options, values)`; run_image_protocol is the
 * same call.
 */
template <class Model, class Compensation = compensate::Notebook, class Device = device::Auto,
          class Normalization = normalize::Runtime>
using ImageProtocol = Pipeline<Model, Compensation, Device, Normalization, Sgd<>, ReduceOnTrainLoss<>,
                               data::ImageFolderData<>>;

namespace detail {
/// The check of every study over (mean, std) of a Pipeline (normalization_objective, run_study,
/// run_trials_batched, run_study_batched): its trials set RunOptions::normalization, which a
/// compile-time Normalization would refuse at run time; here the build stops instead, once.
template <class PipelineType>
constexpr bool check_study_pipeline() {
  static_assert(PipelineType::takes_runtime_normalization,
                "normlab: a study over (mean, std) needs a Pipeline whose Normalization takes run-time values "
                "(normalize::Runtime, PerImageStandardize, LearnedAffine, or a policy declaring "
                "takes_runtime_values); this one fixes (mean, std) at compile time with Normalize, "
                "NormalizePerChannel or normalize::Identity, which run-time values never override (docs/pipeline.md)");
  return true;
}
}  // namespace detail

}  // namespace normlab
