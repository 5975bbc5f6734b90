#pragma once
// derm-eval's predictions across the ranks of a distributed run: rank r
// predicts batches r, r + W, r + 2W, ... of the entries (the batches one
// process would make, so each image's figures are the same), and every rank
// gets all of them in the entries' order.
#include <vector>

#include "derm/data/manifest.hpp"
#include "derm/distributed/process_group.hpp"
#include "derm/infer/classifier.hpp"

namespace derm {

// predict_entries (derm/infer/classify.hpp) on this rank's batches, then gathered.
Predictions predict_entries_across(ProcessGroup& group, Classifier& classifier, const std::vector<ManifestEntry>& entries,
                                   int batch_size, int tta_views, int workers, bool quiet);

}  // namespace derm
