// derm-serve through HTTP on loopback: its answers, its refusals, its limits
// under load, and its shutdown. Each test starts its own server process.
#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/model/model_files.hpp"
#include "serve_process.hpp"
#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

httplib::Result post(int port, const std::string& body, const std::string& type = "image/jpeg",
                     const std::string& path = "/v1/classify", const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);
  return client.Post(path.c_str(), headers, body, type.c_str());
}

// The mean probabilities of an answer, by class.
std::map<std::string, double> probabilities(const std::string& body) {
  return json::parse(body).at("images").at(0).at("mean_probability").at("probabilities");
}

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    UntrainedModelOptions o;
    o.input_size = o.backbone_size = 96;
    model_ = dir_ / "model.safetensors";
    create_untrained_model(model_, o);
    for (int k = 0; k < 4; ++k) {
      std::vector<unsigned char> jpeg;
      cv::imencode(".jpg", synthetic_lesion(120 + 10 * k, 100, static_cast<std::uint64_t>(k + 1)), jpeg);
      images_.emplace_back(jpeg.begin(), jpeg.end());
    }
  }

  std::unique_ptr<ServeProcess> start(std::vector<std::string> args = {}, bool wait_ready = true) {
    args.insert(args.begin(), {"--model", model_.string(), "--port", "0", "--device", "cpu"});
    return std::make_unique<ServeProcess>(args, dir_ / "serve.log", wait_ready);
  }

  TempDir dir_;
  fs::path model_;
  std::vector<std::string> images_;
};

TEST_F(Serve, ClassifiesARealImageExactlyAsDermClassify) {
  DERM_REQUIRE_DATA(data);
  const fs::path image = data / "isic2017" / "images" / "ISIC_0000002.jpg";
  std::string out;
  ASSERT_EQ(run_command(tool_path("derm-classify").string() + " --json --quiet --device cpu --model " +
                            quoted(model_) + " " + quoted(image),
                        &out),
            0);
  const json expected = json::parse(out).at("images").at(0);
  const auto server = start();
  const auto res = post(server->port(), read_file(image));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json answer = json::parse(res->body);
  EXPECT_EQ(answer.at("images").at(0).at("mean_probability"), expected.at("mean_probability"));
  EXPECT_EQ(answer.at("images").at(0).at("majority_vote"), expected.at("majority_vote"));
  EXPECT_EQ(answer.at("images").at(0).at("members").at(0).at("probabilities"),
            expected.at("members").at(0).at("probabilities"));
  EXPECT_TRUE(answer.at("untrained").get<bool>());
  EXPECT_EQ(answer.at("models").at(0), "model.safetensors");  // no server paths

  // The same through a multipart form, with the heatmap of the predicted class.
  httplib::Client client("127.0.0.1", server->port());
  client.set_read_timeout(120, 0);
  const httplib::MultipartFormDataItems form{{"image", read_file(image), "ISIC_0000002.jpg", "image/jpeg"}};
  const auto multipart = client.Post("/v1/classify?heatmap=predicted", form);
  ASSERT_TRUE(multipart);
  ASSERT_EQ(multipart->status, 200) << multipart->body;
  const json with_heatmap = json::parse(multipart->body).at("images").at(0);
  EXPECT_EQ(with_heatmap.at("image"), "ISIC_0000002.jpg");
  EXPECT_EQ(with_heatmap.at("mean_probability"), expected.at("mean_probability"));
  EXPECT_EQ(with_heatmap.at("heatmap").at("class"), expected.at("prediction"));
  EXPECT_EQ(with_heatmap.at("heatmap").at("png").get<std::string>().rfind("data:image/png;base64,", 0), 0u);
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

TEST_F(Serve, RefusesBadBodiesWithAJsonErrorAndStaysUp) {
  const auto server = start({"--max-upload-mb", "1"});
  std::string huge_png;
  {
    std::vector<unsigned char> png;
    cv::imencode(".png", synthetic_lesion(64, 64, 3), png);
    huge_png.assign(png.begin(), png.end());
    const unsigned char side[4] = {0x00, 0x00, 0xEA, 0x60};  // 60000
    huge_png.replace(16, 4, reinterpret_cast<const char*>(side), 4);
    huge_png.replace(20, 4, reinterpret_cast<const char*>(side), 4);
  }
  struct Case {
    std::string what, body, type;
    int status;
    std::string error;
  };
  const std::vector<Case> cases{
      {"empty", "", "image/jpeg", 400, "empty file"},
      {"truncated JPEG", images_[0].substr(0, images_[0].size() / 2), "image/jpeg", 400, "upload:"},
      {"text as an image", "this is no image", "image/jpeg", 400, "not an image"},
      {"text", "this is no image", "text/plain", 415, "expected an image"},
      {"JSON", "{\"image\": 1}", "application/json", 415, "expected an image"},
      {"a PNG declaring 60000x60000", huge_png, "image/png", 400, "image too large (60000x60000)"},
      {"twice the upload limit", std::string(2 << 20, 'x'), "image/jpeg", 413, "larger than 1 MB"},
  };
  for (const auto& c : cases) {
    const auto res = post(server->port(), c.body, c.type);
    ASSERT_TRUE(res) << c.what;
    EXPECT_EQ(res->status, c.status) << c.what << ": " << res->body;
    const json error = json::parse(res->body);
    EXPECT_NE(error.at("error").get<std::string>().find(c.error), std::string::npos) << c.what << ": " << res->body;
  }
  const auto bad_class = post(server->port(), images_[0], "image/jpeg", "/v1/classify?heatmap=eczema");
  ASSERT_TRUE(bad_class);
  EXPECT_EQ(bad_class->status, 400) << bad_class->body;
  httplib::Client client("127.0.0.1", server->port());
  const auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const auto good = post(server->port(), images_[0]);
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
}

TEST_F(Serve, AnApiKeyFileGuardsTheApi) {
  std::ofstream(dir_ / "key") << "s3cret-key\n";
  const auto server = start({"--api-key-file", (dir_ / "key").string()});
  const auto missing = post(server->port(), images_[0]);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer");
  const auto wrong = post(server->port(), images_[0], "image/jpeg", "/v1/classify", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  const auto right =
      post(server->port(), images_[0], "image/jpeg", "/v1/classify", {{"Authorization", "Bearer s3cret-key"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200) << right->body;
  httplib::Client client("127.0.0.1", server->port());
  const auto model = client.Get("/v1/model");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->status, 401);
  const auto page = client.Get("/");  // the page and the probes need no key
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("Not a medical device"), std::string::npos);
}

TEST_F(Serve, CorsOnlyWhenAskedAndATimeoutIs503) {
  const auto closed = start();
  const auto plain = post(closed->port(), images_[0]);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(plain->get_header_value("X-Request-Id").empty());

  const auto open = start({"--cors-origin", "https://viewer.clinic.example", "--request-timeout-ms", "1"});
  httplib::Client client("127.0.0.1", open->port());
  const auto preflight = client.Options("/v1/classify");
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), "https://viewer.clinic.example");
  // A forward pass takes longer than 1 ms: the request gives up waiting.
  const auto late = post(open->port(), images_[0]);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 503) << late->body;
  EXPECT_EQ(late->get_header_value("Retry-After"), "1");
  EXPECT_NE(late->body.find("timed out after 1 ms"), std::string::npos) << late->body;
  EXPECT_EQ(late->get_header_value("Access-Control-Allow-Origin"), "https://viewer.clinic.example");
}

