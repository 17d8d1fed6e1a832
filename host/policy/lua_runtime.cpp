// lua_runtime.cpp — the Lua side of a policy worker (see lua_runtime.h).
//
// Runs in the forked worker: no spdlog (log lines travel back in the
// replies), no exception out of a lua_CFunction or across a Lua frame.
#include "policy/lua_runtime.h"

#include "core/clock.h"
#include "policy/embedded.h"

extern "C" {
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
}

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace lotto::policy {
namespace {

// ---- the memory cap: every byte of the Lua heap goes through here
void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	auto *h = static_cast<LuaRuntime::HeapCounter *>(ud);
	if (!ptr)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		h->used -= osize;
		return nullptr;
	}
	if (nsize > osize && h->used - osize + nsize > h->cap) {
		h->hit = true;
		return nullptr;	// LuaJIT raises LUA_ERRMEM; shrinking never fails
	}
	void *p = realloc(ptr, nsize);
	if (!p) {
		h->hit = true;
		return nullptr;
	}
	h->used = h->used - osize + nsize;
	return p;
}

// "file:12: msg" (a location in the first line) or a message that starts
// with the policy's path ("file: a policy file must return a table")
bool has_location(const char *m, const char *path)
{
	size_t pl = strlen(path);
	if (pl && strncmp(m, path, pl) == 0)
		return true;
	for (const char *p = m; *p && *p != '\n'; p++) {
		if (*p != ':' || !(p[1] >= '0' && p[1] <= '9'))
			continue;
		const char *q = p + 1;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q == ':')
			return true;
	}
	return false;
}

// The message handler of the one pcall (upvalue 1: the policy's path).
// Plain C API only: it runs while Lua unwinds. The GC is stopped here (and
// restarted by call()), so no policy __gc code runs inside the handler.
// Non-string error values become a description, never a __tostring call
// (which could itself fail or loop); a message without a position gets the
// position of the innermost Lua frame outside the prelude; then a traceback
// is appended.
int message_handler(lua_State *L)
{
	lua_gc(L, LUA_GCSTOP, 0);
	const char *path = lua_tostring(L, lua_upvalueindex(1));
	int t = lua_type(L, 1);
	if (t == LUA_TNUMBER) {
		lua_pushstring(L, lua_tostring(L, 1));
		lua_replace(L, 1);
	} else if (t != LUA_TSTRING) {
		lua_pushfstring(L, "error object is a %s value, not a message", luaL_typename(L, 1));
		lua_replace(L, 1);
	}
	const char *msg = lua_tostring(L, 1);
	if (!has_location(msg, path ? path : "")) {
		lua_Debug ar;
		for (int level = 1; lua_getstack(L, level, &ar); level++) {
			if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
				continue;
			if (strcmp(ar.source, "=lotto-prelude") == 0)
				continue;
			lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
			lua_replace(L, 1);
			break;
		}
	}
	luaL_traceback(L, L, lua_tostring(L, 1), 1);
	return 1;
}

// LuaJIT 2.1 before its commit f5affaa6 (2024, LuaJIT issue #1168) keeps
// the FFI's metatype table and cdata finalizer table alive only through the
// environments of ffi.metatype and ffi.gc. When nothing reaches the ffi
// module any more (the sandbox prelude drops package.loaded.ffi; an unsafe
// policy may do the same), a full GC frees both tables while every task
// proxy still uses them: reads of freed memory, "'struct 118' has no member
// named 'tickets'", then SIGSEGV. Anchoring them in the registry keeps them.
void anchor_ffi(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "ffi");
	lua_call(L, 1, 1);
	for (const char *fn : {"metatype", "gc"}) {
		lua_getfield(L, -1, fn);
		if (lua_isfunction(L, -1)) {
			lua_getfenv(L, -1);
			luaL_ref(L, LUA_REGISTRYINDEX);
		}
		lua_pop(L, 1);
	}
	luaL_ref(L, LUA_REGISTRYINDEX);	// and the module itself
}

