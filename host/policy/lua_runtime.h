// lua_runtime.h — the Lua state of one policy worker: a counting allocator
// (the memory cap), the trusted prelude, and the few calls the worker makes
// into it (load + init, tick, eval). Lives only in the forked worker.
//
// Every call into Lua after the state exists goes through one protected
// entry (call()): lua_cpcall around the argument pushes, a lua_pcall with a
// traceback handler for the prelude function, and the reading of results.
// Any allocation can run a __gc metamethod of policy code, and in the
// LuaJIT Debian ships (2.1 of 2022) an error raised there is rethrown at
// that allocation; outside a protected call it would unwind through C++.
#pragma once

#include "policy/channel.h"
#include "policy/worker.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

#include <cstdint>
#include <string>
#include <vector>

namespace lotto::policy {

class LuaRuntime {
public:
	explicit LuaRuntime(const WorkerSpec &spec) : s_(spec) {}
	// The state is never closed: lua_close would run policy __gc code
	// after the worker's last reply. The process ends instead (_exit).
	LuaRuntime(const LuaRuntime &) = delete;
	LuaRuntime &operator=(const LuaRuntime &) = delete;

	// Create the state, run the prelude, compile the policy and run its
	// init. On failure r.error says why.
	bool start(ReadyMsg &r);
	TickDoneMsg tick(const TickMsg &m);
	// `lua EXPR` (admin: may write the policy's globals and ctx.state)
	EvalDoneMsg eval(const std::string &expr, bool admin, uint32_t slots_hw);

	uint64_t heap_bytes() const { return heap_.used; }
	// the state should not run again (memory cap, stack overflow)
	bool spent() const { return spent_; }
	void take_logs(std::vector<LogLine> &out, uint32_t &dropped);
	void drop_logs();

	// lua_CFunction: host_log(level, text), upvalue 1 = the runtime
	static int host_log(lua_State *L);

	struct HeapCounter {
		size_t used = 0;
		size_t cap = 0;
		bool hit = false;
	};

private:
	template <typename Push, typename Take>
	bool call(int fn_ref, Push &&push, int nresults, Take &&take, ErrorKind kind, ErrorText *e);
	void failed(int status, const std::string &text, ErrorKind kind, ErrorText *e);
	void collect_after_cap();
	uint32_t scan(uint32_t n, bool deltas, uint32_t prev_idx, bool prev_valid);
	void add_log(uint32_t level, std::string text);

	const WorkerSpec &s_;
	HeapCounter heap_;
	lua_State *L_ = nullptr;
	int handler_ref_ = LUA_NOREF;
	int load_ref_ = LUA_NOREF, init_ref_ = LUA_NOREF, tick_ref_ = LUA_NOREF, eval_ref_ = LUA_NOREF;
	std::vector<uint32_t> used_;
	std::vector<double> delta_;
	std::vector<LogLine> logs_;
	uint32_t logs_dropped_ = 0;
	bool spent_ = false;
};

} // namespace lotto::policy
