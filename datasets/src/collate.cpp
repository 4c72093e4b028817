#include <kiln/data/dataloader.hpp>

#include <kiln/autograd.hpp>
#include <kiln/error.hpp>
#include <kiln/ops.hpp>

namespace kiln::data {

namespace {
// Stacks the `which` tensors of the examples; undefined when all are undefined.
Tensor stack_field(std::vector<Example>& examples, Tensor Example::*which, const char* label) {
  std::vector<Tensor> parts;
  parts.reserve(examples.size());
  bool any = false, all = true;
  for (auto& e : examples) {
    bool defined = (e.*which).defined();
    any |= defined;
    all &= defined;
  }
  if (!any) return Tensor();
  KILN_CHECK(all, ValueError, "default_collate: some examples have a ", label, " and some do not");
  const Shape& first = (examples.front().*which).shape();
  for (size_t i = 0; i < examples.size(); ++i) {
    Tensor& t = examples[i].*which;
    KILN_CHECK(t.shape() == first, ShapeError, "default_collate: example ", i, " of the batch has a ", label,
               " of shape ", t.shape(), " but example 0 has ", first, "; collate them with a custom function");
    parts.push_back(std::move(t));
  }
  return stack(parts, 0);
}
}  // namespace

Batch default_collate(std::vector<Example>&& examples) {
  KILN_CHECK(!examples.empty(), ValueError, "default_collate: the batch is empty");
  NoGradGuard no_grad;
  Batch batch;
  batch.input = stack_field(examples, &Example::input, "input");
  batch.target = stack_field(examples, &Example::target, "target");
  return batch;
}

}  // namespace kiln::data