// `f(L)` under lua_cpcall: whatever it raises comes back as a status.
// f must not throw C++ exceptions (it runs between Lua frames).
template <typename F> int protect(lua_State *L, F &f, std::string *msg)
{
	int st = lua_cpcall(
		L,
		[](lua_State *L) -> int {
			(*static_cast<F *>(lua_touserdata(L, 1)))(L);
			return 0;
		},
		&f);
	if (st && msg) {
		// the error value as it is: lua_tostring would convert a
		// number in place (an allocation outside any protection)
		size_t n = 0;
		const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : nullptr;
		try {
			*msg = m ? std::string(m, n) : std::string("error object is a ") + luaL_typename(L, -1) +
								   " value, not a message";
		} catch (...) {
		}
	}
	if (st)
		lua_settop(L, 0);
	return st;
}

} // namespace

int LuaRuntime::host_log(lua_State *L)
{
	auto *rt = static_cast<LuaRuntime *>(lua_touserdata(L, lua_upvalueindex(1)));
	int level = int(lua_tointeger(L, 1));
	size_t len = 0;
	const char *s = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : nullptr;
	if (!s)
		return 0;
	try {
		rt->add_log(uint32_t(level < 0 ? 0 : level > 4 ? 4 : level), std::string(s, len));
	} catch (...) {
		rt->logs_dropped_++;	// out of memory: drop the line, never throw into Lua
	}
	return 0;
}

void LuaRuntime::add_log(uint32_t level, std::string text)
{
	if (logs_.size() >= kMaxLogLines) {
		logs_dropped_++;
		return;
	}
	if (text.size() > kMaxLogLine)
		text.resize(kMaxLogLine);
	logs_.push_back(LogLine{level, std::move(text)});
}

void LuaRuntime::take_logs(std::vector<LogLine> &out, uint32_t &dropped)
{
	out = std::move(logs_);
	logs_.clear();
	dropped = logs_dropped_;
	logs_dropped_ = 0;
}

void LuaRuntime::drop_logs()
{
	logs_.clear();
	logs_dropped_ = 0;
}

void LuaRuntime::failed(int st, const std::string &text, ErrorKind kind, ErrorText *e)
{
	e->traceback.clear();
	e->kind = kind;
	if (st == LUA_ERRMEM) {
		e->kind = ErrorKind::Memory;
		e->message = s_.path + ": not enough memory: the policy reached its memory cap of " +
			     std::to_string(s_.memory_cap >> 20) + " MiB";
	} else if (st == LUA_ERRERR && text.find("stack overflow") != std::string::npos) {
		// LuaJIT had no stack left to run the message handler: the
		// position is lost
		e->message = s_.path + ": stack overflow (recursion too deep; no room left to locate it)";
	} else if (st == LUA_ERRERR) {
		e->message = s_.path + ": error in error handling (" + text + ")";
	} else {
		auto cut = text.find("\nstack traceback:");
		e->message = text.substr(0, cut);
		e->traceback = cut == std::string::npos ? "" : text.substr(cut + 1);
	}
	// LuaJIT keeps the Lua stack at its overflow size after a stack
	// overflow, where the next one could no longer run the message
	// handler: such a state is replaced by a fresh worker
	if (st == LUA_ERRMEM || st == LUA_ERRERR || text.find("stack overflow") != std::string::npos)
		spent_ = true;
}

// After the memory cap was hit: collect now, protected (finalizers run).
void LuaRuntime::collect_after_cap()
{
	if (!heap_.hit)
		return;
	auto gc = [](lua_State *L) { lua_gc(L, LUA_GCCOLLECT, 0); };
	std::string msg;
	if (protect(L_, gc, &msg))
		add_log(3, "a __gc metamethod failed during a collection: " + msg);
}

