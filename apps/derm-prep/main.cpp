// derm-prep: ISIC labels and images in, a checked, leak-aware manifest out.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "derm/data/diagnosis.hpp"
#include "derm/core/error.hpp"
#include "derm/data/grouped_split.hpp"
#include "derm/core/logging.hpp"
#include "derm/data/prep.hpp"
#include "derm/version.hpp"
#include "tool_main.hpp"

namespace {

struct CommandLine {
  derm::PrepOptions prep;
  std::vector<std::string> sources;
  std::string isic2017_dir;
  std::string split;
  std::string cache_policy = "squash";
  std::string summary_path;
  bool json = false;
  bool verbose = false;
};

const char* kFooter = R"(
Sources (--source, repeatable; SPLIT optional, e.g. train/val/test):
  isic2017:CSV:IMAGE_DIR[:SPLIT]   ISIC 2016/2017 Part 3 `image_id,melanoma,seborrheic_keratosis`
  isic2016:CSV:IMAGE_DIR[:SPLIT]   (same format)
  isic2018:CSV:IMAGE_DIR[:SPLIT]   one-hot `image,MEL,NV,BCC,AKIEC,BKL,DF,VASC`
  isic2019:CSV:IMAGE_DIR[:SPLIT]   one-hot `image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK`
  isic2020:CSV:IMAGE_DIR[:SPLIT]   `image_name,patient_id,lesion_id,...,diagnosis,benign_malignant,target`
  ham10000:CSV:IMAGE_DIR[:SPLIT]   HAM10000_metadata.csv `lesion_id,image_id,dx,...`
  isic-json:DIR[:SPLIT]            ISIC archive records ISIC_x.json beside the images
  folders:DIR[:SPLIT]              DIR/<diagnosis>/<images> (melanoma, nevus, bkl, ...)
Image folders are searched recursively for <id>.jpg/.jpeg/.png/...

Tasks (diagnosis codes -> classes; the LAST class is the negative/rest class;
other diagnoses are excluded as "not in task"):
)";

const char* kFooterEnd = R"(
Checks: every image is decoded (corrupt, truncated, empty, grayscale, too small
-> excluded with the reason); ids without image, images without label row and
ids from two sources are excluded and listed; an id twice in one CSV is an error.
Duplicates: byte-identical (SHA-256) and near (pHash Hamming <= --near-distance).
A duplicate pair across splits is a leak: reported, or with --drop-leaks the copy
in the less evaluative split (train < val < test) is left out of the manifest.
Manifest columns: id,path,label,label_index,lesion_id,patient_id,split,
content_hash,width,height,source (paths relative to the manifest's folder).
Exit codes: 0 ok, 1 error, 2 bad command line.

Example:
  derm-prep --task isic2017 --isic2017-dir data/isic2017 --out isic2017.csv --json
  derm-prep --task ham7 --source ham10000:HAM10000_metadata.csv:images \
            --split 0.8,0.1,0.1 --seed 1 --out ham.csv
)";

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  CLI::App app("Builds a derm manifest from ISIC label files and images: checks every image, "
               "hashes it, finds duplicates and cross-split leaks, keeps or makes leak-free splits.",
               "derm-prep");
  app.set_version_flag("--version", std::string("derm-prep ") + DERM_VERSION);
  app.footer(std::string(kFooter) + derm::describe_tasks() + kFooterEnd);
  app.add_option("--task", cl.prep.task, "Class list: isic2017, melanoma or ham7")
      ->capture_default_str();
  app.add_option("--source", cl.sources, "Label source FORMAT:...:[SPLIT] (repeatable, see below)");
  app.add_option("--isic2017-dir", cl.isic2017_dir,
                 "Folder with the three official ISIC 2017 Part 3 CSVs and images/ "
                 "(adds them as train/val/test sources)");
  app.add_option("--out,-o", cl.prep.out, "Manifest CSV to write (atomically)")->required();
  app.add_option("--split", cl.split,
                 "Make a grouped (lesion/patient/duplicate), stratified split for images whose "
                 "source gives none, e.g. 0.8,0.1,0.1 (train,val,test) or train=0.9,test=0.1");
  app.add_option("--seed", cl.prep.seed, "Seed of --split")->check(derm::cli::at_least(0))
      ->capture_default_str();
  app.add_option("--min-side", cl.prep.min_side, "Smaller images are excluded")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--threads,-j", cl.prep.threads, "Decode/hash threads")
      ->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--near-distance", cl.prep.near_distance,
                 "pHash Hamming distance for near duplicates (-1: off)")
      ->capture_default_str()->check(CLI::Range(-1, 64));
  app.add_flag("--drop-leaks", cl.prep.drop_leaks,
               "Leave the non-test copy of each cross-split duplicate out of the manifest");
  app.add_option("--cache", cl.prep.cache_dir,
                 "Write resized PNG copies here and point the manifest at them (hash, width "
                 "and height stay those of the source file)");
  app.add_option("--cache-size", cl.prep.cache_size, "Side of the cached squares")
      ->capture_default_str();
  app.add_option("--cache-policy", cl.cache_policy, "squash, center_crop or pad")
      ->check(derm::cli::enum_name<derm::ResizePolicy>())->capture_default_str();
  app.add_flag("--absolute-paths", cl.prep.absolute_paths,
               "Write absolute image paths (default: relative to the manifest's folder)");
  app.add_flag("--json", cl.json, "Print the JSON summary on stdout");
  app.add_option("--summary", cl.summary_path, "Write the JSON summary to this file");
  app.add_flag("--quiet,-q", cl.prep.quiet, "Errors only on stderr, no progress");
  app.add_flag("--verbose,-v", cl.verbose, "More logging on stderr");

  const auto run = [&] {
    derm::configure_logging(cl.prep.quiet     ? derm::Verbosity::quiet
                            : cl.verbose      ? derm::Verbosity::verbose
                                              : derm::Verbosity::normal);
    if (!cl.isic2017_dir.empty()) {
      for (auto& spec : derm::isic2017_sources(cl.isic2017_dir)) cl.prep.sources.push_back(spec);
    }
    for (const auto& text : cl.sources) cl.prep.sources.push_back(derm::parse_source_spec(text));
    if (cl.prep.sources.empty()) throw derm::Error("no input: give --source or --isic2017-dir");
    if (!cl.split.empty()) cl.prep.split_fractions = derm::parse_split_fractions(cl.split);
    cl.prep.cache_policy = derm::parse_enum<derm::ResizePolicy>(cl.cache_policy, "cache_policy");
    cl.prep.summary = cl.summary_path;
    const derm::PrepResult result = derm::run_prep(cl.prep);
    if (cl.json) std::fputs((result.summary.dump(2) + "\n").c_str(), stdout);
    return derm::cli::kExitOk;
  };
  return derm::cli::run_tool(app, argc, argv, run,
                             {{"sources", "--source"}, {"split_fractions", "--split"}, {"cache_dir", "--cache"}});
}
