// Saves the model sdk_capi_c_test checks: Linear(3, 2) with known weights, then ReLU.
#include <kiln/kiln.hpp>

#include <iostream>

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::cerr << "usage: sdk_capi_save_fixture OUT.kiln\n";
    return 2;
  }
  using namespace kiln;
  nn::Sequential net{nn::Linear(3, 2), nn::ReLU()};
  auto params = net->state_dict();
  // W = [[1, -2, 3], [-4, 5, -6]], b = [0.5, -0.5] (capi_c_test.c computes the same by hand)
  params.at("0.weight").detach().copy_(from_vector(std::vector<float>{1, -2, 3, -4, 5, -6}, {2, 3}));
  params.at("0.bias").detach().copy_(from_vector(std::vector<float>{0.5f, -0.5f}, {2}));
  net->eval();
  save(*net, argv[1]);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "sdk_capi_save_fixture: " << e.what() << "\n";
  return 1;
}
