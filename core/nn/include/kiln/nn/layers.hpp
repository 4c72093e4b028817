// Every built-in layer family, one header each (containers, linear, conv, pooling,
// normalization, activation, dropout, embedding, recurrent, attention), as LibTorch's
// nn/modules does. Include this for all of them, or one family's header.
#pragma once

#include <kiln/nn/activation.hpp>
#include <kiln/nn/attention.hpp>
#include <kiln/nn/containers.hpp>
#include <kiln/nn/conv.hpp>
#include <kiln/nn/dropout.hpp>
#include <kiln/nn/embedding.hpp>
#include <kiln/nn/linear.hpp>
#include <kiln/nn/normalization.hpp>
#include <kiln/nn/pooling.hpp>
#include <kiln/nn/recurrent.hpp>

namespace kiln::nn {

// Registers every built-in layer type in the layer registry (idempotent, thread-safe). Loading
// libkiln_nn does it; kiln::load calls it too, so a program that only loads models needs nothing.
void register_builtin_layers();

}  // namespace kiln::nn
