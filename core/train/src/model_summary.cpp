// Model::summary: Keras's layer table, built from forward hooks on one zero sample.
#include <kiln/autograd.hpp>
#include <kiln/model.hpp>

#include "training_mode.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

namespace kiln {
namespace {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// "241.04 KB", as Keras 3 prints parameter memory.
std::string byte_size(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

std::string batch_shape(const Shape& s) {
  std::string out = "(None";
  for (int64_t i = 1; i < s.size(); ++i) out += ", " + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

std::string pad(const std::string& s, size_t width) { return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' '); }

}  // namespace

std::string Model::summary(const Shape& input_shape, bool print, DType input_dtype) const {
  auto modules = module_->named_modules();
  std::map<const nn::Module*, Shape> out_shapes;
  if (!input_shape.empty()) {
    std::vector<std::pair<nn::Module*, int>> hooks;
    for (auto& [name, m] : modules)
      hooks.emplace_back(m, m->register_forward_hook([&out_shapes](nn::Module& mod, const Tensor&, const Tensor& out) {
        if (out.defined()) out_shapes[&mod] = out.shape();
        return Tensor();
      }));
    auto remove_hooks = [&] {
      for (auto& [m, id] : hooks) m->remove_hook(id);
    };
    try {
      detail::TrainingModeGuard mode(*module_, false);
      NoGradGuard no_grad;
      Shape shape = input_shape;
      shape.insert(0, 1);
      auto params = module_->parameters();
      TensorOptions options{.dtype = input_dtype};
      if (!params.empty()) options.device = params.front().device();
      (*module_)(zeros(shape, options));
    } catch (...) {
      remove_hooks();
      throw;
    }
    remove_hooks();
  }

  struct Row {
    std::string layer, shape, params;
  };
  std::vector<Row> rows;
  for (auto& [name, m] : modules) {
    auto own = m->named_parameters(false);
    bool leaf = m->named_children().empty();
    if (!leaf && own.empty()) continue;
    int64_t count = 0;
    for (auto& [n, p] : own) count += p.numel();
    std::string shape = "?";
    if (!input_shape.empty()) {
      auto it = out_shapes.find(m);
      shape = it == out_shapes.end() ? "(not run)" : batch_shape(it->second);
    }
    std::string label = name.empty() ? m->type_name() : name + " (" + m->type_name() + ")";
    rows.push_back({label, shape, with_commas(count)});
  }

  int64_t trainable = 0, frozen = 0, buffers = 0;
  double trainable_bytes = 0, frozen_bytes = 0, buffer_bytes = 0;
  for (auto& p : module_->parameters()) {
    double bytes = static_cast<double>(p.numel() * static_cast<int64_t>(dtype_size(p.dtype())));
    (p.requires_grad() ? trainable : frozen) += p.numel();
    (p.requires_grad() ? trainable_bytes : frozen_bytes) += bytes;
  }
  std::set<const TensorImpl*> seen;
  for (auto& [n, b] : module_->named_buffers()) {
    if (!seen.insert(b.impl()).second) continue;
    buffers += b.numel();
    buffer_bytes += static_cast<double>(b.numel() * static_cast<int64_t>(dtype_size(b.dtype())));
  }

  size_t w_layer = 29, w_shape = 26, w_params = 10;
  for (auto& r : rows) {
    w_layer = std::max(w_layer, r.layer.size() + 2);
    w_shape = std::max(w_shape, r.shape.size() + 2);
    w_params = std::max(w_params, r.params.size() + 1);
  }
  size_t width = 1 + w_layer + w_shape + w_params;
  std::string out = "Model: \"" + module_->type_name() + "\"\n";
  out += std::string(width, '_') + "\n";
  out += " " + pad("Layer (type)", w_layer) + pad("Output Shape", w_shape) + "Param #\n";
  out += std::string(width, '=') + "\n";
  for (auto& r : rows) out += " " + pad(r.layer, w_layer) + pad(r.shape, w_shape) + r.params + "\n";
  out += std::string(width, '=') + "\n";
  out += "Total params: " + with_commas(trainable + frozen) + " (" + byte_size(trainable_bytes + frozen_bytes) + ")\n";
  out += "Trainable params: " + with_commas(trainable) + " (" + byte_size(trainable_bytes) + ")\n";
  out += "Non-trainable params: " + with_commas(frozen) + " (" + byte_size(frozen_bytes) + ")\n";
  if (buffers > 0) out += "Buffers: " + with_commas(buffers) + " (" + byte_size(buffer_bytes) + ")\n";
  out += std::string(width, '_') + "\n";
  if (print) std::cout << out << std::flush;
  return out;
}

}  // namespace kiln
