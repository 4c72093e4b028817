// Dropout.
#include <kiln/nn/dropout.hpp>
#include <kiln/nn/functional.hpp>

#include <sstream>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;

DropoutImpl::DropoutImpl(double p) : p(p) {
  KILN_CHECK(p >= 0 && p <= 1, ValueError, "Dropout: p must be in [0, 1], got ", p);
}
Tensor DropoutImpl::forward(const Tensor& x) { return F::dropout(x, p, training_); }
std::string DropoutImpl::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

void register_dropout_layers() {
  register_layer("Dropout", 1, [](const Config& c) -> ModulePtr { return std::make_shared<DropoutImpl>(get(c, "p", 0.5)); });
}

}  // namespace kiln::nn
