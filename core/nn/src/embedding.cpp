// Embedding.
#include <kiln/autograd.hpp>
#include <kiln/nn/embedding.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/init.hpp>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;

EmbeddingImpl::EmbeddingImpl(int64_t n, int64_t d, EmbeddingOptions o) : num_embeddings(n), embedding_dim(d), options(o) {
  KILN_CHECK(n > 0 && d > 0, ValueError, "Embedding: sizes must be positive");
  KILN_CHECK(o.padding_idx < n && o.padding_idx >= -n - 1, ValueError, "Embedding: padding_idx ", o.padding_idx,
             " out of range for ", n, " embeddings");
  if (options.padding_idx < -1) options.padding_idx += n;
  weight = register_parameter("weight", empty({n, d}));
  init::normal_(weight);
  if (options.padding_idx >= 0) {
    NoGradGuard g;
    weight.select(0, options.padding_idx).fill_(0.0);
  }
}
Tensor EmbeddingImpl::forward(const Tensor& index) { return embedding(weight, index, options.padding_idx); }
Config EmbeddingImpl::config() const {
  return {{"num_embeddings", num_embeddings}, {"embedding_dim", embedding_dim}, {"padding_idx", options.padding_idx}};
}
std::string EmbeddingImpl::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
}

void register_embedding_layers() {
  register_layer("Embedding", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<EmbeddingImpl>(c.at("num_embeddings").get<int64_t>(), c.at("embedding_dim").get<int64_t>(),
                                           EmbeddingOptions{get<int64_t>(c, "padding_idx", -1)});
  });
}

}  // namespace kiln::nn
