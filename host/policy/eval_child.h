// eval_child.h — a read-only `lua` evaluation, run where it can change
// nothing shared: a child forked from the policy's worker (a copy-on-write
// snapshot of the policy's Lua state), with
//   * no shared memory: every MAP_SHARED mapping is replaced by private
//     memory (the slots in use and the policy's ticket arrays copied in), so
//     nothing it writes reaches the engine, the backend or the policy;
//   * no descriptor but the pipe its answer goes back on;
//   * the requester's uid, gid and groups (when the worker runs as root)
//     and no way to gain privileges, so --unsafe-policies' io/os/ffi give a
//     read-only user its own rights, not root's;
//   * a time limit of its own (a timer that kills it), which the worker
//     enforces as well.
// Whatever it changes (the string metatable, ctx.state, globals) dies with
// it; the policy's worker keeps ticking meanwhile.
#pragma once

#include "core/fd.h"
#include "policy/channel.h"
#include "policy/lua_runtime.h"

#include <chrono>
#include <string>
#include <sys/types.h>

namespace lotto::policy {

class EvalChild {
public:
	// fork the child; it evaluates m.expr and exits
	static Result<EvalChild> start(LuaRuntime &rt, const WorkerSpec &spec, const EvalMsg &m);
	EvalChild(EvalChild &&o) noexcept;
	EvalChild &operator=(EvalChild &&o) noexcept;
	~EvalChild();	// kills and reaps a child still running

	int fd() const { return pipe_.get(); }
	uint64_t id() const { return id_; }
	std::chrono::steady_clock::time_point deadline() const { return deadline_; }
	// Read what is there; true when the child is done (EOF).
	bool read_some();
	// Kill (if needed), reap, and make the reply.
	EvalDoneMsg finish(bool timed_out);

private:
	EvalChild() = default;
	pid_t pid_ = -1;
	Fd pipe_;
	uint64_t id_ = 0;
	uint32_t budget_ms_ = 0;
	std::chrono::steady_clock::time_point deadline_;
	std::string out_;
};

} // namespace lotto::policy
