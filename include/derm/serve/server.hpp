#pragma once
// derm-serve as a library: the classification service and its web page over
// HTTP/1.1 (cpp-httplib). One model or ensemble, loaded once; requests gathered
// into batches for one inference thread; no upload or result written to disk.
//
//   GET  /              the page (HTML, CSS and JS in the binary; works offline)
//   POST /v1/classify   the image as the body (or multipart field "image") -> the
//                       JSON derm-classify --json gives for it; ?heatmap=CLASS or
//                       ?heatmap=predicted adds the Grad-CAM overlay as a PNG data URL
//   GET  /v1/model      the model's metadata
//   GET  /healthz       200 while the process serves
//   GET  /readyz        200 once the model is loaded and warmed up, else 503
//   GET  /metrics       Prometheus text format
// Errors are JSON {"error": "..."}: 400 a refused image or parameter, 401 a
// missing or wrong key, 413 too large an upload, 415 a body that is no image,
// 503 a full queue, a timeout or not ready yet (with Retry-After).
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "derm/infer/classifier.hpp"

namespace derm {

struct ServeOptions {
  ClassifierOptions classifier;
  std::string host = "127.0.0.1";  // loopback only unless asked
  int port = 8080;                 // 0: a free port (see Server::address)
  int max_batch = 8;               // images per forward pass
  int max_wait_ms = 10;            // how long a batch waits to fill after its first image
  int max_queue = 64;              // images waiting; past it, 503
  int request_timeout_ms = 30000;  // a request waiting longer gets 503
  int max_upload_mb = 20;          // a larger body gets 413
  int http_threads = 8;            // connections served at once
  std::filesystem::path api_key_file;  // when given, /v1/* needs "Authorization: Bearer <its first line>"
  std::string cors_origin;             // when given, answers carry Access-Control-Allow-Origin: it
  std::string heatmap_layer = "Mixed_7c";
};

class Server {
 public:
  // Checks the options (derm::OptionError naming one) and reads the API key;
  // the model is loaded by run(), in the background, while /readyz says 503.
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; derm::Error naming the address when it cannot (e.g. in use).
  void bind();
  // {"host", "port", "url"} of the bound address.
  nlohmann::json address() const;
  // Serves until stop(): requests in flight are answered first. Rethrows a
  // failure to load the model (after which the server stopped by itself).
  void run();
  // Stops accepting connections; run() returns once the requests in flight
  // are answered. Thread-safe; not async-signal-safe (call it from a thread).
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace derm
