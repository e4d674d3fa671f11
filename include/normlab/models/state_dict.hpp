#pragma once
// Python's `torch.save(model.state_dict(), path)` files, read and written from C++ without Python.
//
// The file is a zip archive (PyTorch >= 1.6): <folder>/data.pkl (a pickle, protocol 2, of an
// OrderedDict name -> tensor), <folder>/data/<key> (the raw little-endian bytes of each storage) and
// <folder>/version; <folder> is "archive" or the saved file's stem. The zip is read and written with
// LibTorch's own caffe2::serialize::PyTorchStreamReader/Writer (the same code as torch.save and
// torch.load; in LibTorch 1.13 and 2.x alike). data.pkl is read by a small unpickler of our own
// (models/pickle.hpp, with the pickler that writes it), which knows the opcodes and globals
// torch.save uses for a state_dict of dense tensors; each tensor is rebuilt here from its storage
// (dtype, storage offset, sizes, strides: views keep sharing storage).
//
//   auto entries = normlab::read_state_dict("resnet18.pt");          // [(name, tensor)], file order
//   normlab::load_state_dict(*net, "resnet18.pt");                   // by name, strict
//   normlab::save_state_dict(*net, "from_cpp.pt");                   // torch.load() reads it
//
// Files in the legacy format (PyTorch < 1.6, or _use_new_zipfile_serialization=False; torchvision's
// older downloads) are recognised and refused with the one-line fix: scripts/convert_legacy_checkpoint.py.
// See docs/models.md.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include "normlab/models/pickle.hpp"

namespace normlab {

/// What load_state_dict() did not find (module entries absent from the file) and did not use (file
/// entries the module lacks), as Python's `_IncompatibleKeys`. Both are empty after a strict load.
struct LoadStateDictResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

namespace detail {

/// A module's state in Python's state_dict order: for each module (pre-order, registration
/// order), its own parameters, then its own buffers, then its children's.
inline void state_entries(const torch::nn::Module& module, const std::string& prefix,
                          std::vector<std::pair<std::string, torch::Tensor>>& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : module.named_children()) state_entries(*c.value(), prefix + c.key() + ".", out);
}

/// What a torch.save file of a state_dict holds, as data.pkl describes it: no storage has been
/// read yet (materialise() reads them), so names and shapes can be checked first.
struct StateDictFile {
  std::string who;  ///< "normlab::read_state_dict: '<path>'", the start of every error
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  std::vector<std::pair<std::string, pickle::StoredTensor>> entries;
  std::map<std::string, pickle::StorageInfo> storages;
  std::map<std::string, int64_t> versions;  ///< _metadata: module prefix -> its state version
};

inline std::string shape_string(torch::IntArrayRef sizes) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << ']';
  return s.str();
}

/// "a, b, c (and 12 more)": a list for an error message.
inline std::string key_list(const std::vector<std::string>& keys, std::size_t shown = 12) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < shown; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > shown) out += " (and " + std::to_string(keys.size() - shown) + " more)";
  return out;
}

inline std::string what_of(const c10::Error& e) {
  std::string s = e.what_without_backtrace();
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

inline std::string what_of(const c10::Error& e);

/// The tensors of a StateDictFile (all of them, or those `wanted` names), in the file's order.
/// Each storage is read once, so views saved together share it; a storage's bytes are checked
/// against its record's size before its tensor is allocated.
inline std::vector<std::pair<std::string, torch::Tensor>> materialise(
    StateDictFile& file, const std::set<std::string>* wanted = nullptr) {
  try {
    std::map<std::string, torch::Tensor> loaded;
    auto storage_of = [&](const std::string& key) -> const torch::Tensor& {
      auto it = loaded.find(key);
      if (it != loaded.end()) return it->second;
      const auto& info = file.storages.at(key);
      const std::string record = "data/" + key;
      if (!file.zip->hasRecord(record))
        throw StateDictError("data.pkl names storage " + key + ", but the archive has no " + record);
      auto [ptr, n] = file.zip->getRecord(record);
      const auto element = static_cast<int64_t>(c10::elementSize(info.dtype));
      int64_t need = 0;
      if (!pickle::mul_ok(info.numel, element, need) || static_cast<uint64_t>(need) > n)
        throw StateDictError(record + " holds " + std::to_string(n) + " bytes, but its storage needs " +
                             (need ? std::to_string(need) : std::to_string(info.numel) + " elements of " +
                                                                std::to_string(element) + " bytes"));
      auto storage = torch::empty({info.numel}, torch::dtype(info.dtype));
      if (need) std::memcpy(storage.data_ptr(), ptr.get(), static_cast<std::size_t>(need));
      return loaded.emplace(key, storage).first->second;
    };
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& [name, t] : file.entries) {
      if (wanted && !wanted->count(name)) continue;
      const auto& storage = storage_of(t.storage);
      int64_t numel = 1;
      for (auto s : t.sizes) numel *= s;  // checked by the unpickler: no overflow
      out.emplace_back(name, numel == 0 ? torch::empty(t.sizes, storage.options())
                                        : storage.as_strided(t.sizes, t.strides, t.offset));
    }
    return out;
  } catch (const StateDictError& e) {
    throw StateDictError(file.who + ": " + e.what());
  } catch (const c10::Error& e) {
    throw StateDictError(file.who + ": cannot read the archive (truncated or corrupt?): " + what_of(e));
  }
}

