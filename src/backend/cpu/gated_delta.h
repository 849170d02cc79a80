#pragma once
// The CPU's gated-delta linear attention (Backend::gated_delta, GatedDeltaParams in backend.h) and
// its sigmoid gate. Plain float32 scalar code: the reference backend runs it on the calling thread,
// the fast backend spreads independent work (sequences x conv channels, tokens x key heads,
// sequences x value heads) over the thread pool. Every value is computed the same way whatever the
// split, and a sequence's tokens always go through the recurrence one at a time in position order,
// so the result does not depend on how the tokens were batched or chunked into steps.
#include "backend/backend.h"
#include "backend/kv_cache.h"

namespace ax::cpu {

// threaded: use the default thread pool (false: the calling thread only).
void gated_delta(const StepInput& step, KvCache& kv, const GatedDeltaParams& p, Tensor qkv, const Tensor& a,
                 const Tensor& b, Tensor out, bool threaded);
// x *= sigmoid(gate), gate [rows, x.cols] or [rows, 1].
void sigmoid_mul(Tensor x, const Tensor& gate);

}  // namespace ax::cpu
