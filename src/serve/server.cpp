#include "derm/serve/server.hpp"

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "batcher.hpp"
#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/image.hpp"
#include "derm/version.hpp"
#include "page.hpp"
#include "service_metrics.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kJson = "application/json";

std::string base64(const std::string& bytes) {
  static const char* const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const auto byte = [&](std::size_t k) { return k < bytes.size() ? static_cast<unsigned char>(bytes[k]) : 0u; };
    const unsigned int group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += alphabet[group >> 18 & 63];
    out += alphabet[group >> 12 & 63];
    out += i + 1 < bytes.size() ? alphabet[group >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[group & 63] : '=';
  }
  return out;
}

// Equal strings, in a time that depends on their lengths alone.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return difference == 0;
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(json{{"error", message}}.dump(), kJson);
}

void send_busy(httplib::Response& res, const std::string& message) {
  res.set_header("Retry-After", "1");
  send_error(res, 503, message);
}

// The route a request is counted under (not its query, never its content).
std::string route_of(const httplib::Request& req) {
  for (const char* route : {"/", "/v1/classify", "/v1/model", "/healthz", "/readyz", "/metrics"}) {
    if (req.path == route) return route;
  }
  return "other";
}

// The image's bytes and name from a raw body or a multipart field "image";
// an empty name when the body is no image upload (415).
std::pair<std::string, std::string> uploaded_image(const httplib::Request& req) {
  if (req.is_multipart_form_data()) {
    if (!req.has_file("image")) return {"", ""};
    const auto file = req.get_file_value("image");
    return {file.content, file.filename.empty() ? "upload" : file.filename};
  }
  const std::string type = req.get_header_value("Content-Type");
  const bool image = type.empty() || type.rfind("image/", 0) == 0 || type.rfind("application/octet-stream", 0) == 0;
  return {req.body, image ? "upload" : ""};
}

}  // namespace

struct Server::State {
  ServeOptions options;
  std::string api_key;
  httplib::Server http;
  socket_t listening_socket = INVALID_SOCKET;  // as httplib made it, before its listen()
  int port = -1;
  detail::ServiceMetrics metrics;
  std::atomic<std::uint64_t> next_request{1};
  // The model, loaded in the background by run().
  std::mutex model_mutex;
  std::unique_ptr<Classifier> classifier;
  std::unique_ptr<detail::Batcher> batcher;
  std::atomic<bool> ready{false};
  std::atomic<bool> listen_ended{false};
  std::exception_ptr load_error;
  json model_description;

  void load_model();
  void routes();
  void classify(const httplib::Request& req, httplib::Response& res);
};

namespace {

void check(const ServeOptions& o) {
  const auto require = [](bool ok, const std::string& option, const std::string& problem) {
    if (!ok) throw OptionError(option, problem);
  };
  require(o.port >= 0 && o.port <= 65535, "port", "must be in [0, 65535] (0: a free port)");
  require(o.max_batch >= 1, "max_batch", "must be at least 1");
  require(o.max_wait_ms >= 0, "max_wait_ms", "must not be negative");
  require(o.max_queue >= 1, "max_queue", "must be at least 1");
  require(o.request_timeout_ms >= 1, "request_timeout_ms", "must be at least 1");
  require(o.max_upload_mb >= 1, "max_upload_mb", "must be at least 1");
  require(o.http_threads >= 1, "http_threads", "must be at least 1");
  require(!o.classifier.models.empty(), "models", "is required: no model given");
}

}  // namespace

Server::Server(ServeOptions options) : state_(std::make_unique<State>()) {
  check(options);
  state_->options = std::move(options);
  if (!state_->options.api_key_file.empty()) {
    std::string key = read_file(state_->options.api_key_file);
    key = key.substr(0, key.find_first_of("\r\n"));
    if (key.empty()) throw Error(state_->options.api_key_file.string() + ": empty API key file");
    state_->api_key = key;
  }
  state_->routes();
}