// 16 clients sending 25 requests each, of the given images in turn.
struct LoadOutcome {
  std::map<int, int> statuses;
  int wrong_answers = 0;        // 200 with other probabilities than the image's alone
  int unanswered = 0;           // no answer at all (refused connection, broken one)
  std::string last_failure;
  int retry_after_missing = 0;  // 503 without Retry-After
};

LoadOutcome load(int port, const std::vector<std::string>& images,
                 const std::vector<std::map<std::string, double>>& expected, int clients = 16, int requests = 25) {
  LoadOutcome outcome;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(300, 0);
      for (int r = 0; r < requests; ++r) {
        const std::size_t k = static_cast<std::size_t>(c + r) % images.size();
        const auto res = client.Post("/v1/classify", images[k], "image/jpeg");
        const std::lock_guard<std::mutex> lock(mutex);
        if (!res) {
          ++outcome.unanswered;
          outcome.last_failure = httplib::to_string(res.error());
          continue;
        }
        ++outcome.statuses[res->status];
        if (res->status == 503 && res->get_header_value("Retry-After").empty()) ++outcome.retry_after_missing;
        if (res->status != 200) continue;
        // Batched with others, an image may meet other kernels than alone: float32 rounding only.
        for (const auto& [name, p] : probabilities(res->body)) {
          if (std::abs(p - expected[k].at(name)) > 1e-5) ++outcome.wrong_answers;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return outcome;
}

// The batch-size histogram's count and how many batches held one image.
std::pair<double, double> batches(int port) {
  httplib::Client client("127.0.0.1", port);
  const auto res = client.Get("/metrics");
  EXPECT_TRUE(res && res->status == 200);
  const auto value = [&](const std::string& name) {
    const auto at = res->body.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(res->body.substr(at + name.size() + 2));
  };
  return {value("derm_batch_size_count"), value("derm_batch_size_bucket{le=\"1\"}")};
}

TEST_F(Serve, UnderLoadEveryRequestGetsItsOwnAnswerInBatches) {
  const auto server = start({"--max-batch", "8", "--max-wait-ms", "20"});
  std::vector<std::map<std::string, double>> sequential;
  for (const auto& image : images_) {
    const auto res = post(server->port(), image);
    ASSERT_TRUE(res && res->status == 200);
    sequential.push_back(probabilities(res->body));
  }
  const LoadOutcome outcome = load(server->port(), images_, sequential);
  EXPECT_EQ(outcome.statuses, (std::map<int, int>{{200, 400}}));
  EXPECT_EQ(outcome.unanswered, 0) << outcome.last_failure;
  EXPECT_EQ(outcome.wrong_answers, 0);
  const auto [count, single] = batches(server->port());
  EXPECT_GT(count, 0);
  EXPECT_LT(single, count) << "no batch held more than one image";
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

TEST_F(Serve, AFullQueueAnswers503AndNothingHangs) {
  const auto server = start({"--max-queue", "1", "--max-batch", "1"});
  std::vector<std::map<std::string, double>> sequential;
  for (const auto& image : images_) {
    const auto res = post(server->port(), image);
    ASSERT_TRUE(res && res->status == 200);
    sequential.push_back(probabilities(res->body));
  }
  LoadOutcome outcome = load(server->port(), images_, sequential);
  EXPECT_GT(outcome.statuses[503], 0);
  EXPECT_GT(outcome.statuses[200], 0);
  EXPECT_EQ(outcome.statuses[200] + outcome.statuses[503], 400);
  EXPECT_EQ(outcome.unanswered, 0) << outcome.last_failure;
  EXPECT_EQ(outcome.wrong_answers, 0);
  EXPECT_EQ(outcome.retry_after_missing, 0);
}

// The queue-depth gauge of /metrics, asked over one kept-alive connection: a
// new connection per look can hold server threads that the requests need.
double queue_depth(httplib::Client& client) {
  const auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const auto at = res->body.find("\nderm_queue_depth ");
  return at == std::string::npos ? -1 : std::stod(res->body.substr(at + 18));
}

TEST_F(Serve, SigtermAnswersTheRequestsInFlightThenExitsZero) {
  // The burst waits in the queue: a batch of 9 never fills with 8 requests, so
  // the first waits --max-wait-ms (3 s) for more, and the signal comes while
  // all eight wait (a slow network alone raced the burst on a busy machine).
  // Threads for the 8 requests and for the test's look at /metrics.
  ServeProcess server({"--model", model_.string(), "--port", "0", "--device", "cpu", "--max-batch", "9",
                       "--max-wait-ms", "3000", "--http-threads", "12"},
                      dir_ / "serve.log");
  std::atomic<int> answered{0};
  std::atomic<int> answered_after_signal{0};
  std::atomic<bool> signalled{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_read_timeout(300, 0);
      const auto res = client.Post("/v1/classify", images_[static_cast<std::size_t>(c) % images_.size()], "image/jpeg");
      if (res && res->status == 200) {
        ++answered;
        if (signalled) ++answered_after_signal;
      }
    });
  }
  // Every request has arrived when eight wait.
  httplib::Client metrics("127.0.0.1", server.port());
  metrics.set_keep_alive(true);
  for (int wait = 0; wait < 60 && queue_depth(metrics) < 8; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const bool queued = queue_depth(metrics) >= 8;
  signalled = true;
  const int exit_code = server.stop(SIGTERM, std::chrono::seconds(120));
  for (auto& t : clients) t.join();
  EXPECT_TRUE(queued) << "the burst never queued up";
  EXPECT_EQ(exit_code, 0) << read_file(dir_ / "serve.log");
  EXPECT_EQ(answered, 8) << "a request in flight was dropped";
  EXPECT_EQ(answered_after_signal, 8) << "the burst was answered before the signal";
}

TEST_F(Serve, ReadinessWaitsForTheModelAndABadModelIsAnError) {
  std::ofstream(dir_ / "broken.safetensors") << "not a model";
  ServeProcess broken({"--model", (dir_ / "broken.safetensors").string(), "--port", "0"}, dir_ / "broken.log",
                      /*wait_ready=*/false);
  EXPECT_EQ(broken.stop(0), 1);  // signal 0: only wait for it
  const std::string log = read_file(dir_ / "broken.log");
  EXPECT_NE(log.find("derm-serve: error: " + (dir_ / "broken.safetensors").string()), std::string::npos) << log;
  std::string err;
  EXPECT_EQ(run_command(tool_path("derm-serve").string() + " --model " + quoted(model_) + " --max-batch 0", nullptr,
                        &err),
            2);
  EXPECT_NE(err.find("--max-batch must be at least 1"), std::string::npos) << err;
}

}  // namespace
}  // namespace derm::testing
