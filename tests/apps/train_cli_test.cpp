// derm-train through its command line on synthetic images: impossible options,
// the ensemble folder it writes, exact resumption after an interruption, and
// derm-eval reproducing its validation.
#include <cmath>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "derm/core/image.hpp"
#include "derm/data/manifest.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/safetensors.hpp"
#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int train(const std::string& args, std::string* err = nullptr) {
  std::string out, e;
  const int code = run_command(quoted(tool_path("derm-train")) + " --device cpu --threads 1 -j 1 " + args, &out, &e);
  if (err) *err = e;
  return code;
}

std::string small_run(const fs::path& manifest, const fs::path& out, int members = 1, int epochs = 2) {
  return "--manifest " + quoted(manifest) + " --out " + quoted(out) +
         " --input-size 75 --backbone-size 75 --batch-size 4 --steps-per-epoch 4 --seed 5 --checkpoint-every 2"
         " --quiet --ensemble " + std::to_string(members) + " --epochs " + std::to_string(epochs);
}

TEST(TrainCli, ImpossibleOptionsAreOneLineErrorsNamingTheOption) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  struct Case {
    std::string args, expected;
    int code;  // 2: a bad command line, 1: bad input
  };
  const std::vector<Case> cases{
      {"--epochs 0", "--epochs", 2},
      {"--batch-size 1", "--batch-size", 2},
      {"--lr -1", "--lr", 2},
      {"--backbone-size 60 --input-size 60", "--backbone-size", 2},
      {"--optimizer rmsprop", "--optimizer", 2},
      {"--time-limit -1", "--time-limit", 2},
      {"--ensemble 2 --members 3", "--members", 2},
      {"--balance maybe", "--balance", 2},
      {"--rotation 10,5", "--rotation", 2},
      {"--rotation 0,5000", "--rotation", 2},
      {"--cutout-fill pink", "--cutout-fill", 2},
      {"--resize-policy fit", "--resize-policy", 2},
      {"--seed -1", "--seed", 2},
      {"--device tpu", "--device", 2},
      {"--init " + quoted(dir / "missing.safetensors"), "missing.safetensors", 1},
      {"--train-split nosuchsplit", "nosuchsplit", 1},
      {"--reset-heads", "--reset-heads", 2},
      {"--batch-size 9", "--batch-size 9 is more than the 4 training images", 2},
      {"--input-size 5000", "--input-size", 2},
      {"--head-epochs -2", "--head-epochs", 2},
      {"--aux-weight -1", "--aux-weight", 2},
      {"--ema-decay 1", "--ema-decay", 2},
      {"--no-augment --rotation 0,90", "--no-augment excludes --rotation", 2},
      {"--shards " + quoted(dir.path()) + " --gamma 1,2", "--shards excludes --gamma", 2},
  };
  for (const auto& c : cases) {
    std::string err;
    const int code = train("--manifest " + quoted(manifest) + " --out " + quoted(dir / "out") + " " + c.args, &err);
    EXPECT_EQ(code, c.code) << c.args << " -> " << err;
    EXPECT_NE(err.find(c.expected), std::string::npos) << c.args << " -> " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << c.args << " -> " << err;
  }
  std::string err;
  EXPECT_NE(train("--manifest " + quoted(dir / "none.csv") + " --out " + quoted(dir / "out"), &err), 0);
  EXPECT_NE(err.find("none.csv"), std::string::npos) << err;
}

TEST(TrainCli, WritesAnEnsembleFolderThatLoads) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  std::string err;
  ASSERT_EQ(train(small_run(manifest, dir / "ens", 2, 1), &err), 0) << err;
  for (const char* name : {"ensemble.json", "member-1.safetensors", "member-2.safetensors", "member-1.json",
                           "summary.json", "train-log.jsonl"}) {
    EXPECT_TRUE(fs::exists(dir / "ens" / name)) << name;
  }
  EXPECT_FALSE(fs::exists(dir / "ens" / "member-1.checkpoint")) << "checkpoints of finished members are removed";
  std::ifstream log(dir / "ens" / "train-log.jsonl");
  std::string first_epoch;
  ASSERT_TRUE(std::getline(log, first_epoch));
  const json epoch = json::parse(first_epoch);
  EXPECT_GT(epoch.at("images_per_second").get<double>(), 0.0);
  EXPECT_FALSE(epoch.at("cuda_graphs").get<bool>()) << "no CUDA graph on the CPU";
  EXPECT_FALSE(same_model_weights(dir / "ens" / "member-1.safetensors", dir / "ens" / "member-2.safetensors"))
      << "members must differ";
  std::string out;
  ASSERT_EQ(run_command(quoted(tool_path("derm-classify")) + " --json --device cpu --model " + quoted(dir / "ens") +
                            " " + quoted(dir / "data" / "images" / "syn_0_0.png"),
                        &out, &err),
            0)
      << err;
  const json result = json::parse(out);
  EXPECT_FALSE(result["untrained"].get<bool>());
  EXPECT_EQ(result["models"].size(), 2u);
}

