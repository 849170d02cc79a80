#include "model/model.h"

#include "model/architecture.h"

namespace ax {

std::unique_ptr<Model> load_model(const ModelSource& source, Backend& backend) {
  return architecture_of(source.config()).make(source, backend);
}

}  // namespace ax
