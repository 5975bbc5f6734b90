#include "derm/model/inception_v3.hpp"

#include "onednn_config.hpp"
#if DERM_WITH_ONEDNN
#include "cpu_inference_plan.hpp"
#endif

namespace derm {

namespace F = torch::nn::functional;
using torch::nn::Conv2dOptions;

namespace {

Conv2dOptions conv(int64_t in, int64_t out, torch::ExpandingArray<2> kernel) {
  return Conv2dOptions(in, out, kernel).bias(false);
}

// branch_pool of blocks A, C and E: its convolution of the 3x3 average pool of
// x, or of x itself once the pool is folded in (BasicConv2dImpl::fold_average_pool).
torch::Tensor pool_branch(BasicConv2d& branch_pool, const torch::Tensor& x) {
  if (branch_pool->average_pool_folded()) return branch_pool(x);
  return branch_pool(F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(1).padding(1)));
}

torch::Tensor max_pool_3x3_stride2(const torch::Tensor& x) {
  return F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2));
}

// torchvision draws from trunc_normal_(std, a=-2, b=2); the bounds are absolute,
// so for std <= 0.1 truncation almost never triggers: redraw the rare outliers.
void truncated_normal_(torch::Tensor weight, double stddev) {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, stddev);
  auto outside = weight.abs() > 2.0;
  while (outside.any().item<bool>()) {
    weight.masked_scatter_(outside, torch::randn_like(weight).mul_(stddev).masked_select(outside));
    outside = weight.abs() > 2.0;
  }
}

}  // namespace

InceptionAImpl::InceptionAImpl(int64_t in_channels, int64_t pool_features)
    : branch1x1(conv(in_channels, 64, 1)),
      branch5x5_1(conv(in_channels, 48, 1)),
      branch5x5_2(conv(48, 64, 5).padding(2)),
      branch3x3dbl_1(conv(in_channels, 64, 1)),
      branch3x3dbl_2(conv(64, 96, 3).padding(1)),
      branch3x3dbl_3(conv(96, 96, 3).padding(1)),
      branch_pool(conv(in_channels, pool_features, 1)),
      input_convolutions({branch1x1, branch5x5_1, branch3x3dbl_1}) {
  register_module("branch1x1", branch1x1);
  register_module("branch5x5_1", branch5x5_1);
  register_module("branch5x5_2", branch5x5_2);
  register_module("branch3x3dbl_1", branch3x3dbl_1);
  register_module("branch3x3dbl_2", branch3x3dbl_2);
  register_module("branch3x3dbl_3", branch3x3dbl_3);
  register_module("branch_pool", branch_pool);
}

torch::Tensor InceptionAImpl::forward(const torch::Tensor& x) {
  const auto first = input_convolutions.forward(x);
  auto b1 = first[0];
  auto b5 = branch5x5_2(first[1]);
  auto b3 = branch3x3dbl_3(branch3x3dbl_2(first[2]));
  auto bp = pool_branch(branch_pool, x);
  return torch::cat({b1, b5, b3, bp}, 1);
}

InceptionBImpl::InceptionBImpl(int64_t in_channels)
    : branch3x3(conv(in_channels, 384, 3).stride(2)),
      branch3x3dbl_1(conv(in_channels, 64, 1)),
      branch3x3dbl_2(conv(64, 96, 3).padding(1)),
      branch3x3dbl_3(conv(96, 96, 3).stride(2)) {
  register_module("branch3x3", branch3x3);
  register_module("branch3x3dbl_1", branch3x3dbl_1);
  register_module("branch3x3dbl_2", branch3x3dbl_2);
  register_module("branch3x3dbl_3", branch3x3dbl_3);
}

torch::Tensor InceptionBImpl::forward(const torch::Tensor& x) {
  auto b3 = branch3x3(x);
  auto b3dbl = branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x)));
  auto bp = max_pool_3x3_stride2(x);
  return torch::cat({b3, b3dbl, bp}, 1);
}

InceptionCImpl::InceptionCImpl(int64_t in_channels, int64_t c7)
    : branch1x1(conv(in_channels, 192, 1)),
      branch7x7_1(conv(in_channels, c7, 1)),
      branch7x7_2(conv(c7, c7, {1, 7}).padding({0, 3})),
      branch7x7_3(conv(c7, 192, {7, 1}).padding({3, 0})),
      branch7x7dbl_1(conv(in_channels, c7, 1)),
      branch7x7dbl_2(conv(c7, c7, {7, 1}).padding({3, 0})),
      branch7x7dbl_3(conv(c7, c7, {1, 7}).padding({0, 3})),
      branch7x7dbl_4(conv(c7, c7, {7, 1}).padding({3, 0})),
      branch7x7dbl_5(conv(c7, 192, {1, 7}).padding({0, 3})),
      branch_pool(conv(in_channels, 192, 1)),
      input_convolutions({branch1x1, branch7x7_1, branch7x7dbl_1}) {
  register_module("branch1x1", branch1x1);
  register_module("branch7x7_1", branch7x7_1);
  register_module("branch7x7_2", branch7x7_2);
  register_module("branch7x7_3", branch7x7_3);
  register_module("branch7x7dbl_1", branch7x7dbl_1);
  register_module("branch7x7dbl_2", branch7x7dbl_2);
  register_module("branch7x7dbl_3", branch7x7dbl_3);
  register_module("branch7x7dbl_4", branch7x7dbl_4);
  register_module("branch7x7dbl_5", branch7x7dbl_5);
  register_module("branch_pool", branch_pool);
}

