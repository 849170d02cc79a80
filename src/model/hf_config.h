#pragma once
// Hugging Face config.json (+ generation_config.json) -> ModelConfig, for every model_type of the
// architecture registry (model/architecture.h): the common fields here, the rest by the
// architecture. Reads both transformers 4 style (rope_theta / rope_scaling at top level) and
// transformers 5 style ("rope_parameters"). Anything the engine would silently get wrong (unknown
// model_type, rope type, activation, unsupported biases) is an ax::Error naming the file and field.
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "model/config.h"

namespace ax {

// `generation` may be null. `where` names the config file in error messages. A multimodal
// checkpoint's config (the text model's fields under text_config) gives the text model's config.
ModelConfig parse_hf_config(const nlohmann::json& config, const nlohmann::json* generation,
                            const std::string& where);

// Reads dir/config.json and, when present, dir/generation_config.json.
ModelConfig load_hf_config(const std::string& dir);

}  // namespace ax
