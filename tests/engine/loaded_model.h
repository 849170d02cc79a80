#pragma once
// A real model (and its tokenizer, unless told not to: the fixtures have none) opened for an engine test, on one compute thread: these models
// are tiny, and on a shared machine threads cost more than they save.
#include <memory>
#include <string>

#include "backend/backend.h"
#include "model/model.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"

namespace ax::test {

struct LoadedModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ModelSource> source;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};

inline LoadedModel load_test_model(const std::string& path, bool with_tokenizer = true) {
  LoadedModel l;
  l.backend = make_backend({.kind = "cpu", .threads = 1});
  l.source = open_model(path);
  l.model = load_model(*l.source, *l.backend);
  if (with_tokenizer) l.tok = load_tokenizer(*l.source);
  return l;
}

}  // namespace ax::test