torch::Tensor InceptionCImpl::forward(const torch::Tensor& x) {
  const auto first = input_convolutions.forward(x);
  auto b1 = first[0];
  auto b7 = branch7x7_3(branch7x7_2(first[1]));
  auto b7dbl = branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(first[2]))));
  auto bp = pool_branch(branch_pool, x);
  return torch::cat({b1, b7, b7dbl, bp}, 1);
}

InceptionDImpl::InceptionDImpl(int64_t in_channels)
    : branch3x3_1(conv(in_channels, 192, 1)),
      branch3x3_2(conv(192, 320, 3).stride(2)),
      branch7x7x3_1(conv(in_channels, 192, 1)),
      branch7x7x3_2(conv(192, 192, {1, 7}).padding({0, 3})),
      branch7x7x3_3(conv(192, 192, {7, 1}).padding({3, 0})),
      branch7x7x3_4(conv(192, 192, 3).stride(2)),
      input_convolutions({branch3x3_1, branch7x7x3_1}) {
  register_module("branch3x3_1", branch3x3_1);
  register_module("branch3x3_2", branch3x3_2);
  register_module("branch7x7x3_1", branch7x7x3_1);
  register_module("branch7x7x3_2", branch7x7x3_2);
  register_module("branch7x7x3_3", branch7x7x3_3);
  register_module("branch7x7x3_4", branch7x7x3_4);
}

torch::Tensor InceptionDImpl::forward(const torch::Tensor& x) {
  const auto first = input_convolutions.forward(x);
  auto b3 = branch3x3_2(first[0]);
  auto b7x3 = branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(first[1])));
  auto bp = max_pool_3x3_stride2(x);
  return torch::cat({b3, b7x3, bp}, 1);
}

InceptionEImpl::InceptionEImpl(int64_t in_channels)
    : branch1x1(conv(in_channels, 320, 1)),
      branch3x3_1(conv(in_channels, 384, 1)),
      branch3x3_2a(conv(384, 384, {1, 3}).padding({0, 1})),
      branch3x3_2b(conv(384, 384, {3, 1}).padding({1, 0})),
      branch3x3dbl_1(conv(in_channels, 448, 1)),
      branch3x3dbl_2(conv(448, 384, 3).padding(1)),
      branch3x3dbl_3a(conv(384, 384, {1, 3}).padding({0, 1})),
      branch3x3dbl_3b(conv(384, 384, {3, 1}).padding({1, 0})),
      branch_pool(conv(in_channels, 192, 1)),
      input_convolutions({branch1x1, branch3x3_1, branch3x3dbl_1}) {
  register_module("branch1x1", branch1x1);
  register_module("branch3x3_1", branch3x3_1);
  register_module("branch3x3_2a", branch3x3_2a);
  register_module("branch3x3_2b", branch3x3_2b);
  register_module("branch3x3dbl_1", branch3x3dbl_1);
  register_module("branch3x3dbl_2", branch3x3dbl_2);
  register_module("branch3x3dbl_3a", branch3x3dbl_3a);
  register_module("branch3x3dbl_3b", branch3x3dbl_3b);
  register_module("branch_pool", branch_pool);
}

torch::Tensor InceptionEImpl::forward(const torch::Tensor& x) {
  const auto first = input_convolutions.forward(x);
  auto b1 = first[0];
  auto b3 = first[1];
  auto b3dbl = branch3x3dbl_2(first[2]);
  auto bp = pool_branch(branch_pool, x);
  // One concatenation where torchvision nests two inside a third: the same tensor.
  return torch::cat({b1, branch3x3_2a(b3), branch3x3_2b(b3), branch3x3dbl_3a(b3dbl), branch3x3dbl_3b(b3dbl), bp}, 1);
}

InceptionAuxImpl::InceptionAuxImpl(int64_t in_channels, int64_t num_classes)
    : conv0(conv(in_channels, 128, 1)),
      conv1(conv(128, 768, 5)),
      fc(768, num_classes) {
  register_module("conv0", conv0);
  register_module("conv1", conv1);
  register_module("fc", fc);
}