// THE way into Lua: `push(L)` pushes the arguments of the prelude function
// `fn_ref` and returns how many; on success `take(L)` reads the `nresults`
// results. On failure fills *e ("file:line: message" + traceback).
template <typename Push, typename Take>
bool LuaRuntime::call(int fn_ref, Push &&push, int nresults, Take &&take, ErrorKind kind, ErrorText *e)
{
	int status = 0;
	std::string text;
	auto body = [&](lua_State *L) {
		lua_settop(L, 0);
		lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref_);
		lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
		int nargs = push(L);
		status = lua_pcall(L, nargs, nresults, 1);
		lua_gc(L, LUA_GCRESTART, 0);	// the message handler stopped it
		if (status == 0) {
			take(L);
		} else {
			size_t n = 0;
			const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : "";
			try {
				text.assign(m, n);
			} catch (...) {
			}
		}
		lua_settop(L, 0);
	};
	heap_.hit = false;
	std::string outer;
	if (int st = protect(L_, body, &outer)) {
		// raised outside the policy call: while pushing its arguments
		// or reading its results (a __gc metamethod, the memory cap)
		lua_gc(L_, LUA_GCRESTART, 0);
		failed(st, outer, kind, e);
		collect_after_cap();
		return false;
	}
	if (status == 0)
		return true;
	failed(status, text, kind, e);
	collect_after_cap();
	return false;
}