TEST(TrainCli, AManifestOfOneClassIsRefused) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  std::ifstream in(manifest);
  std::ofstream one_class(dir / "melanoma.csv");
  for (std::string line; std::getline(in, line);) {
    if (line.find("nevus") == std::string::npos) one_class << line << "\n";
  }
  one_class.close();
  std::string err;
  EXPECT_EQ(train(small_run(dir / "melanoma.csv", dir / "out"), &err), 1);
  EXPECT_NE(err.find("melanoma.csv: 1 class(es); a classifier needs at least two"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "out" / "member-1.safetensors"));
}

TEST(TrainCli, FinishedMembersOfOtherOptionsAreNeitherSkippedNorMixedIn) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  std::string err;
  ASSERT_EQ(train(small_run(manifest, dir / "ens", 2, 1) + " --members 1", &err), 0) << err;
  const fs::path member1 = dir / "ens" / "member-1.safetensors";
  const auto written = fs::last_write_time(member1);

  // The same run again skips member 1; another learning rate is refused.
  EXPECT_EQ(train(small_run(manifest, dir / "ens", 2, 1) + " --members 1", &err), 0) << err;
  EXPECT_EQ(fs::last_write_time(member1), written) << "a finished member is not trained again";
  EXPECT_EQ(train(small_run(manifest, dir / "ens", 2, 1) + " --members 1 --lr 0.5", &err), 1);
  EXPECT_NE(err.find("member-1.json: member 1 was trained with lr 0.001, this run has 0.5"), std::string::npos)
      << err;

  // Member 2 with other options would make a mixed ensemble: refused before training it.
  EXPECT_EQ(train(small_run(manifest, dir / "ens", 2, 1) + " --members 2 --dropout 0.25", &err), 1);
  EXPECT_NE(err.find("member 1 was trained with dropout 0.5, this run has 0.25"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "ens" / "member-2.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "ens" / "ensemble.json"));
}

TEST(TrainCli, MembersTrainedByTwoProcessesMakeTheSameEnsembleAsOneRun) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  std::string err;
  ASSERT_EQ(train(small_run(manifest, dir / "one", 2, 1), &err), 0) << err;
  ASSERT_EQ(train(small_run(manifest, dir / "split", 2, 1) + " --members 2", &err), 0) << err;
  EXPECT_FALSE(fs::exists(dir / "split" / "ensemble.json")) << "member 1 is still missing";
  std::string out;
  EXPECT_EQ(run_command(quoted(tool_path("derm-classify")) + " --device cpu --model " + quoted(dir / "split") + " " +
                            quoted(dir / "data" / "images" / "syn_0_0.png"),
                        &out, &err),
            1)
      << "an unfinished ensemble is not classified with";
  EXPECT_NE(err.find("without ensemble.json"), std::string::npos) << err;
  ASSERT_EQ(train(small_run(manifest, dir / "split", 2, 1) + " --members 1", &err), 0) << err;
  EXPECT_TRUE(fs::exists(dir / "split" / "ensemble.json"));
  for (const char* member : {"member-1.safetensors", "member-2.safetensors"}) {
    EXPECT_TRUE(same_model_weights(dir / "one" / member, dir / "split" / member)) << member;
  }
  EXPECT_EQ(json::parse(std::ifstream(dir / "split" / "ensemble.json")),
            json::parse(std::ifstream(dir / "one" / "ensemble.json")));
}