torch::Tensor InceptionAuxImpl::forward(const torch::Tensor& x) {
  // N x 768 x 17 x 17
  auto out = F::avg_pool2d(x, F::AvgPool2dFuncOptions(5).stride(3));
  // N x 768 x 5 x 5
  out = conv1(conv0(out));
  // N x 768 x 1 x 1
  out = F::adaptive_avg_pool2d(out, F::AdaptiveAvgPool2dFuncOptions(1));
  return fc(torch::flatten(out, 1));
  // N x num_classes
}

InceptionV3Impl::InceptionV3Impl(const InceptionV3Options& opts) : options(opts) {
  TORCH_CHECK(options.num_classes > 0, "InceptionV3: num_classes must be positive");
  if (options.has_stem()) {
    stem = register_module("stem", LearnedResizer(StemOptions{options.backbone_size, options.stem_channels}));
  }
  Conv2d_1a_3x3 = register_module("Conv2d_1a_3x3", BasicConv2d(conv(3, 32, 3).stride(2)));
  Conv2d_2a_3x3 = register_module("Conv2d_2a_3x3", BasicConv2d(conv(32, 32, 3)));
  Conv2d_2b_3x3 = register_module("Conv2d_2b_3x3", BasicConv2d(conv(32, 64, 3).padding(1)));
  Conv2d_3b_1x1 = register_module("Conv2d_3b_1x1", BasicConv2d(conv(64, 80, 1)));
  Conv2d_4a_3x3 = register_module("Conv2d_4a_3x3", BasicConv2d(conv(80, 192, 3)));
  Mixed_5b = register_module("Mixed_5b", InceptionA(192, 32));
  Mixed_5c = register_module("Mixed_5c", InceptionA(256, 64));
  Mixed_5d = register_module("Mixed_5d", InceptionA(288, 64));
  Mixed_6a = register_module("Mixed_6a", InceptionB(288));
  Mixed_6b = register_module("Mixed_6b", InceptionC(768, 128));
  Mixed_6c = register_module("Mixed_6c", InceptionC(768, 160));
  Mixed_6d = register_module("Mixed_6d", InceptionC(768, 160));
  Mixed_6e = register_module("Mixed_6e", InceptionC(768, 192));
  if (options.aux_logits) {
    AuxLogits = register_module("AuxLogits", InceptionAux(768, options.num_classes));
  }
  Mixed_7a = register_module("Mixed_7a", InceptionD(768));
  Mixed_7b = register_module("Mixed_7b", InceptionE(1280));
  Mixed_7c = register_module("Mixed_7c", InceptionE(2048));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc = register_module("fc", torch::nn::Linear(2048, options.num_classes));

  if (!options.initialise_weights) return;
  // torchvision's init_weights; the stem keeps its own initialisation.
  for (auto& named : named_modules("", /*include_self=*/false)) {
    if (named.key().rfind("stem", 0) == 0) continue;
    auto* module = named.value().get();
    if (auto* c = module->as<torch::nn::Conv2d>()) {
      truncated_normal_(c->weight, 0.1);
    } else if (auto* l = module->as<torch::nn::Linear>()) {
      truncated_normal_(l->weight, named.key() == "AuxLogits.fc" ? 0.001 : 0.1);
    } else if (auto* b = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(b->weight);
      torch::nn::init::zeros_(b->bias);
    }
  }
}

torch::Tensor InceptionV3Impl::forward(torch::Tensor x) { return forward_with_aux(std::move(x)).logits; }

std::vector<std::string> InceptionV3Impl::layer_names() const {
  std::vector<std::string> names;
  if (stem) names.push_back("stem");
  for (const char* name : {"Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                           "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                           "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"}) {
    names.emplace_back(name);
  }
  return names;
}

bool InceptionV3Impl::cpu_inference_plans_built() { return DERM_WITH_ONEDNN != 0; }

bool InceptionV3Impl::plans_cpu_inference() const {
  return cpu_inference_plans_built() && cpu_inference_plans && !is_training() && fc->weight.is_cpu() &&
         fc->weight.scalar_type() == torch::kFloat32;
}

bool InceptionV3Impl::runs_cpu_plan(const torch::Tensor& x) const {
  return plans_cpu_inference() && !torch::GradMode::is_enabled() && x.is_cpu() &&
         x.scalar_type() == torch::kFloat32 && x.dim() == 4 && x.size(1) == 3;
}

#if DERM_WITH_ONEDNN
CpuInferencePlans& InceptionV3Impl::cpu_plans_made() {
  if (!cpu_plans_) cpu_plans_ = std::make_shared<CpuInferencePlans>();
  return *cpu_plans_;
}
#endif