inline StateDictFile read_state_dict_file(const std::string& path) {
  namespace fs = std::filesystem;
  using detail::pickle::Value;
  const std::string who = "normlab::read_state_dict: '" + path + "'";
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StateDictError(who + ": no such file");
  if (fs::is_directory(path, ec)) throw StateDictError(who + ": is a directory, not a file");

  // Look at the first bytes before handing the file to the zip reader: say what it is instead.
  unsigned char head[4] = {0, 0, 0, 0};
  std::size_t got = 0;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw StateDictError(who + ": cannot open the file");
    in.read(reinterpret_cast<char*>(head), sizeof head);
    got = static_cast<std::size_t>(in.gcount());
  }
  if (got == 0) throw StateDictError(who + ": empty file");
  if (!(got == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)) {
    if (head[0] == 0x80)  // a bare pickle: torch.save's legacy format starts with a pickled magic number
      throw StateDictError(who +
                           ": legacy torch.save format (PyTorch < 1.6, or _use_new_zipfile_serialization="
                           "False), which normlab does not read; convert it once with Python: "
                           "scripts/convert_legacy_checkpoint.py " + path + " converted.pt");
    throw StateDictError(who + ": not a zip archive, so not a file written by torch.save");
  }

  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw StateDictError(who + ": not a readable torch.save archive (truncated or corrupt zip?): " + what_of(e));
  }
  try {
    if (!zip->hasRecord("data.pkl")) {
      if (zip->hasRecord("constants.pkl") || zip->hasRecord("code/__torch__.py"))
        throw StateDictError(who + ": a TorchScript archive (torch.jit.save); load it with torch::jit::load, "
                                   "or save model.state_dict() with torch.save");
      throw StateDictError(who + ": the zip archive holds no data.pkl, so it was not written by torch.save");
    }
    if (zip->hasRecord("byteorder")) {
      auto [ptr, n] = zip->getRecord("byteorder");
      const std::string order(static_cast<const char*>(ptr.get()), n);
      if (order.rfind("little", 0) != 0)
        throw StateDictError(who + ": written on a " + order + "-endian machine, which is not supported");
    }
    auto [pkl, pkl_size] = zip->getRecord("data.pkl");

    pickle::Unpickler unpickler(static_cast<const char*>(pkl.get()), pkl_size);
    const auto root = unpickler.run();

    StateDictFile file;
    file.who = who;
    file.storages = unpickler.storages();
    // A storage cannot hold more bytes than its archive, even deflated at zlib's best ratio
    // (1032:1; torch.save stores them uncompressed): checked before anything is allocated for it.
    const auto archive_bytes = static_cast<int64_t>(fs::file_size(path, ec));
    int64_t can_hold = INT64_MAX;
    if (!ec && __builtin_mul_overflow(archive_bytes, int64_t{1032}, &can_hold)) can_hold = INT64_MAX;
    for (const auto& [key, info] : file.storages) {
      int64_t bytes = 0;
      if (!pickle::mul_ok(info.numel, static_cast<int64_t>(c10::elementSize(info.dtype)), bytes) || bytes > can_hold)
        throw StateDictError("storage " + key + " claims " + std::to_string(info.numel) + " elements of " +
                             c10::toString(info.dtype) + ", more than a " + std::to_string(archive_bytes) +
                             "-byte archive can hold");
    }
    if (root->kind != Value::Kind::Dict)
      throw StateDictError(std::string("the file holds a ") + pickle::kind_name(root->kind) +
                           ", not a state_dict (a dict of name -> tensor)");
    std::vector<std::string> bad;
    std::set<std::string> seen;
    for (const auto& [k, v] : root->entries) {
      const std::string key = k->kind == Value::Kind::String ? k->text : std::string("<") + pickle::kind_name(k->kind) + ">";
      if (k->kind != Value::Kind::String || v->kind != Value::Kind::Tensor) {
        bad.push_back("'" + key + "' (" + pickle::kind_name(v->kind) + ")");
        continue;
      }
      if (!seen.insert(key).second) throw StateDictError("key '" + key + "' appears twice");
      file.entries.emplace_back(key, v->stored);
    }
    if (!bad.empty())
      throw StateDictError("the file holds a dict whose entries are not all name -> tensor, so not a "
                           "state_dict: " + key_list(bad) +
                           "; a training checkpoint? save (or extract in Python) model.state_dict() alone");
    // _metadata: {module prefix: {'version': n}}, set on the OrderedDict by BUILD.
    if (root->state && root->state->kind == Value::Kind::Dict)
      for (const auto& [attr, meta] : root->state->entries)
        if (attr->kind == Value::Kind::String && attr->text == "_metadata" && meta->kind == Value::Kind::Dict)
          for (const auto& [prefix, info] : meta->entries)
            if (prefix->kind == Value::Kind::String && info->kind == Value::Kind::Dict)
              for (const auto& [field, value] : info->entries)
                if (field->kind == Value::Kind::String && field->text == "version" && value->kind == Value::Kind::Int)
                  file.versions[prefix->text] = value->integer;
    file.zip = std::move(zip);
    return file;
  } catch (const StateDictError& e) {
    const std::string what = e.what();
    if (what.rfind("normlab::", 0) == 0) throw;
    throw StateDictError(who + ": " + what);
  } catch (const c10::Error& e) {
    throw StateDictError(who + ": cannot read the archive (truncated or corrupt?): " + what_of(e));
  }
}

}  // namespace detail

