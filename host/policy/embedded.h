// embedded.h — Lua and C text compiled into the policy engine
// (generated into the build tree by host/policy/CMakeLists.txt).
#pragma once

namespace lotto::policy {

// host/policy/prelude.lua
extern const char kPreludeLua[];
// `struct lotto_task_stat` cut out of bpf/lotto_abi.h for ffi.cdef (the
// prelude checks every offset against the C++ compiler's at start-up)
extern const char kTaskStatCdef[];

} // namespace lotto::policy
