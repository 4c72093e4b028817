#include <kiln/vision/models.hpp>

#include <kiln/autograd.hpp>
#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>

#include <filesystem>
#include <unistd.h>

#include <gtest/gtest.h>

namespace kiln::vision::models {
namespace {

TEST(Models, ReferenceParameterCounts) {
  EXPECT_EQ(count_parameters(*lenet5()), 61706);
  EXPECT_EQ(count_parameters(*mlp()), 235146);
  EXPECT_EQ(count_parameters(*resnet18()), 11689512);  // torchvision's resnet18
  EXPECT_EQ(count_parameters(*resnet34()), 21797672);  // torchvision's resnet34
  EXPECT_EQ(count_parameters(*resnet18({.num_classes = 10, .cifar_stem = true})), 11173962);
}

TEST(Models, OutputShapes) {
  NoGradGuard no_grad;
  manual_seed(0);
  Tensor gray = randn({2, 1, 28, 28});
  EXPECT_EQ(lenet5()(gray).shape(), Shape({2, 10}));
  EXPECT_EQ(mlp()(gray).shape(), Shape({2, 10}));
  auto cnn = cnn_bn();
  cnn->eval();
  EXPECT_EQ(cnn(gray).shape(), Shape({2, 10}));
  auto colour = cnn_bn({.in_channels = 3, .image_size = 32, .num_classes = 100});
  colour->eval();
  EXPECT_EQ(colour(randn({1, 3, 32, 32})).shape(), Shape({1, 100}));
}

TEST(Models, BasicBlockShapesAndShortcut) {
  NoGradGuard no_grad;
  BasicBlock same(8, 8);
  EXPECT_EQ(same->downsample, nullptr);
  BasicBlock down(8, 16, 2);
  ASSERT_NE(down->downsample, nullptr);
  Tensor x = randn({2, 8, 10, 10});
  EXPECT_EQ(same(x).shape(), Shape({2, 8, 10, 10}));
  EXPECT_EQ(down(x).shape(), Shape({2, 16, 5, 5}));
  EXPECT_GE(same(x).min().item<float>(), 0.0f);  // ends in a ReLU
  // Named like torchvision's, so state dicts read alike.
  auto names = down->state_dict();
  EXPECT_TRUE(names.count("conv1.weight"));
  EXPECT_TRUE(names.count("downsample.0.weight"));
  EXPECT_TRUE(names.count("downsample.1.running_mean"));
}

TEST(Models, SmallResNetForward) {
  NoGradGuard no_grad;
  auto net = resnet({1, 1, 1, 1}, {.num_classes = 10, .in_channels = 1, .cifar_stem = true});
  net->eval();
  EXPECT_EQ(net(randn({1, 1, 28, 28})).shape(), Shape({1, 10}));
  auto imagenet = resnet({1, 1, 1, 1}, {.num_classes = 5});
  imagenet->eval();
  EXPECT_EQ(imagenet(randn({1, 3, 32, 32})).shape(), Shape({1, 5}));
}

TEST(Models, BasicBlockIsRegistered) {
  register_layers();  // idempotent
  const nn::LayerRegistration* reg = nn::find_layer("BasicBlock");
  ASSERT_NE(reg, nullptr);
  BasicBlock original(4, 8, 2);
  nn::ModulePtr rebuilt = reg->factory(original->config());
  EXPECT_EQ(rebuilt->type_name(), "BasicBlock");
  auto a = original->state_dict(), b = rebuilt->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (auto& [name, t] : a) EXPECT_EQ(b.at(name).shape(), t.shape()) << name;
}

TEST(Models, SavedResNetLoadsWithoutSource) {
  NoGradGuard no_grad;
  manual_seed(1);
  auto net = resnet({1, 1, 1, 1}, {.num_classes = 3, .in_channels = 1, .cifar_stem = true});
  net->eval();
  auto path = std::filesystem::temp_directory_path() / ("kiln-resnet-" + std::to_string(::getpid()) + ".kiln");
  save(*net, path.string());
  nn::ModulePtr loaded = load(path.string());
  std::filesystem::remove(path);
  Tensor x = randn({2, 1, 12, 12});
  EXPECT_EQ(loaded->named_children().size(), net->named_children().size());
  EXPECT_EQ(loaded->child("layer2")->named_children().front().second->type_name(), "BasicBlock");
  EXPECT_TRUE(allclose((*loaded)(x), net(x), 1e-5, 1e-5));
}

}  // namespace
}  // namespace kiln::vision::models