/// The (name, tensor) entries of a file written by `torch.save(model.state_dict(), path)`, in the
/// file's order, on the CPU, with their saved dtypes; views saved together share storage as in
/// Python. Throws StateDictError: missing file, not a zip, legacy format (with the fix), TorchScript
/// archive, not a state_dict (e.g. a checkpoint dict holding one), truncated or corrupt content.
inline std::vector<std::pair<std::string, torch::Tensor>> read_state_dict(const std::string& path) {
  auto file = detail::read_state_dict_file(path);
  return detail::materialise(file);
}

/// The (name, shape) entries of a state_dict file, from its data.pkl alone: no tensor is read, so
/// this is cheap for any file, and safe for one whose shapes are absurd. Throws as read_state_dict.
inline std::vector<std::pair<std::string, std::vector<int64_t>>> read_state_dict_shapes(const std::string& path) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (auto& [name, t] : detail::read_state_dict_file(path).entries) out.emplace_back(name, t.sizes);
  return out;
}

/// Copies a state_dict file into a module's parameters and buffers, by name (Python's
/// `module.load_state_dict(torch.load(path))`), converting dtype and device as Tensor::copy_ does.
/// Nothing is copied unless everything fits:
/// - a shape mismatch is always an error (as in Python), listed as "name: module [..], file [..]";
/// - with strict (the default), missing keys (module entries absent from the file) and unexpected
///   keys (file entries the module lacks) are errors too, listed together in one message;
/// - as Python's BatchNorm, a `num_batches_tracked` that a pre-0.4.1 file lacks (its _metadata
///   version < 2, or none) is set to 0 instead of being missing.
/// @param module any module (for a ModuleHolder `net`, pass `*net`)
/// @param path a torch.save file of a state_dict
/// @param strict require the file's keys and the module's to be the same set (default true)
/// @return the missing and unexpected keys (empty after a strict load)
inline LoadStateDictResult load_state_dict(torch::nn::Module& module, const std::string& path, bool strict = true) {
  auto file = detail::read_state_dict_file(path);
  std::unordered_map<std::string, const detail::pickle::StoredTensor*> in_file;
  for (const auto& [k, t] : file.entries) in_file.emplace(k, &t);

  std::vector<std::pair<std::string, torch::Tensor>> targets;
  detail::state_entries(module, "", targets);
  std::set<std::string> target_names;

  LoadStateDictResult result;
  std::vector<std::string> mismatched;
  std::vector<std::pair<std::string, torch::Tensor>> copies;  // (file entry, destination)
  std::vector<torch::Tensor> zeroed;
  const std::string suffix = "num_batches_tracked";
  for (const auto& [name, dst] : targets) {
    target_names.insert(name);
    const auto it = in_file.find(name);
    if (it == in_file.end()) {
      const bool counter = name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
      if (counter) {
        const auto prefix = name.substr(0, name.size() - suffix.size());  // "layer1.0.bn1."
        const auto module_prefix = prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1);
        const auto v = file.versions.find(module_prefix);
        const bool old = v == file.versions.end() || v->second < 2;
        if (old && in_file.count(prefix + "running_mean")) {
          zeroed.push_back(dst);
          continue;
        }
      }
      result.missing_keys.push_back(name);
      continue;
    }
    // From data.pkl's description alone: a file that does not fit is refused before it is read.
    const auto& sizes = it->second->sizes;
    if (torch::IntArrayRef(sizes) != dst.sizes()) {
      mismatched.push_back(name + ": module " + detail::shape_string(dst.sizes()) + ", file " +
                           detail::shape_string(sizes));
      continue;
    }
    copies.emplace_back(name, dst);
  }
  for (const auto& [k, t] : file.entries)
    if (!target_names.count(k)) result.unexpected_keys.push_back(k);

  const bool key_errors = strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty());
  if (!mismatched.empty() || key_errors) {
    std::string msg = "normlab::load_state_dict: '" + path + "' does not fit the module (nothing was copied):";
    if (strict && !result.missing_keys.empty())
      msg += "\n  missing keys (" + std::to_string(result.missing_keys.size()) + "): " + detail::key_list(result.missing_keys);
    if (strict && !result.unexpected_keys.empty())
      msg += "\n  unexpected keys (" + std::to_string(result.unexpected_keys.size()) +
             "): " + detail::key_list(result.unexpected_keys);
    if (!mismatched.empty())
      msg += "\n  shape mismatches (" + std::to_string(mismatched.size()) + "): " + detail::key_list(mismatched, 8);
    throw StateDictError(msg);
  }
  std::set<std::string> wanted;
  for (const auto& [name, dst] : copies) wanted.insert(name);
  std::unordered_map<std::string, torch::Tensor> sources;
  for (auto& [name, t] : detail::materialise(file, &wanted)) sources.emplace(name, std::move(t));
  torch::NoGradGuard no_grad;
  for (auto& [name, dst] : copies) dst.copy_(sources.at(name));
  for (auto& dst : zeroed) dst.zero_();
  return result;
}

