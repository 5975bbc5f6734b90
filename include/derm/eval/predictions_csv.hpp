#pragma once
// Predictions CSV files.
//
// Predictions CSV: `image_id,<positive class 1>,...` with the ensemble's mean
// probability of each positive class (all classes but the last). For ISIC 2017
// (melanoma, seborrheic_keratosis, nevus) this is the challenge submission
// format `image_id,melanoma,seborrheic_keratosis`. For a binary task the
// reader also accepts `id,probability` (the positive class's probability).

#include <filesystem>
#include <string>
#include <vector>

#include "derm/metrics/predictions.hpp"

namespace derm {

// Writes atomically; one row per image in predictions order, probabilities
// with enough digits to read back the same float.
void write_predictions_csv(const std::filesystem::path& path, const Predictions& predictions);

// Reads a predictions CSV for the given class list (e.g. a ground truth's
// classes) as an ensemble of one member. Accepted headers: `image_id` (or
// `id`) followed by the positive classes in order, or by all the classes; for
// two classes also `id,probability` / `image_id,probability`. A class missing
// from the file (the rest class) gets max(0, 1 - sum of the others).
// A UTF-8 byte-order mark is skipped. derm::Error names the file (and line):
// wrong header (one line giving the expected one), a row with more or fewer
// fields than the header, a value that is not a number in [0, 1], a row whose
// probabilities sum to more than 1 (beyond 1e-3 of rounding), duplicate ids,
// no rows.
Predictions read_predictions_csv(const std::filesystem::path& path, const std::vector<std::string>& classes);

// An ensemble from its members' predictions CSVs, one member per file (as
// derm-eval writes for a single model), rows in the first file's order: the
// way to combine members evaluated apart (e.g. trained in different sessions).
// The rest class of each member is 1 - the others, as in read_predictions_csv.
// derm::Error naming the file whose image ids differ from the first file's.
Predictions read_member_predictions_csvs(const std::vector<std::filesystem::path>& paths,
                                         const std::vector<std::string>& classes);

}  // namespace derm
