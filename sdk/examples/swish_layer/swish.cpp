// A layer plugin: the Swish activation, x * sigmoid(beta * x) (Ramachandran et al., 2017),
// shipped as a shared library that any Kiln program loads at run time.
//
// The forward pass is written with Kiln ops, so autograd, every backend and saving come free.
// KILN_REGISTER_LAYER names the layer (the key in .kiln files); KILN_LAYER_PLUGIN makes the
// library a plugin. Built against the installed SDK only (CMakeLists.txt beside this file); drop
// swish_layer.so in <prefix>/lib/kiln/layers or a folder on KILN_PLUGIN_PATH.
#include <kiln/layer_plugin.hpp>
#include <kiln/nn/module.hpp>
#include <kiln/ops.hpp>

#include <string>

namespace example {

class Swish : public kiln::nn::Module {
 public:
  explicit Swish(double beta = 1.0) : beta_(beta) {}
  // How the plugin host rebuilds the layer from a .kiln file's config.
  explicit Swish(const kiln::nn::Config& config) : Swish(config.value("beta", 1.0)) {}

  kiln::Tensor forward(const kiln::Tensor& x) override { return x * kiln::sigmoid(x * beta_); }
  std::string type_name() const override { return "Swish"; }
  kiln::nn::Config config() const override { return {{"beta", beta_}}; }
  std::string extra_repr() const override { return "beta=" + std::to_string(beta_); }

 private:
  double beta_;
};

}  // namespace example

KILN_REGISTER_LAYER(example::Swish, "Swish", 1)
KILN_LAYER_PLUGIN("swish-layers", "1.0.0")