Server::~Server() = default;

void Server::bind() {
  const auto& o = state_->options;
  state_->http.set_socket_options([this](socket_t socket) {
    httplib::default_socket_options(socket);
    state_->listening_socket = socket;
  });
  state_->port = o.port == 0 ? state_->http.bind_to_any_port(o.host) : (state_->http.bind_to_port(o.host, o.port)
                                                                          ? o.port
                                                                          : -1);
  if (state_->port < 0) {
    throw Error(o.host + ":" + std::to_string(o.port) + ": cannot listen there (in use, or no such address)");
  }
  // Debian's httplib listens with a backlog of 5: a burst of new connections
  // (clients without keep-alive) overflows it, the kernel answers with SYN
  // cookies, and one that fails validation is reset after the client sent its
  // request. listen() again sets the backlog (to the system's maximum).
  if (::listen(state_->listening_socket, SOMAXCONN) != 0) {
    spdlog::warn("the listen backlog stays at httplib's 5: listen() failed");
  }
}

json Server::address() const {
  const std::string host = state_->options.host.find(':') != std::string::npos ? "[" + state_->options.host + "]"
                                                                                : state_->options.host;
  return {{"host", state_->options.host},
          {"port", state_->port},
          {"url", "http://" + host + ":" + std::to_string(state_->port) + "/"}};
}

void Server::run() {
  std::thread loader([this] { state_->load_model(); });
  state_->http.listen_after_bind();
  state_->listen_ended = true;
  loader.join();
  state_->batcher.reset();  // answers what is still queued
  if (state_->load_error) std::rethrow_exception(state_->load_error);
}

void Server::stop() {
  // httplib ignores a stop before its loop runs: wait for it (or for its end).
  while (!state_->http.is_running() && !state_->listen_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  state_->http.stop();
}

void Server::State::load_model() {
  try {
    auto loaded = std::make_unique<Classifier>(options.classifier);
    // Warm-up: one image through every member, so the first request pays no first-call costs.
    const cv::Mat warm(64, 64, CV_8UC3, cv::Scalar(180, 140, 120));
    loaded->classify({warm}, {"warm-up"});
    json members = json::array();
    for (std::size_t m = 0; m < loaded->members().size(); ++m) {
      json member = to_json(loaded->members()[m]);
      member["file"] = loaded->member_paths()[m].filename().string();
      members.push_back(std::move(member));
    }
    const std::lock_guard<std::mutex> lock(model_mutex);
    model_description = {{"version", DERM_VERSION},
                         {"device", loaded->device()},
                         {"classes", loaded->classes()},
                         {"untrained", loaded->untrained()},
                         {"heatmap_layer", options.heatmap_layer},
                         {"members", members}};
    classifier = std::move(loaded);
    batcher = std::make_unique<detail::Batcher>(
        *classifier,
        detail::Batcher::Settings{static_cast<std::size_t>(options.max_batch),
                                  std::chrono::milliseconds(options.max_wait_ms),
                                  static_cast<std::size_t>(options.max_queue), options.heatmap_layer},
        metrics);
    ready = true;
    spdlog::info("ready: {} member(s) on {}", classifier->members().size(), classifier->device());
  } catch (...) {
    load_error = std::current_exception();
    while (!http.is_running() && !listen_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    http.stop();
  }
}

void Server::State::routes() {
  const auto& o = options;
  http.new_task_queue = [threads = o.http_threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(static_cast<size_t>(o.max_upload_mb) << 20);
  // A client on keep-alive stays on its connection (httplib closes one after 5 requests by default).
  http.set_keep_alive_max_count(1000);
  // Each request's id and arrival, for its access-log line (one thread serves a request).
  static thread_local Clock::time_point arrived;
  static thread_local std::uint64_t request_id;
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    arrived = Clock::now();
    request_id = next_request++;
    res.set_header("X-Request-Id", std::to_string(request_id));
    if (!options.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", options.cors_origin);
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    }
    if (!api_key.empty() && req.path.rfind("/v1/", 0) == 0 && req.method != "OPTIONS") {
      const std::string authorization = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      const bool bearer = authorization.rfind(prefix, 0) == 0;
      if (!bearer || !same_secret(authorization.substr(prefix.size()), api_key)) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, 401, bearer ? "wrong API key" : "an API key is required: Authorization: Bearer KEY");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // What httplib answers by itself (404, 413 past max_upload_mb, 400 malformed) gets a JSON error too.
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      send_error(res, 413, "upload larger than " + std::to_string(options.max_upload_mb) + " MB");
    } else {
      send_error(res, res.status, res.status == 404 ? "no such route" : "bad request");
    }
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double seconds = std::chrono::duration<double>(Clock::now() - arrived).count();
    const std::string route = route_of(req);
    metrics.count_request(route, res.status, seconds);
    spdlog::info("request {} {} {} {} {} bytes {:.1f} ms", request_id, req.method, route, res.status, res.body.size(),
                 seconds * 1000.0);
  });

  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(detail::page_html()), "text/html; charset=utf-8");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(json{{"status", "ok"}}.dump(), kJson);
  });
  http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (ready) {
      res.set_content(json{{"status", "ready"}}.dump(), kJson);
    } else {
      send_busy(res, "the model is still loading");
    }
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::size_t depth = 0;
    {
      const std::lock_guard<std::mutex> lock(model_mutex);
      if (batcher) depth = batcher->depth();
    }
    res.set_content(metrics.text(depth, ready), "text/plain; version=0.0.4");
  });
  http.Get("/v1/model", [this](const httplib::Request&, httplib::Response& res) {
    if (!ready) return send_busy(res, "the model is still loading");
    const std::lock_guard<std::mutex> lock(model_mutex);
    res.set_content(model_description.dump(), kJson);
  });
  http.Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) { classify(req, res); });
  http.Options(R"(/v1/.*)", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
}