void InceptionV3Impl::prepare_cpu_inference(int64_t height, int64_t width) {
#if DERM_WITH_ONEDNN
  if (plans_cpu_inference()) cpu_plans_made().prepare(*this, height, width);
#else
  (void)height;
  (void)width;
#endif
}

InceptionV3Output InceptionV3Impl::forward_with_aux(torch::Tensor x, const std::string& keep) {
  InceptionV3Output out;
  const auto kept = [&](const char* layer, const torch::Tensor& y) {
    if (keep == layer) out.kept = y;
  };
  if (options.transform_input) {
    auto ch0 = x.select(1, 0).unsqueeze(1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5;
    auto ch1 = x.select(1, 1).unsqueeze(1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5;
    auto ch2 = x.select(1, 2).unsqueeze(1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5;
    x = torch::cat({ch0, ch1, ch2}, 1);
  }
#if DERM_WITH_ONEDNN
  if (keep.empty() && runs_cpu_plan(x)) {
    out.logits = fc(cpu_plans_made().features(*this, x));
    return out;
  }
#endif
  if (stem) {
    // N x 3 x input_size x input_size
    x = stem(x);
    kept("stem", x);
  }
  // N x 3 x 299 x 299
  x = Conv2d_1a_3x3(x);
  kept("Conv2d_1a_3x3", x);
  // N x 32 x 149 x 149
  x = Conv2d_2a_3x3(x);
  kept("Conv2d_2a_3x3", x);
  // N x 32 x 147 x 147
  x = Conv2d_2b_3x3(x);
  kept("Conv2d_2b_3x3", x);
  // N x 64 x 147 x 147
  x = max_pool_3x3_stride2(x);
  // N x 64 x 73 x 73
  x = Conv2d_3b_1x1(x);
  kept("Conv2d_3b_1x1", x);
  // N x 80 x 73 x 73
  x = Conv2d_4a_3x3(x);
  kept("Conv2d_4a_3x3", x);
  // N x 192 x 71 x 71
  x = max_pool_3x3_stride2(x);
  // N x 192 x 35 x 35
  x = Mixed_5b(x);
  kept("Mixed_5b", x);
  // N x 256 x 35 x 35
  x = Mixed_5c(x);
  kept("Mixed_5c", x);
  // N x 288 x 35 x 35
  x = Mixed_5d(x);
  kept("Mixed_5d", x);
  // N x 288 x 35 x 35
  x = Mixed_6a(x);
  kept("Mixed_6a", x);
  // N x 768 x 17 x 17
  x = Mixed_6b(x);
  kept("Mixed_6b", x);
  x = Mixed_6c(x);
  kept("Mixed_6c", x);
  x = Mixed_6d(x);
  kept("Mixed_6d", x);
  x = Mixed_6e(x);
  kept("Mixed_6e", x);
  // N x 768 x 17 x 17
  if (AuxLogits && is_training()) out.aux_logits = AuxLogits(x);
  x = Mixed_7a(x);
  kept("Mixed_7a", x);
  // N x 1280 x 8 x 8
  x = Mixed_7b(x);
  kept("Mixed_7b", x);
  // N x 2048 x 8 x 8
  x = Mixed_7c(x);
  kept("Mixed_7c", x);
  // N x 2048 x 8 x 8
  x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1));
  // N x 2048 x 1 x 1
  x = dropout(torch::flatten(x, 1));
  // N x 2048
  out.logits = fc(x);
  // N x num_classes
  return out;
}

void InceptionV3Impl::fold_batch_norm(const FoldOptions& fold) {
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* basic = module->as<BasicConv2dImpl>()) basic->fold_batch_norm(fold.fused_relu);
  }
  const auto merge = [&](SiblingConvolutions& siblings) {
    if (fold.merge_siblings) siblings.merge(fold.fused_relu);
  };
  const auto fold_pool = [&](BasicConv2d& branch_pool) {
    if (fold.average_pools) branch_pool->fold_average_pool();
  };
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* a = module->as<InceptionAImpl>()) {
      merge(a->input_convolutions);
      fold_pool(a->branch_pool);
    }
    if (auto* c = module->as<InceptionCImpl>()) {
      merge(c->input_convolutions);
      fold_pool(c->branch_pool);
    }
    if (auto* d = module->as<InceptionDImpl>()) merge(d->input_convolutions);
    if (auto* e = module->as<InceptionEImpl>()) {
      merge(e->input_convolutions);
      fold_pool(e->branch_pool);
    }
  }
}

std::vector<torch::Tensor> InceptionV3Impl::head_parameters() {
  std::vector<torch::Tensor> params = fc->parameters();
  if (AuxLogits) {
    auto aux = AuxLogits->fc->parameters();
    params.insert(params.end(), aux.begin(), aux.end());
  }
  return params;
}

}  // namespace derm
