// The one header a Kiln application needs.
//
//   #include <kiln/kiln.hpp>
//   using namespace kiln;
//   nn::Sequential net{nn::Linear(2, 16), nn::ReLU(), nn::Linear(16, 2)};
//
// It includes every public header of the core library (tensors, ops, autograd, devices, nn,
// losses, optimizers, metrics, callbacks, Model, saving and loading, the conformance suite) and,
// when this installation has them (see kiln/kiln_config.hpp), the datasets, vision and text
// modules' headers. Link with Kiln::core (CMake: find_package(Kiln)) or `pkg-config kiln`, plus
// Kiln::datasets / Kiln::vision / Kiln::text when you use those modules.
//
// Not included: <kiln/layer_plugin.hpp>, which only a layer plugin includes (it changes what
// KILN_REGISTER_LAYER does; see docs/writing-a-layer.md), the backend ABI under <kiln/plugin/>,
// and the C API <kiln/kiln_c.h>. Listing and loading layer plugins (kiln/layer_plugin_host.hpp)
// is included.
#pragma once

#include <kiln/kiln_config.hpp>

#include <kiln/autograd.hpp>
#include <kiln/callbacks.hpp>
#include <kiln/conformance.hpp>
#include <kiln/data.hpp>
#include <kiln/device.hpp>
#include <kiln/dtype.hpp>
#include <kiln/error.hpp>
#include <kiln/layer_plugin_host.hpp>
#include <kiln/metrics.hpp>
#include <kiln/model.hpp>
#include <kiln/nn/activation.hpp>
#include <kiln/nn/attention.hpp>
#include <kiln/nn/common.hpp>
#include <kiln/nn/containers.hpp>
#include <kiln/nn/conv.hpp>
#include <kiln/nn/dropout.hpp>
#include <kiln/nn/embedding.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/init.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/nn/linear.hpp>
#include <kiln/nn/loss.hpp>
#include <kiln/nn/module.hpp>
#include <kiln/nn/normalization.hpp>
#include <kiln/nn/pooling.hpp>
#include <kiln/nn/recurrent.hpp>
#include <kiln/nn/registry.hpp>
#include <kiln/ops.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>
#include <kiln/shape.hpp>
#include <kiln/tensor.hpp>
#include <kiln/version.hpp>

// The public headers of the optional modules built with this installation (generated).
#include <kiln/kiln_modules.hpp>
