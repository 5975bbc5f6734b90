// derm-serve: the clinic's classification service and its web page.
#include <csignal>
#include <cstdio>
#include <thread>

#include <pthread.h>

#include "derm/core/logging.hpp"
#include "derm/serve/server.hpp"
#include "derm/version.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
  derm::ServeOptions o;
  bool quiet = false;
  CLI::App app{"Serves a derm model or ensemble over HTTP: a web page for staff (choose or drop an image; the verdict,\n"
               "each class's probability, the members' votes and where the networks looked), and a JSON API for other\n"
               "systems (POST /v1/classify). Binds 127.0.0.1 unless --host says otherwise. Writes no upload or result\n"
               "to disk. The first line on stdout is the bound address as JSON. SIGINT or SIGTERM: stops accepting,\n"
               "answers the requests in flight, exits 0. Research use only; not a medical device.",
               "derm-serve"};
  app.set_version_flag("--version", std::string("derm-serve ") + DERM_VERSION);
  app.add_option("-m,--model", o.classifier.models, "Model file or ensemble folder (repeatable)")->required()
      ->allow_extra_args(false);
  app.add_option("--host", o.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  app.add_option("--port", o.port, "Port (0: a free one, see the first line on stdout)")->capture_default_str();
  app.add_option("--device", o.classifier.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--threads", o.classifier.threads, "CPU threads for the network (0 = all cores)")
      ->check(derm::cli::at_least(0));
  app.add_option("--max-batch", o.max_batch, "Images per forward pass")->capture_default_str();
  app.add_option("--max-wait-ms", o.max_wait_ms, "How long a batch waits to fill after its first image")
      ->capture_default_str();
  app.add_option("--max-queue", o.max_queue, "Images waiting for the network; past it, 503 with Retry-After")
      ->capture_default_str();
  app.add_option("--request-timeout-ms", o.request_timeout_ms, "A request waiting longer gets 503")
      ->capture_default_str();
  app.add_option("--max-upload-mb", o.max_upload_mb, "A larger upload gets 413")->capture_default_str();
  app.add_option("--http-threads", o.http_threads, "Connections served at once")->capture_default_str();
  app.add_option("--api-key-file", o.api_key_file,
                 "Require 'Authorization: Bearer KEY' on /v1/*, KEY being this file's first line");
  app.add_option("--cors-origin", o.cors_origin, "Allow browser pages of this origin to call the API (CORS)");
  app.add_option("--heatmap-layer", o.heatmap_layer, "The layer Grad-CAM reads for ?heatmap=")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "Errors only on stderr (no access log)");

  // SIGINT and SIGTERM go to one thread, which stops the server; every other
  // thread (LibTorch's, httplib's) inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const auto run = [&] {
    derm::configure_logging(quiet ? derm::Verbosity::quiet : derm::Verbosity::normal);
    derm::Server server(o);
    server.bind();
    std::printf("%s\n", server.address().dump().c_str());
    std::fflush(stdout);
    std::thread signals([&] {
      int signal = 0;
      sigwait(&stop_signals, &signal);
      if (signal == SIGINT || signal == SIGTERM) server.stop();
    });
    signals.detach();  // it ends with the process; a signal after the stop finds nothing left to stop
    server.run();
    return derm::cli::kExitOk;
  };
  return derm::cli::run_tool(app, argc, argv, run,
                             {{"models", "--model"},
                              {"max_batch", "--max-batch"},
                              {"max_wait_ms", "--max-wait-ms"},
                              {"request_timeout_ms", "--request-timeout-ms"},
                              {"max_upload_mb", "--max-upload-mb"},
                              {"heatmap_layer", "--heatmap-layer"}});
}