/// The same for a ModuleHolder (models::ResNet, torch::nn::Linear, ...).
template <class Impl>
LoadStateDictResult load_state_dict(torch::nn::ModuleHolder<Impl>& module, const std::string& path, bool strict = true) {
  return load_state_dict(*module, path, strict);
}

/// Writes a module's parameters and buffers as `torch.save(module.state_dict(), path)` would (zip
/// format, Python's state_dict order and names), so that Python's torch.load (weights_only too)
/// and read_state_dict read it. Each tensor gets its own contiguous CPU storage; no _metadata is
/// written (Python's load_state_dict does not need it for a file that has num_batches_tracked).
inline void save_state_dict(const torch::nn::Module& module, const std::string& path) {
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  detail::state_entries(module, "", entries);
  detail::pickle::Pickler p;
  std::vector<torch::Tensor> storages;
  p.proto();
  p.empty_ordered_dict();
  if (!entries.empty()) p.op('(');
  for (const auto& [name, tensor] : entries) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const auto key = std::to_string(storages.size());
    p.str(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    p.op('(');  // persistent id
    p.str("storage");
    p.global("torch", detail::pickle::storage_class(t.scalar_type()));
    p.str(key);
    p.str("cpu");
    p.integer(t.numel());
    p.op('t');
    p.op('Q');  // BINPERSID
    p.integer(0);
    p.ints(t.sizes().vec());
    p.ints(t.strides().vec());
    p.op('\x89');  // NEWFALSE: requires_grad
    p.empty_ordered_dict();  // backward hooks
    p.op('t');
    p.op('R');
    storages.push_back(t);
  }
  if (!entries.empty()) p.op('u');
  p.op('.');
  try {
    caffe2::serialize::PyTorchStreamWriter zip(path);
    zip.writeRecord("data.pkl", p.bytes.data(), p.bytes.size());
    zip.writeRecord("byteorder", "little", 6);
    for (std::size_t i = 0; i < storages.size(); ++i)
      zip.writeRecord("data/" + std::to_string(i), storages[i].data_ptr(),
                      static_cast<std::size_t>(storages[i].numel()) * storages[i].element_size());
    zip.writeEndOfFile();
  } catch (const c10::Error& e) {
    throw StateDictError("normlab::save_state_dict: '" + path + "': " + detail::what_of(e));
  }
}

/// The same for a ModuleHolder.
template <class Impl>
void save_state_dict(const torch::nn::ModuleHolder<Impl>& module, const std::string& path) {
  save_state_dict(*module, path);
}

}  // namespace normlab
