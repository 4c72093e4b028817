#include <kiln/vision/models.hpp>

#include <kiln/error.hpp>
#include <kiln/nn/registry.hpp>

#include <mutex>

namespace kiln::vision::models {

nn::Sequential mlp(int64_t in_features, int64_t num_classes) {
  return nn::Sequential{nn::Flatten(),     nn::Linear(in_features, 256), nn::ReLU(), nn::Linear(256, 128),
                        nn::ReLU(),        nn::Linear(128, num_classes)};
}

nn::Sequential lenet5(int64_t num_classes) {
  return nn::Sequential{nn::Conv2d(1, 6, 5, {.padding = {2, 2}}),
                        nn::ReLU(),
                        nn::MaxPool2d(2),
                        nn::Conv2d(6, 16, 5),
                        nn::ReLU(),
                        nn::MaxPool2d(2),
                        nn::Flatten(),
                        nn::Linear(400, 120),
                        nn::ReLU(),
                        nn::Linear(120, 84),
                        nn::ReLU(),
                        nn::Linear(84, num_classes)};
}

nn::Sequential cnn_bn(CnnBnOptions o) {
  KILN_CHECK(o.in_channels >= 1 && o.image_size >= 8 && o.num_classes >= 1, ValueError,
             "cnn_bn: expected in_channels >= 1, image_size >= 8 and num_classes >= 1, got ", o.in_channels, ", ",
             o.image_size, " and ", o.num_classes);
  nn::Sequential net;
  int64_t channels = o.in_channels, size = o.image_size;
  for (int64_t width : {32, 64, 128}) {
    for (int k = 0; k < 2; ++k) {
      net->push_back(nn::Conv2d(channels, width, 3, {.padding = {1, 1}, .bias = false}));
      net->push_back(nn::BatchNorm2d(width));
      net->push_back(nn::ReLU());
      channels = width;
    }
    net->push_back(nn::MaxPool2d(2));
    size /= 2;
  }
  net->push_back(nn::Flatten());
  net->push_back(nn::Linear(channels * size * size, 256));
  net->push_back(nn::ReLU());
  net->push_back(nn::Dropout(0.5));
  net->push_back(nn::Linear(256, o.num_classes));
  return net;
}

// ---------------------------------------------------------------- ResNet
BasicBlockImpl::BasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride)
    : in_channels(in_channels),
      out_channels(out_channels),
      stride(stride),
      conv1(in_channels, out_channels, 3, {.stride = {stride, stride}, .padding = {1, 1}, .bias = false}),
      conv2(out_channels, out_channels, 3, {.padding = {1, 1}, .bias = false}),
      bn1(out_channels),
      bn2(out_channels) {
  KILN_CHECK(in_channels >= 1 && out_channels >= 1 && stride >= 1, ValueError,
             "BasicBlock: expected positive channels and stride, got in_channels=", in_channels,
             ", out_channels=", out_channels, ", stride=", stride);
  register_module("conv1", conv1);
  register_module("bn1", bn1);
  register_module("conv2", conv2);
  register_module("bn2", bn2);
  if (stride != 1 || in_channels != out_channels) {
    downsample = std::make_shared<nn::SequentialImpl>();
    downsample->push_back(nn::Conv2d(in_channels, out_channels, 1, {.stride = {stride, stride}, .bias = false}));
    downsample->push_back(nn::BatchNorm2d(out_channels));
    register_module("downsample", nn::ModulePtr(downsample));
  }
}

Tensor BasicBlockImpl::forward(const Tensor& x) {
  Tensor out = relu(bn1(conv1(x)));
  out = bn2(conv2(out));
  Tensor identity = downsample ? (*downsample)(x) : x;
  return relu(out + identity);
}

nn::Config BasicBlockImpl::config() const {
  return {{"in_channels", in_channels}, {"out_channels", out_channels}, {"stride", stride}};
}

std::string BasicBlockImpl::extra_repr() const {
  return "in_channels=" + std::to_string(in_channels) + ", out_channels=" + std::to_string(out_channels) +
         ", stride=" + std::to_string(stride);
}

nn::Sequential resnet(const std::vector<int64_t>& blocks_per_stage, ResNetOptions o) {
  KILN_CHECK(blocks_per_stage.size() == 4, ValueError, "resnet: expected 4 stages, got ", blocks_per_stage.size());
  nn::Sequential net;
  if (o.cifar_stem) {
    net->push_back("conv1", nn::Conv2d(o.in_channels, 64, 3, {.padding = {1, 1}, .bias = false}));
    net->push_back("bn1", nn::BatchNorm2d(64));
    net->push_back("relu", nn::ReLU());
  } else {
    net->push_back("conv1", nn::Conv2d(o.in_channels, 64, 7, {.stride = {2, 2}, .padding = {3, 3}, .bias = false}));
    net->push_back("bn1", nn::BatchNorm2d(64));
    net->push_back("relu", nn::ReLU());
    net->push_back("maxpool", nn::MaxPool2d(3, {.stride = {2, 2}, .padding = {1, 1}}));
  }
  int64_t channels = 64;
  const int64_t widths[4] = {64, 128, 256, 512};
  for (size_t s = 0; s < 4; ++s) {
    nn::Sequential stage;
    for (int64_t b = 0; b < blocks_per_stage[s]; ++b) {
      int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      stage->push_back(BasicBlock(channels, widths[s], stride));
      channels = widths[s];
    }
    net->push_back("layer" + std::to_string(s + 1), stage);
  }
  net->push_back("avgpool", nn::AdaptiveAvgPool2d(1));
  net->push_back("flatten", nn::Flatten());
  net->push_back("fc", nn::Linear(512, o.num_classes));
  return net;
}

nn::Sequential resnet18(ResNetOptions options) { return resnet({2, 2, 2, 2}, options); }
nn::Sequential resnet34(ResNetOptions options) { return resnet({3, 4, 6, 3}, options); }

int64_t count_parameters(const nn::Module& model) {
  int64_t total = 0;
  for (const auto& p : model.parameters()) total += p.numel();
  return total;
}

void register_layers() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A saved BasicBlock's factory rebuilds the whole block; load() then matches its children
    // (conv1, bn1, ..., downsample) by name with the file's.
    nn::register_layer(
        "BasicBlock", 1,
        [](const nn::Config& c) -> nn::ModulePtr {
          return std::make_shared<BasicBlockImpl>(c.at("in_channels").get<int64_t>(),
                                                  c.at("out_channels").get<int64_t>(),
                                                  c.contains("stride") ? c.at("stride").get<int64_t>() : 1);
        },
        "kiln_vision");
  });
}

namespace {
[[maybe_unused]] const bool kLayersRegistered = (register_layers(), true);
}  // namespace

}  // namespace kiln::vision::models
