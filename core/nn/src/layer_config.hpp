// Private to the nn library: reading layer configs (the JSON a .kiln file stores), printing
// extents, and each family's registration function (builtin.cpp calls them all once).
#pragma once

#include <kiln/nn/common.hpp>
#include <kiln/nn/registry.hpp>

#include <array>
#include <string>

namespace kiln::nn {

// "3" for (3, 3), "(3, 1)" otherwise, as PyTorch prints kernel sizes.
inline std::string pair_str(const Size2& a) {
  return a[0] == a[1] ? std::to_string(a[0]) : "(" + std::to_string(a[0]) + ", " + std::to_string(a[1]) + ")";
}

// A pair option that a config may hold as one number or as [h, w]; `def` when absent.
inline std::array<int64_t, 2> arr2(const Config& c, const char* key, std::array<int64_t, 2> def) {
  if (!c.contains(key)) return def;
  const auto& v = c.at(key);
  if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>()};
  return {v.at(0).get<int64_t>(), v.at(1).get<int64_t>()};
}
template <typename T>
inline T get(const Config& c, const char* key, T def) {
  return c.contains(key) ? c.at(key).get<T>() : def;
}

void register_container_layers();
void register_linear_layers();
void register_conv_layers();
void register_pooling_layers();
void register_normalization_layers();
void register_embedding_layers();
void register_dropout_layers();
void register_activation_layers();
void register_recurrent_layers();
void register_attention_layers();

}  // namespace kiln::nn
