// Reference models (torchvision.models' names where they exist).
//
//   mlp()     Flatten, Linear(784,256), ReLU, Linear(256,128), ReLU, Linear(128,10)  (235,146 params)
//   lenet5()  Conv2d(1,6,5,pad 2), ReLU, MaxPool2d(2), Conv2d(6,16,5), ReLU, MaxPool2d(2), Flatten,
//             Linear(400,120), ReLU, Linear(120,84), ReLU, Linear(84,10)               (61,706 params)
//   cnn_bn()  a VGG-style CNN with BatchNorm: three stages of two 3x3 conv+BN+ReLU and a 2x2 max
//             pool (32, 64, 128 channels), then Linear(128*s*s, 256), ReLU, Dropout(0.5), Linear
//   resnet18(), resnet34()  ImageNet layout (7x7/2 stem and 3x3/2 max pool; 11,689,512 params for
//             resnet18 with 1,000 classes) or, with .cifar_stem, the 32x32 layout (3x3/1 stem, no
//             max pool; 11,173,962 params with 10 classes)
//
// mlp and lenet5 are shared/bench/README.md's reference workloads. Every model is an
// nn::Sequential of registered layers, so kiln::save/kiln::load handle it without this source;
// ResNet's BasicBlock is registered as the layer type "BasicBlock" when this library loads.
#pragma once

#include <kiln/nn/layers.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::vision::models {

nn::Sequential mlp(int64_t in_features = 784, int64_t num_classes = 10);
nn::Sequential lenet5(int64_t num_classes = 10);

struct CnnBnOptions {
  int64_t in_channels = 1;  // 1 for 28x28 grayscale, 3 for 32x32 colour
  int64_t image_size = 28;  // height = width; 28 or 32 (any size >= 8 works)
  int64_t num_classes = 10;
};
nn::Sequential cnn_bn(CnnBnOptions options = {});

// ResNet's two-conv residual block: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the input (through a
// 1x1 conv + BN "downsample" when the stride or width changes), then ReLU.
class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride = 1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }
  nn::Config config() const override;
  std::string extra_repr() const override;
  int64_t in_channels, out_channels, stride;
  nn::Conv2d conv1, conv2;
  nn::BatchNorm2d bn1, bn2;
  std::shared_ptr<nn::SequentialImpl> downsample;  // null when the shortcut is the identity
};
class BasicBlock : public nn::ModuleHolder<BasicBlockImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride = 1)
      : ModuleHolder(std::make_shared<BasicBlockImpl>(in_channels, out_channels, stride)) {}
};

struct ResNetOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  bool cifar_stem = false;  // 3x3 stride-1 stem, no max pool: for 32x32 (and 28x28) images
};
// A ResNet of BasicBlocks with blocks_per_stage blocks in each of the four stages (64, 128, 256, 512).
nn::Sequential resnet(const std::vector<int64_t>& blocks_per_stage, ResNetOptions options = {});
nn::Sequential resnet18(ResNetOptions options = {});
nn::Sequential resnet34(ResNetOptions options = {});

// Registers "BasicBlock" with the layer registry (done when the library loads; calling it again
// does nothing). Call it from programs that only load saved models, so the library is linked.
void register_layers();

// Total element count of the model's parameters.
int64_t count_parameters(const nn::Module& model);

}  // namespace kiln::vision::models