bool LuaRuntime::start(ReadyMsg &r)
{
	heap_.cap = s_.memory_cap;
	L_ = lua_newstate(counting_alloc, &heap_);
	if (!L_) {
		failed(0, s_.path + ": cannot create a Lua state", ErrorKind::Internal, &r.error);
		return false;
	}
	used_.assign(LOTTO_MAX_TASKS, 0);
	delta_.assign(LOTTO_MAX_TASKS, 0.0);

	// libraries, the FFI anchors, the message handler and the compiled
	// prelude; no policy code exists yet
	int prelude_ref = LUA_NOREF;
	const char *path = s_.path.c_str();
	auto setup = [&](lua_State *L) {
		luaL_openlibs(L);
		luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_ON);
		anchor_ffi(L);
		lua_pushstring(L, path);
		lua_pushcclosure(L, message_handler, 1);
		handler_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
		if (luaL_loadbuffer(L, kPreludeLua, strlen(kPreludeLua), "=lotto-prelude"))
			lua_error(L);
		prelude_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	};
	std::string msg;
	if (protect(L_, setup, &msg)) {
		failed(0, "prelude: " + msg, ErrorKind::Internal, &r.error);
		return false;
	}

	// the trusted prelude, with its arguments; it returns its functions
	auto push_args = [&](lua_State *L) {
		lua_createtable(L, 0, 24);
		lua_pushstring(L, kTaskStatCdef);
		lua_setfield(L, -2, "cdef");
		lua_createtable(L, 0, 16);
#define OFF(f)                                                              \
	lua_pushinteger(L, lua_Integer(offsetof(struct lotto_task_stat, f))); \
	lua_setfield(L, -2, #f)
		OFF(pid); OFF(tgid); OFF(gen); OFF(nice); OFF(uid); OFF(tickets); OFF(last_cpu);
		OFF(comp_q10); OFF(cgroup_id); OFF(runtime_ns); OFF(wins); OFF(wait_ns);
		OFF(wait_max_ns); OFF(waits); OFF(rescues); OFF(comm); OFF(group); OFF(funded_by);
		OFF(funded_tickets);
#undef OFF
		lua_setfield(L, -2, "offsets");
		lua_pushinteger(L, sizeof(struct lotto_task_stat));
		lua_setfield(L, -2, "stat_size");
		auto ptr = [&](const char *k, const void *p) {
			lua_pushlightuserdata(L, const_cast<void *>(p));
			lua_setfield(L, -2, k);
		};
		ptr("stats", s_.stats);
		ptr("used", used_.data());
		ptr("input", s_.shm->input);
		ptr("output", s_.shm->output);
		ptr("groups", s_.shm->groups);
		ptr("ngroups", &s_.shm->ngroups);
		ptr("group_out", s_.shm->group_out);
		ptr("delta", delta_.data());
		lua_pushinteger(L, LOTTO_COMM_LEN);
		lua_setfield(L, -2, "comm_len");
		// the ranges of bpf/lotto_limits.h the prelude checks against
		auto limit = [&](const char *k, lua_Integer v) {
			lua_pushinteger(L, v);
			lua_setfield(L, -2, k);
		};
		limit("tickets_min", LOTTO_TICKETS_MIN);
		limit("tickets_max", LOTTO_TICKETS_MAX);
		limit("funding_min", LOTTO_FUNDING_MIN);
		limit("funding_max", LOTTO_FUNDING_MAX);
		limit("group_name_max", LOTTO_GROUP_NAME_MAX);
		limit("groups_max", kMaxPolicyGroups);
		limit("no_group", kNoGroup);
		limit("f_transfers", LOTTO_GROUP_F_TRANSFERS);
		limit("f_transfers_in", LOTTO_GROUP_F_TRANSFERS_IN);
		limit("interval_ms_min", LOTTO_INTERVAL_MS_MIN);
		limit("interval_ms_max", LOTTO_INTERVAL_MS_MAX);
		limit("budget_ms_min", LOTTO_BUDGET_MS_MIN);
		limit("budget_ms_max", LOTTO_BUDGET_MS_MAX);
		lua_pushinteger(L, s_.ncpus);
		lua_setfield(L, -2, "ncpus");
		lua_pushstring(L, s_.default_name.c_str());
		lua_setfield(L, -2, "default_name");
		lua_pushboolean(L, s_.unsafe);
		lua_setfield(L, -2, "unsafe");
		lua_pushlightuserdata(L, this);
		lua_pushcclosure(L, host_log, 1);
		lua_setfield(L, -2, "log");
		return 1;
	};
	auto take_fns = [&](lua_State *L) {
		const char *fns[] = {"load_policy", "run_init", "run_tick", "eval"};
		int *refs[] = {&load_ref_, &init_ref_, &tick_ref_, &eval_ref_};
		for (size_t i = 0; i < 4; i++) {
			lua_getfield(L, -1, fns[i]);
			*refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
		}
	};
	if (!call(prelude_ref, push_args, 1, take_fns, ErrorKind::Internal, &r.error))
		return false;

	// compile the policy: syntax errors already read "path:line: ..."
	int chunk_ref = LUA_NOREF, st = 0;
	std::string cerr;
	std::string chunk = "@" + s_.path;
	auto compile = [&](lua_State *L) {
		st = luaL_loadbuffer(L, s_.source.data(), s_.source.size(), chunk.c_str());
		if (st) {
			const char *m = lua_tostring(L, -1);
			try {
				cerr = m ? m : "compile error";
			} catch (...) {
			}
			return;
		}
		chunk_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	};
	std::string msg2;
	int pst = protect(L_, compile, &msg2);
	if (pst || st) {
		int s = pst ? pst : st;
		if (s == LUA_ERRMEM)
			failed(0, s_.path + ": not enough memory to compile the policy", ErrorKind::Memory, &r.error);
		else
			failed(0, pst ? msg2 : cerr, ErrorKind::Compile, &r.error);
		return false;
	}
	auto push_chunk = [&](lua_State *L) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, chunk_ref);
		lua_pushstring(L, s_.path.c_str());
		return 2;
	};
	auto take_table = [&](lua_State *L) {
		// the prelude checked the types: name and description are strings
		size_t n = 0, dn = 0;
		const char *name = lua_tolstring(L, -4, &n);
		const char *d = lua_tolstring(L, -1, &dn);
		r.interval_ms = uint32_t(lua_tonumber(L, -3));
		r.budget_ms = lua_tonumber(L, -2);
		try {
			r.name.assign(name ? name : "", name ? n : 0);
			r.description.assign(d ? d : "", d ? dn : 0);
		} catch (...) {
		}
	};
	if (!call(load_ref_, push_chunk, 4, take_table, ErrorKind::Policy, &r.error))
		return false;

	auto push_clock = [&](lua_State *L) {
		lua_pushnumber(L, clock_s(CLOCK_MONOTONIC));
		lua_pushnumber(L, clock_s(CLOCK_REALTIME));
		return 2;
	};
	return call(init_ref_, push_clock, 0, [](lua_State *) {}, ErrorKind::Init, &r.error);
}

