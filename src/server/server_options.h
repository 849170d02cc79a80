#pragma once
// What `ax-engine serve` is told on its command line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/kv_cache.h"
#include "engine/spec_params.h"

namespace ax::server {

struct ServerOptions {
  std::string model_path;
  std::string model_name;  // the id /v1/models reports; default: the model's file or folder name
  std::vector<std::string> model_aliases;  // more names requests may give in "model"
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;                        // empty: no authentication
  size_t max_body_bytes = 8u << 20;           // larger request bodies get 413 (chunked ones too)
  size_t max_connections = 1024;              // open connections at once; more get 503 and are closed
  double head_timeout_s = 10;                 // a request's head must arrive within this (and idle
                                              // keep-alive connections close after it)
  double body_timeout_s = 30;                 // its body within this after the head
  double write_timeout_s = 30;                // a client that takes no response bytes this long is dropped
  size_t max_stored_responses = 1000;         // Responses API: responses kept for previous_response_id
  size_t stored_responses_mb = 64;            // and the memory their JSON may take
  bool log_requests = false;                  // one access-log line per request on stderr
  bool console = true;                        // the web console at / (--no-console: off)
  int max_concurrent = 256;                   // generation requests in flight at once; more get 429
  BackendOptions backend;                     // --backend, --device, --threads, --gpu-memory-fraction
  int64_t kv_blocks = 0;                      // KV pool size in blocks (0: from kv_memory_mb)
  int64_t kv_memory_mb = -1;                  // KV pool memory budget (-1: 512 on the CPU, else the backend's)
  KvType kv_type = KvType::F16;               // KV cache element type
  int64_t max_num_seqs = 64;                  // sequences the engine runs in one batch
  double shutdown_grace_s = 10;               // in-flight requests get this long to finish on SIGTERM
  bool default_speculation = true;            // n-gram speculation when a request does not say
  int default_max_draft = SpeculationParams::kDefaultMaxDraft;  // draft tokens per step when a request does not say
};

}  // namespace ax::server