TEST(TrainCli, TimeLimitShortensEachMembersScheduleToWhatFits) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  std::string err;
  // 0.1 s for two members of 40 epochs: each stops after its first epoch.
  ASSERT_EQ(train(small_run(manifest, dir / "short", 2, 40) + " --time-limit 0.00167", &err), 0) << err;
  const json summary = json::parse(std::ifstream(dir / "short" / "summary.json"));
  ASSERT_EQ(summary["members"].size(), 2u);
  for (const auto& member : summary["members"]) {
    EXPECT_TRUE(member["time_limited"].get<bool>()) << member.dump();
    EXPECT_LT(member["planned_epochs"].get<int>(), 40) << member.dump();
    EXPECT_EQ(member["epochs_run"], member["planned_epochs"]) << member.dump();
  }
  EXPECT_TRUE(fs::exists(dir / "short" / "ensemble.json"));

  ASSERT_EQ(train(small_run(manifest, dir / "ample", 1, 2) + " --time-limit 600", &err), 0) << err;
  const json ample = json::parse(std::ifstream(dir / "ample" / "summary.json"))["members"][0];
  EXPECT_FALSE(ample["time_limited"].get<bool>());
  EXPECT_EQ(ample["epochs_run"].get<int>(), 2);
}

TEST(TrainCli, ResumedRunReachesTheSameWeightsAsAnUninterruptedOne) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 6);
  std::string err;
  ASSERT_EQ(train(small_run(manifest, dir / "whole"), &err), 0) << err;

  // Interrupted at step 3 (last checkpoint at step 2, mid-epoch 1), then at
  // step 5 of the run (checkpoint at the end of epoch 1), then completed.
  EXPECT_EQ(train(small_run(manifest, dir / "interrupted") + " --stop-after-steps 3", &err), 4) << err;
  EXPECT_TRUE(fs::exists(dir / "interrupted" / "member-1.checkpoint"));
  EXPECT_EQ(train(small_run(manifest, dir / "interrupted") + " --stop-after-steps 3", &err), 4) << err;
  // What a kill during a checkpoint's write leaves; the member's next run removes it.
  const fs::path cut_short = dir / "interrupted" / ".member-1.checkpoint.tmp-5eed";
  std::ofstream(cut_short) << "half a checkpoint";
  ASSERT_EQ(train(small_run(manifest, dir / "interrupted"), &err), 0) << err;
  EXPECT_FALSE(fs::exists(cut_short));

  EXPECT_TRUE(same_model_weights(dir / "whole" / "member-1.safetensors", dir / "interrupted" / "member-1.safetensors"));
  const json whole = json::parse(std::ifstream(dir / "whole" / "member-1.json"));
  const json resumed = json::parse(std::ifstream(dir / "interrupted" / "member-1.json"));
  EXPECT_EQ(whole["history"].size(), resumed["history"].size());
  for (std::size_t e = 0; e < whole["history"].size(); ++e) {
    EXPECT_EQ(whole["history"][e]["train_loss"], resumed["history"][e]["train_loss"]) << "epoch " << e + 1;
  }

  // A checkpoint is not resumed under other options.
  EXPECT_EQ(train(small_run(manifest, dir / "changed") + " --stop-after-steps 3", &err), 4) << err;
  EXPECT_NE(train(small_run(manifest, dir / "changed") + " --lr 0.5", &err), 0);
  EXPECT_NE(err.find("other options"), std::string::npos) << err;
}

TEST(TrainCli, WeightAverageIsWhatIsSavedAndResumesExactly) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 6);
  std::string err;
  ASSERT_EQ(train(small_run(manifest, dir / "plain"), &err), 0) << err;
  const std::string averaged = " --ema-decay 0.9";
  ASSERT_EQ(train(small_run(manifest, dir / "whole") + averaged, &err), 0) << err;
  EXPECT_EQ(train(small_run(manifest, dir / "cut") + averaged + " --stop-after-steps 3", &err), 4) << err;
  ASSERT_EQ(train(small_run(manifest, dir / "cut") + averaged, &err), 0) << err;
  EXPECT_TRUE(same_model_weights(dir / "whole" / "member-1.safetensors", dir / "cut" / "member-1.safetensors"));
  // Same seed, same steps: only the averaging differs.
  EXPECT_FALSE(same_model_weights(dir / "plain" / "member-1.safetensors", dir / "whole" / "member-1.safetensors"));

  const json record = json::parse(std::ifstream(dir / "whole" / "member-1.json"));
  EXPECT_EQ(record["run"]["ema_decay"], 0.9);
  for (const auto& epoch : record["history"]) {
    EXPECT_TRUE(epoch.contains("val_loss_live")) << epoch.dump();
    EXPECT_NE(epoch["val_loss"], epoch["val_loss_live"]) << epoch.dump();
  }
  const json plain = json::parse(std::ifstream(dir / "plain" / "member-1.json"));
  EXPECT_FALSE(plain["run"].contains("ema_decay"));
  EXPECT_FALSE(plain["history"][0].contains("val_loss_live"));
  // A plain run's folder does not take an averaged member, nor its checkpoint.
  EXPECT_NE(train(small_run(manifest, dir / "plain") + averaged, &err), 0);
  EXPECT_NE(err.find("ema_decay"), std::string::npos) << err;
}

