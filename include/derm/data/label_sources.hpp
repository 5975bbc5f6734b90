#pragma once
// Readers of the ISIC label formats. Each turns one source (a label file or
// folder plus its image folder) into labelled images with a diagnosis code
// (see diagnosis.hpp); tasks decide later which classes they become.
//
// Formats (the string before the first ':' of a source spec):
//   isic2017 / isic2016  CSV `image_id,melanoma,seborrheic_keratosis`, 1.0/0.0
//                        (neither = nevus) - the Part 3 ground truth
//   isic2018 / isic2019  one-hot CSV `image,MEL,NV,BCC,AKIEC,BKL,DF,VASC` (2018) or
//                        `image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK` (2019)
//   isic2020             `image_name,patient_id,lesion_id,sex,age_approx,
//                        anatom_site_general_challenge,diagnosis,benign_malignant,target`
//                        (target 1 = melanoma; otherwise the diagnosis column)
//   ham10000             `HAM10000_metadata.csv`: `lesion_id,image_id,dx,...`
//   isic-json            a folder of ISIC archive records `ISIC_xxxxxxx.json`
//                        (meta.clinical.diagnosis or diagnosis, else
//                        meta.clinical.benign_malignant) beside their images
//   folders              DIR/<diagnosis>/<image>, e.g. DIR/melanoma/a.jpg
// Errors (derm::Error, one line naming the file): wrong header (the message
// says which header was expected), a value that is not 0/1, an unknown label,
// and an id listed twice in one source. A listed id without an image file is
// not an error: it is returned with an empty path and excluded later.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "derm/data/diagnosis.hpp"

namespace derm {

struct LabeledImage {
  std::string id;
  std::filesystem::path path;  // empty when no image file was found for the id
  Diagnosis diagnosis = Diagnosis::unk;
  std::string lesion_id;
  std::string patient_id;
  std::string split;   // empty when the source gives none
  std::string source;  // the format name, e.g. "isic2017"
  std::string origin;  // where the label came from, "FILE:LINE" or the JSON file
};

struct SourceSpec {
  std::string format;
  std::filesystem::path labels;  // CSV file, or the folder for isic-json/folders
  std::filesystem::path images;  // image folder (searched recursively); = labels for folders
  std::string split;             // optional fixed split for every image of the source
};

// "FORMAT:CSV:IMAGE_DIR[:SPLIT]", "isic-json:DIR[:SPLIT]", "folders:DIR[:SPLIT]".
SourceSpec parse_source_spec(const std::string& text);
std::vector<std::string> source_formats();

std::vector<LabeledImage> read_source(const SourceSpec& spec);

// Image files (by extension: jpg, jpeg, png, bmp, tif, tiff, webp) under a folder,
// recursively, by file stem; derm::Error when the folder does not exist.
std::map<std::string, std::filesystem::path> list_images(const std::filesystem::path& folder);

}  // namespace derm
