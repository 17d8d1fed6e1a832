// shared_region.h — MAP_SHARED|MAP_ANONYMOUS memory owned by the engine and
// inherited by the policy workers it forks: a policy's ticket input/output
// arrays and its runtime snapshots (policy_shm.h).
#pragma once

#include "core/mapping.h"

namespace lotto::policy {

using SharedRegion = Mapping;

} // namespace lotto::policy