void Server::State::classify(const httplib::Request& req, httplib::Response& res) {
  if (!ready) return send_busy(res, "the model is still loading");
  const auto [bytes, name] = uploaded_image(req);
  if (name.empty()) {
    return send_error(res, 415, "expected an image as the body (image/*, application/octet-stream) or in a "
                                "multipart field named image");
  }
  std::string heatmap_class;
  if (req.has_param("heatmap")) {
    heatmap_class = req.get_param_value("heatmap");
    try {
      check_heatmap_class(heatmap_class, classifier->classes());
    } catch (const OptionError& e) {
      return send_error(res, 400, "heatmap: " + e.problem());
    }
  }
  cv::Mat rgb;
  try {
    rgb = decode_rgb_image(bytes, name);
  } catch (const Error& e) {
    return send_error(res, 400, e.what());
  }
  const auto abandoned = std::make_shared<std::atomic<bool>>(false);
  auto answer = batcher->submit(rgb, name, heatmap_class, abandoned);
  if (!answer) return send_busy(res, "busy: " + std::to_string(options.max_queue) + " images already waiting");
  if (answer->wait_for(std::chrono::milliseconds(options.request_timeout_ms)) != std::future_status::ready) {
    *abandoned = true;
    return send_busy(res, "timed out after " + std::to_string(options.request_timeout_ms) + " ms");
  }
  ClassifyResult result;
  try {
    result = answer->get();
  } catch (const std::exception& e) {
    spdlog::error("classifying {}: {}", name, e.what());
    return send_error(res, 500, "classification failed");
  }
  // The model files by name only: the server's folders are nobody's business.
  for (auto& model : result.models) model = model.filename();
  json body = to_json(result, /*include_logits=*/false);
  if (!result.heatmaps.empty()) {
    body["images"][0]["heatmap"]["png"] = "data:image/png;base64," + base64(encode_png(result.heatmaps[0].overlay));
  }
  res.set_content(body.dump(), kJson);
}


}  // namespace derm
