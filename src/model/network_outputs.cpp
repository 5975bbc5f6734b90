#include "derm/model/network_outputs.hpp"

namespace derm {

void append_rows(std::vector<std::vector<float>>& rows, const torch::Tensor& values) {
  const torch::Tensor host = values.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t columns = host.size(1);
  rows.reserve(rows.size() + static_cast<std::size_t>(host.size(0)));
  for (int64_t i = 0; i < host.size(0); ++i) {
    const float* row = host.data_ptr<float>() + i * columns;
    rows.emplace_back(row, row + columns);
  }
}

}  // namespace derm