// The slots in use now, in slot order, into used_; with `deltas`, also
// runtime since the snapshot prev[prev_idx] into delta_, the new snapshot
// into prev[prev_idx ^ 1], and this policy's output cleared.
uint32_t LuaRuntime::scan(uint32_t n, bool deltas, uint32_t prev_idx, bool prev_valid)
{
	const lotto_task_stat *st = s_.stats;
	uint32_t k = 0;
	if (!deltas) {
		for (uint32_t s = 0; s < n; s++)
			if (__atomic_load_n(&st[s].pid, __ATOMIC_RELAXED))
				used_[k++] = s;
		return k;
	}
	const PrevSlot *prev = s_.shm->prev[prev_idx & 1];
	PrevSlot *next = s_.shm->prev[(prev_idx & 1) ^ 1];
	uint32_t *out = s_.shm->output;
	uint16_t *gout = s_.shm->group_out;
	s_.shm->ngroups = 0;
	for (uint32_t s = 0; s < n; s++) {
		out[s] = 0;
		gout[s] = 0;
		uint32_t pid = __atomic_load_n(&st[s].pid, __ATOMIC_RELAXED);
		if (!pid) {
			next[s].pid = 0;
			continue;
		}
		uint32_t gen = st[s].gen;
		uint64_t rt = __atomic_load_n(&st[s].runtime_ns, __ATOMIC_RELAXED);
		delta_[s] = prev_valid ? double(prev[s].since(pid, gen, rt)) : 0.0;
		next[s] = PrevSlot{rt, gen, pid};
		used_[k++] = s;
	}
	return k;
}

TickDoneMsg LuaRuntime::tick(const TickMsg &m)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	TickDoneMsg r;
	uint32_t n = m.slots_hw > LOTTO_MAX_TASKS ? LOTTO_MAX_TASKS : m.slots_hw;
	uint32_t k = scan(n, true, m.prev_idx, m.prev_valid);
	auto push = [&](lua_State *L) {
		lua_pushinteger(L, k);
		lua_pushnumber(L, m.now);
		lua_pushnumber(L, m.wall);
		lua_pushnumber(L, m.prev_valid ? m.now - m.prev_now : 0.0);
		lua_pushnumber(L, double(m.tick_no));
		lua_pushinteger(L, m.ncpus);
		return 6;
	};
	r.ok = call(tick_ref_, push, 0, [](lua_State *) {}, ErrorKind::Tick, &r.error);
	r.tasks = k;
	if (r.ok) {
		const uint32_t *out = s_.shm->output;
		for (uint32_t j = 0; j < k; j++)
			r.assigned += out[used_[j]] != 0;
	}
	r.lua_bytes = heap_.used;
	r.restart = spent_;
	take_logs(r.logs, r.logs_dropped);
	r.worker_ns = clock_ns(CLOCK_MONOTONIC) - t0;
	return r;
}

EvalDoneMsg LuaRuntime::eval(const std::string &expr, bool admin, uint32_t slots_hw)
{
	EvalDoneMsg r;
	uint32_t n = slots_hw > LOTTO_MAX_TASKS ? LOTTO_MAX_TASKS : slots_hw;
	uint32_t k = scan(n, false, 0, false);
	auto push = [&](lua_State *L) {
		lua_pushlstring(L, expr.data(), expr.size());
		lua_pushboolean(L, admin);
		lua_pushinteger(L, k);
		return 3;
	};
	std::string text;
	auto take = [&](lua_State *L) {
		size_t len = 0;
		const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : "";
		try {
			text.assign(s, std::min(len, kMaxMessage / 2));
		} catch (...) {
		}
	};
	ErrorText e;
	r.ok = call(eval_ref_, push, 1, take, ErrorKind::Eval, &e);
	r.text = r.ok ? std::move(text) : std::move(e.message);
	if (r.text.size() > kMaxMessage / 2)
		r.text.resize(kMaxMessage / 2);
	take_logs(r.logs, r.logs_dropped);
	return r;
}

} // namespace lotto::policy