TEST(TrainCli, ImagesOnTheDeviceAreAugmentedThereAndResumeExactly) {
  // On this CPU-only machine the "device" is the CPU: the same tensor code path
  // that holds the images on a GPU. Noise-filled cut-outs, as the one random
  // draw of that path that could depend on the steps before.
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 6);
  const std::string on_device = " --data-on device --cutout-fill noise --cutout-probability 1";
  std::string err;
  ASSERT_EQ(train(small_run(manifest, dir / "whole") + on_device, &err), 0) << err;
  const json summary = json::parse(std::ifstream(dir / "whole" / "summary.json"));
  EXPECT_EQ(summary["augmentation"], "device");
  EXPECT_EQ(train(small_run(manifest, dir / "cut") + on_device + " --stop-after-steps 5", &err), 4) << err;
  ASSERT_EQ(train(small_run(manifest, dir / "cut") + on_device, &err), 0) << err;
  EXPECT_TRUE(same_model_weights(dir / "whole" / "member-1.safetensors", dir / "cut" / "member-1.safetensors"));
}

TEST(TrainCli, InitKeepsItsClassifierHeadsOnlyWhenItsClassesAreTheManifests) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);  // melanoma, nevus
  const fs::path same = write_small_model(dir / "same.safetensors", {"melanoma", "nevus"});
  const fs::path reordered = write_small_model(dir / "reordered.safetensors", {"nevus", "melanoma"});
  struct Case {
    fs::path init;
    std::string options;
    bool heads_kept;
  };
  const std::vector<Case> cases{{same, "", true}, {same, " --reset-heads", false}, {reordered, "", false}};
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const fs::path out = dir / ("run" + std::to_string(k));
    std::string err;
    // At this learning rate no weight moves by more than 1e-28: the member's file shows where training started.
    ASSERT_EQ(train(small_run(manifest, out, 1, 2) + " --lr 1e-30 --init " + quoted(c.init) + c.options, &err), 0)
        << err;
    const fs::path member = out / "member-1.safetensors";
    const auto started = read_safetensors(c.init).tensors;
    const auto trained = read_safetensors(member).tensors;
    int heads = 0;
    for (const auto& [name, tensor] : started) {
      const bool statistics = name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos;
      if (statistics) continue;  // BatchNorm's, which training mode updates
      ASSERT_EQ(trained.count(name), 1u) << name;
      const bool head = name.rfind("fc.", 0) == 0;
      heads += head;
      const bool started_here = torch::allclose(tensor, trained.at(name), /*rtol=*/0.0, /*atol=*/1e-20);
      EXPECT_EQ(started_here, !head || c.heads_kept) << c.init << c.options << ": " << name;
    }
    EXPECT_EQ(heads, 2) << "fc.weight and fc.bias";
    EXPECT_EQ(read_model_metadata(member).provenance["init_heads"], c.heads_kept ? "kept" : "new") << c.options;
    const json history = json::parse(std::ifstream(out / "member-1.json"))["history"];
    EXPECT_EQ(history[0]["stage"], c.heads_kept ? "all" : "heads") << "a head-only first epoch for new heads alone";
  }
}

TEST(TrainCli, TrainsOnDermAugmentShards) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  std::string out, err;
  ASSERT_EQ(run_command(quoted(tool_path("derm-augment")) + " --manifest " + quoted(manifest) + " --out " +
                            quoted(dir / "shards") + " --samples 12 --shard-size 5 --size 75 --threads 1 --quiet",
                        &out, &err),
            0)
      << err;
  ASSERT_EQ(train(small_run(manifest, dir / "ens", 1, 1) + " --shards " + quoted(dir / "shards"), &err), 0) << err;
  EXPECT_TRUE(fs::exists(dir / "ens" / "member-1.safetensors"));

  // Shards of another split are refused.
  ASSERT_EQ(run_command(quoted(tool_path("derm-augment")) + " --manifest " + quoted(manifest) + " --split val --out " +
                            quoted(dir / "val-shards") + " --samples 4 --size 75 --threads 1 --quiet",
                        &out, &err),
            0)
      << err;
  EXPECT_NE(train(small_run(manifest, dir / "ens2", 1, 1) + " --shards " + quoted(dir / "val-shards"), &err), 0);
  EXPECT_NE(err.find("another manifest or split"), std::string::npos) << err;
}

