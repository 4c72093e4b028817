// Embedding (EmbeddingBag lives with the sequence layers in recurrent.hpp).
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

struct EmbeddingOptions {
  int64_t padding_idx = -1;
};
class EmbeddingImpl : public Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options = {});
  Tensor forward(const Tensor& index) override;
  std::string type_name() const override { return "Embedding"; }
  Config config() const override;
  std::string extra_repr() const override;
  int64_t num_embeddings, embedding_dim;
  EmbeddingOptions options;
  Tensor weight;
};
KILN_DECLARE_HOLDER(Embedding)
  Embedding(int64_t n, int64_t d, EmbeddingOptions o = {}) : ModuleHolder(std::make_shared<EmbeddingImpl>(n, d, o)) {}
};

}  // namespace kiln::nn
