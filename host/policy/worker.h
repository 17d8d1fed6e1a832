// worker.h — the child side of a policy: one forked process per policy
// version, running LuaJIT with the JIT on.
//
// Why a process: in Debian's LuaJIT, debug hooks do not fire inside
// compiled traces, so a count hook cannot stop a JIT-compiled
// `while true do end`. A process can always be stopped (SIGKILL), gets its
// own memory cap (a counting lua_Alloc, RLIMIT_AS behind it) and cannot
// reach the host's sockets or BPF map fds (closed at start). It is forked
// after the backend started, so the slot table (a MAP_SHARED mapping: the
// mmapped BPF array map, or the sim's shared memory) is live at the same
// address with no copy, and so is the policy's PolicyShm.
#pragma once

#include "policy/policy_shm.h"

extern "C" {
#include "bpf/lotto_abi.h"
}

#include <cstddef>
#include <cstdint>
#include <sys/types.h>
#include <string>
#include <utility>
#include <vector>

namespace lotto::policy {

struct WorkerSpec {
	std::string path;		// chunk name (errors read "path:line: ...")
	std::string source;		// the file as the engine read it
	std::string default_name;	// used when the policy table has no name
	const lotto_task_stat *stats = nullptr;	// Backend::tasks()
	PolicyShm *shm = nullptr;
	uint32_t ncpus = 1;
	size_t memory_cap = 64u << 20;	// bytes of Lua heap
	bool unsafe = false;		// --unsafe-policies
	// mappings the child drops (other policies' memory) or may only read
	// (the backend's tables)
	std::vector<std::pair<void *, size_t>> unmap;
	std::vector<std::pair<void *, size_t>> readonly;
};

// Runs in the forked child: sets the process up, compiles the policy, runs
// init, answers requests on `channel` until it closes. `parent` is the
// engine's pid taken before fork(). Never returns.
[[noreturn]] void worker_main(const WorkerSpec &spec, int channel, pid_t parent);

} // namespace lotto::policy