// Shades of Gray is kept in the member's file and applied by derm-classify: an
// image under a coloured light gets nearly the probabilities of the original
// (up to the rounding of the cast image to 8 bits), far nearer than without it.
TEST(TrainCli, ColourConstancyIsRecordedAndAppliedAtInference) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  const fs::path original = dir / "data" / "images" / "syn_0_1.png";
  cv::Mat cast;
  cv::multiply(read_rgb_image(original), cv::Scalar(0.95, 0.8, 0.65), cast);  // a warm light
  write_rgb(dir / "cast.png", cast);

  // |p(melanoma | original) - p(melanoma | cast)| for a model trained with `options`
  const auto cast_effect = [&](const std::string& name, const std::string& options) {
    std::string out, err;
    EXPECT_EQ(train(small_run(manifest, dir / name, 1, 1) + options, &err), 0) << err;
    EXPECT_EQ(run_command(quoted(tool_path("derm-classify")) + " --json --device cpu --model " + quoted(dir / name) +
                              " " + quoted(original) + " " + quoted(dir / "cast.png"),
                          &out, &err),
              0)
        << err;
    const json images = json::parse(out)["images"];
    const auto melanoma = [&](int k) { return images[k]["mean_probability"]["probabilities"]["melanoma"].get<double>(); };
    return std::abs(melanoma(0) - melanoma(1));
  };
  const double corrected = cast_effect("corrected", " --color-constancy shades_of_gray");
  const double plain = cast_effect("plain", "");
  const ModelMetadata m = read_model_metadata(dir / "corrected" / "member-1.safetensors");
  EXPECT_EQ(m.preprocessing.color_constancy, ColorConstancy::shades_of_gray);
  EXPECT_EQ(m.preprocessing.color_constancy_p, 6.0);
  EXPECT_EQ(read_model_metadata(dir / "plain" / "member-1.safetensors").preprocessing.color_constancy,
            ColorConstancy::none);
  // Measured: 7e-5 against 1.1e-3.
  EXPECT_LT(corrected * 5, plain) << corrected << " vs " << plain;
}

// derm-eval on the validation split sees what derm-train's validation saw: the
// same images, preprocessing (colour constancy included) and probabilities.
// The loss is recomputed from derm-eval's predictions.csv (9 significant
// digits), whose network runs with BatchNorm folded into the convolutions:
// float32 rounding of about 1e-6 relative, against the 1e-4 allowed.
TEST(TrainCli, DermEvalReproducesTheValidationOfTraining) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 8);
  std::string out, err;
  ASSERT_EQ(train(small_run(manifest, dir / "run", 1, 1) + " --color-constancy shades_of_gray", &err), 0) << err;
  std::ifstream log(dir / "run" / "train-log.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  const double val_loss = json::parse(line).at("val_loss").get<double>();
  ASSERT_EQ(run_command(quoted(tool_path("derm-eval")) + " --model " + quoted(dir / "run") + " --manifest " +
                            quoted(manifest) + " --split val --bootstrap 0 --device cpu --quiet --out " +
                            quoted(dir / "eval"),
                        &out, &err),
            0)
      << err;
  std::map<std::string, int> label_of;
  for (const auto& e : read_manifest(manifest).entries) {
    if (e.split == "val") label_of[e.id] = e.label_index;
  }
  std::ifstream predictions(dir / "eval" / "predictions.csv");
  ASSERT_TRUE(std::getline(predictions, line));
  ASSERT_EQ(line, "image_id,melanoma");  // classes melanoma, nevus: p(nevus) = 1 - p(melanoma)
  double loss_sum = 0;
  int images = 0;
  while (std::getline(predictions, line)) {
    const std::string id = line.substr(0, line.find(','));
    const double melanoma = std::stod(line.substr(line.find(',') + 1));
    ASSERT_EQ(label_of.count(id), 1u) << id;
    loss_sum -= std::log(label_of[id] == 0 ? melanoma : 1 - melanoma);
    ++images;
  }
  ASSERT_EQ(images, static_cast<int>(label_of.size()));
  EXPECT_NEAR(loss_sum / images, val_loss, 1e-4 * val_loss) << "derm-eval's probabilities are not those of training";
}

}  // namespace
}  // namespace derm::testing
