// policy_shm.h — the memory one policy shares with its worker processes.
//
// The engine maps it once per policy, before forking any worker, so every
// worker of that policy (the running version, a reload candidate, a fresh
// worker after a kill) sees the same arrays at the same address:
//   input    tickets each slot has before this policy (TicketBook::fill_input),
//            written by the engine before each tick
//   output   the policy's opinion per slot (0: none), written by the worker
//   prev[2]  runtime snapshots for runtime_delta_ns. A tick reads
//            prev[cur] and writes prev[cur ^ 1]; the engine flips `cur` only
//            when the worker answered, so a killed tick leaves the last
//            complete snapshot in place and the next tick's deltas (and
//            ctx.dt) span both intervals consistently. Kept by the engine,
//            not the worker, so deltas run on across reloads and restarts.
//   groups   the policy groups this tick named (ctx.group), with their
//            funding and flags, and group_out: per slot, the group the
//            policy put the task in (1 + index into groups), kNoGroup (out
//            of every policy group: its cgroup decides), or 0 (no opinion).
//            Written by the worker, cleared by it at the start of each
//            tick; the engine reads (and checks) them after a good tick.
#pragma once

extern "C" {
#include "bpf/lotto_abi.h"
}

#include "core/runtime_mark.h"

#include <cstdint>

namespace lotto::policy {

using PrevSlot = RuntimeMark;	// pid 0: no task in this slot at that tick
static_assert(sizeof(PrevSlot) == 16);

inline constexpr uint32_t kMaxPolicyGroups = LOTTO_POLICY_GID_MAX - LOTTO_POLICY_GID_MIN + 1;	// per tick
inline constexpr uint16_t kNoGroup = 0xffff;
static_assert(kMaxPolicyGroups < kNoGroup);

struct PolicyGroupOut {
	uint32_t funding;	// 0: no opinion (the default)
	uint32_t flags;		// LOTTO_GROUP_F_*
	uint32_t len;		// of name
	char name[LOTTO_GROUP_NAME_MAX];
};

struct PolicyShm {
	uint32_t input[LOTTO_MAX_TASKS];
	uint32_t output[LOTTO_MAX_TASKS];
	PrevSlot prev[2][LOTTO_MAX_TASKS];
	uint32_t ngroups;
	PolicyGroupOut groups[kMaxPolicyGroups];
	uint16_t group_out[LOTTO_MAX_TASKS];
};

} // namespace lotto::policy
