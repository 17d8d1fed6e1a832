// worker.cpp — the child side of a policy (see worker.h for why a process).
//
// Everything here runs after fork() in a process that owns nothing but its
// channel: no spdlog (log lines travel back in the replies), no exceptions
// out of lua_CFunctions, _exit() at the end so no destructor or atexit
// handler of the parent runs twice.
#include "policy/worker.h"

#include "core/clock.h"
#include "policy/channel.h"
#include "policy/embedded.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>
}

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <memory>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lotto::policy {
namespace {

// ---- the memory cap: every byte of the Lua heap goes through here
struct HeapCounter {
	size_t used = 0;
	size_t cap = 0;
	bool hit = false;
};

void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	auto *h = static_cast<HeapCounter *>(ud);
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

struct LuaClose {
	void operator()(lua_State *L) const { lua_close(L); }
};

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

// The message handler of the one pcall wrapper (upvalue 1: the policy's
// path). Plain C API only: it runs while Lua unwinds. Non-string error
// values become a description, never a __tostring call (which could itself
// fail or loop); a message without a position gets the position of the
// innermost Lua frame outside the prelude; then a traceback is appended.
int message_handler(lua_State *L)
{
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

class Worker {
public:
	Worker(const WorkerSpec &s, int fd) : s_(s), fd_(fd) {}

	int run()
	{
		ReadyMsg ready;
		bool ok = start(ready);
		ready.ok = ok;
		ready.lua_bytes = heap_.used;
		take_logs(ready.logs, ready.logs_dropped);
		if (!send_msg(fd_, encode(ready)))
			return 3;
		if (!ok)
			return 0;
		for (;;) {
			auto m = recv_msg(fd_, false);
			if (!m || m->empty())
				return 0;	// the engine closed the channel
			auto type = msg_type(*m);
			std::string reply;
			if (type == MsgType::Tick) {
				auto req = decode_tick(*m);
				if (!req)
					return 4;
				reply = encode(tick(*req));
			} else if (type == MsgType::Eval) {
				auto req = decode_eval(*m);
				if (!req)
					return 4;
				reply = encode(eval(*req));
			} else {
				return 4;
			}
			if (!send_msg(fd_, reply))
				return 3;
		}
	}

	// lua_CFunction: host_log(level, text), upvalue 1 = this
	static int host_log(lua_State *L)
	{
		auto *w = static_cast<Worker *>(lua_touserdata(L, lua_upvalueindex(1)));
		int level = int(lua_tointeger(L, 1));
		size_t len = 0;
		const char *s = lua_tolstring(L, 2, &len);
		if (!s)
			return 0;
		try {
			w->add_log(uint32_t(level < 0 ? 0 : level > 4 ? 4 : level), std::string(s, len));
		} catch (...) {
			w->logs_dropped_++;	// out of memory: drop the line, never throw into Lua
		}
		return 0;
	}

private:
	void add_log(uint32_t level, std::string text)
	{
		if (logs_.size() >= kMaxLogLines) {
			logs_dropped_++;
			return;
		}
		if (text.size() > kMaxLogLine)
			text.resize(kMaxLogLine);
		logs_.push_back(LogLine{level, std::move(text)});
	}

	void take_logs(std::vector<LogLine> &out, uint32_t &dropped)
	{
		out = std::move(logs_);
		logs_.clear();
		dropped = logs_dropped_;
		logs_dropped_ = 0;
	}

	void fail(ErrorText *e, ErrorKind k, std::string msg)
	{
		e->kind = k;
		e->message = std::move(msg);
		e->traceback.clear();
	}

	// THE way into Lua: the function and its nargs arguments are on the
	// stack. On failure fills *e ("file:line: message" + traceback).
	bool call(int nargs, int nresults, ErrorKind kind, ErrorText *e)
	{
		lua_State *L = L_.get();
		int base = lua_gettop(L) - nargs;
		lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref_);
		lua_insert(L, base);
		heap_.hit = false;
		int st = lua_pcall(L, nargs, nresults, base);
		lua_remove(L, base);
		if (st == 0)
			return true;
		std::string text;
		if (const char *m = lua_tostring(L, -1))
			text = m;
		lua_pop(L, 1);
		if (st == LUA_ERRMEM) {
			fail(e, ErrorKind::Memory,
			     s_.path + ": not enough memory: the policy reached its memory cap of " +
				     std::to_string(s_.memory_cap >> 20) + " MiB");
		} else if (st == LUA_ERRERR && text.find("stack overflow") != std::string::npos) {
			// LuaJIT had no stack left to run the message handler: the
			// position is lost
			fail(e, kind, s_.path + ": stack overflow (recursion too deep; no room left to locate it)");
		} else if (st == LUA_ERRERR) {
			fail(e, kind, s_.path + ": error in error handling (" + text + ")");
		} else {
			e->kind = kind;
			auto cut = text.find("\nstack traceback:");
			e->message = text.substr(0, cut);
			e->traceback = cut == std::string::npos ? "" : text.substr(cut + 1);
		}
		if (heap_.hit)
			lua_gc(L, LUA_GCCOLLECT, 0);
		// LuaJIT keeps the Lua stack at its overflow size after a stack
		// overflow, where the next one could no longer run the message
		// handler: such a state is replaced by a fresh worker
		if (st == LUA_ERRMEM || st == LUA_ERRERR || text.find("stack overflow") != std::string::npos)
			spent_ = true;
		return false;
	}

	void push_prelude_fn(int ref) { lua_rawgeti(L_.get(), LUA_REGISTRYINDEX, ref); }

	bool start(ReadyMsg &r)
	{
		heap_.cap = s_.memory_cap;
		L_.reset(lua_newstate(counting_alloc, &heap_));
		if (!L_) {
			fail(&r.error, ErrorKind::Internal, s_.path + ": cannot create a Lua state");
			return false;
		}
		lua_State *L = L_.get();
		luaL_openlibs(L);
		luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_ON);

		lua_pushstring(L, s_.path.c_str());
		lua_pushcclosure(L, message_handler, 1);
		handler_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);

		used_.assign(LOTTO_MAX_TASKS, 0);
		delta_.assign(LOTTO_MAX_TASKS, 0.0);

		// the trusted prelude, with its arguments
		if (luaL_loadbuffer(L, kPreludeLua, strlen(kPreludeLua), "=lotto-prelude")) {
			fail(&r.error, ErrorKind::Internal, std::string("prelude: ") + lua_tostring(L, -1));
			return false;
		}
		push_prelude_args();
		if (!call(1, 1, ErrorKind::Internal, &r.error))
			return false;
		const char *fns[] = {"load_policy", "run_init", "run_tick", "eval"};
		int *refs[] = {&load_ref_, &init_ref_, &tick_ref_, &eval_ref_};
		for (size_t i = 0; i < 4; i++) {
			lua_getfield(L, -1, fns[i]);
			*refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
		}
		lua_pop(L, 1);

		// compile the policy: syntax errors already read "path:line: ..."
		std::string chunk = "@" + s_.path;
		int st = luaL_loadbuffer(L, s_.source.data(), s_.source.size(), chunk.c_str());
		if (st) {
			const char *m = lua_tostring(L, -1);
			if (st == LUA_ERRMEM)
				fail(&r.error, ErrorKind::Memory, s_.path + ": not enough memory to compile the policy");
			else
				fail(&r.error, ErrorKind::Compile, m ? m : "compile error");
			lua_pop(L, 1);
			return false;
		}
		int fn = lua_gettop(L);
		push_prelude_fn(load_ref_);
		lua_pushvalue(L, fn);
		lua_pushstring(L, s_.path.c_str());
		if (!call(2, 4, ErrorKind::Policy, &r.error))
			return false;
		r.name = lua_tostring(L, -4);
		r.interval_ms = uint32_t(lua_tonumber(L, -3));
		r.budget_ms = lua_tonumber(L, -2);
		r.description = lua_tostring(L, -1);
		lua_settop(L, 0);

		push_prelude_fn(init_ref_);
		lua_pushnumber(L, clock_s(CLOCK_MONOTONIC));
		lua_pushnumber(L, clock_s(CLOCK_REALTIME));
		if (!call(2, 0, ErrorKind::Init, &r.error))
			return false;
		return true;
	}

	void push_prelude_args()
	{
		lua_State *L = L_.get();
		lua_createtable(L, 0, 16);
		lua_pushstring(L, kTaskStatCdef);
		lua_setfield(L, -2, "cdef");
		lua_createtable(L, 0, 16);
#define OFF(f)                                                              \
	lua_pushinteger(L, lua_Integer(offsetof(struct lotto_task_stat, f))); \
	lua_setfield(L, -2, #f)
		OFF(pid); OFF(tgid); OFF(gen); OFF(nice); OFF(uid); OFF(tickets); OFF(last_cpu);
		OFF(comp_q10); OFF(cgroup_id); OFF(runtime_ns); OFF(wins); OFF(wait_ns);
		OFF(wait_max_ns); OFF(waits); OFF(rescues); OFF(comm);
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
		ptr("delta", delta_.data());
		lua_pushinteger(L, LOTTO_COMM_LEN);
		lua_setfield(L, -2, "comm_len");
		lua_pushinteger(L, LOTTO_TICKETS_MIN);
		lua_setfield(L, -2, "tickets_min");
		lua_pushinteger(L, LOTTO_TICKETS_MAX);
		lua_setfield(L, -2, "tickets_max");
		lua_pushinteger(L, s_.ncpus);
		lua_setfield(L, -2, "ncpus");
		lua_pushstring(L, s_.default_name.c_str());
		lua_setfield(L, -2, "default_name");
		lua_pushboolean(L, s_.unsafe);
		lua_setfield(L, -2, "unsafe");
		lua_pushlightuserdata(L, this);
		lua_pushcclosure(L, host_log, 1);
		lua_setfield(L, -2, "log");
	}

	// The slots in use now, in slot order, into used_; with `deltas`, also
	// runtime since the snapshot prev[prev_idx] into delta_, the new
	// snapshot into prev[prev_idx ^ 1], and this policy's output cleared.
	uint32_t scan(uint32_t n, bool deltas, uint32_t prev_idx, bool prev_valid)
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
		for (uint32_t s = 0; s < n; s++) {
			out[s] = 0;
			uint32_t pid = __atomic_load_n(&st[s].pid, __ATOMIC_RELAXED);
			if (!pid) {
				next[s].pid = 0;
				continue;
			}
			uint32_t gen = st[s].gen;
			uint64_t rt = __atomic_load_n(&st[s].runtime_ns, __ATOMIC_RELAXED);
			double d = 0;
			if (prev_valid) {
				const PrevSlot &p = prev[s];
				if (p.pid == pid && p.gen == gen)
					d = rt >= p.runtime_ns ? double(rt - p.runtime_ns) : 0.0;
				else
					d = double(rt);	// a task that arrived since the last tick
			}
			delta_[s] = d;
			next[s] = PrevSlot{rt, gen, pid};
			used_[k++] = s;
		}
		return k;
	}

	TickDoneMsg tick(const TickMsg &m)
	{
		uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
		TickDoneMsg r;
		uint32_t n = m.slots_hw > LOTTO_MAX_TASKS ? LOTTO_MAX_TASKS : m.slots_hw;
		uint32_t k = scan(n, true, m.prev_idx, m.prev_valid);
		lua_State *L = L_.get();
		push_prelude_fn(tick_ref_);
		lua_pushinteger(L, k);
		lua_pushnumber(L, m.now);
		lua_pushnumber(L, m.wall);
		lua_pushnumber(L, m.prev_valid ? m.now - m.prev_now : 0.0);
		lua_pushnumber(L, double(m.tick_no));
		lua_pushinteger(L, m.ncpus);
		r.ok = call(6, 0, ErrorKind::Tick, &r.error);
		lua_settop(L, 0);
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

	EvalDoneMsg eval(const EvalMsg &m)
	{
		EvalDoneMsg r;
		uint32_t n = m.slots_hw > LOTTO_MAX_TASKS ? LOTTO_MAX_TASKS : m.slots_hw;
		uint32_t k = scan(n, false, 0, false);
		lua_State *L = L_.get();
		push_prelude_fn(eval_ref_);
		lua_pushlstring(L, m.expr.data(), m.expr.size());
		lua_pushboolean(L, m.admin);
		lua_pushinteger(L, k);
		ErrorText e;
		r.ok = call(3, 1, ErrorKind::Eval, &e);
		if (r.ok) {
			size_t len = 0;
			const char *s = lua_tolstring(L, -1, &len);
			r.text.assign(s ? s : "", len);
		} else {
			r.text = e.message;
		}
		lua_settop(L, 0);
		if (r.text.size() > kMaxMessage / 2)
			r.text.resize(kMaxMessage / 2);
		take_logs(r.logs, r.logs_dropped);
		return r;
	}

	const WorkerSpec &s_;
	int fd_;
	HeapCounter heap_;
	std::unique_ptr<lua_State, LuaClose> L_;
	int handler_ref_ = LUA_NOREF;
	int load_ref_ = LUA_NOREF, init_ref_ = LUA_NOREF, tick_ref_ = LUA_NOREF, eval_ref_ = LUA_NOREF;
	std::vector<uint32_t> used_;
	std::vector<double> delta_;
	std::vector<LogLine> logs_;
	uint32_t logs_dropped_ = 0;
	bool spent_ = false;	// this Lua state should not run again
};

size_t vm_size_bytes()
{
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	unsigned long pages = 0;
	if (fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	fclose(f);
	return size_t(pages) * size_t(sysconf(_SC_PAGESIZE));
}

// end of the mapping that holds address a (0: none), from /proc/self/maps:
// the backend's tables are made read-only in the worker, but never beyond
// their own mapping
uintptr_t mapping_end(uintptr_t a)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return 0;
	unsigned long lo, hi, found = 0;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
			found = hi;
			break;
		}
	}
	fclose(f);
	return uintptr_t(found);
}

void setup_process(const WorkerSpec &s, int fd, pid_t parent)
{
	// die with the engine
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	prctl(PR_SET_NAME, "lotto-policy");

	// default dispositions (the parent may have crash handlers, a signalfd
	// mask); Ctrl-C in the terminal is for the host, which stops us itself
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, nullptr);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		signal(sig, SIG_DFL);
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	// nothing inherited but stdio and the channel: not the control socket,
	// not the BPF map fds, not the other policies' channels
	if (fd > 3)
		syscall(SYS_close_range, 3u, unsigned(fd - 1), 0u);
	syscall(SYS_close_range, unsigned(fd + 1), ~0u, 0u);

	for (auto &[p, len] : s.unmap)
		munmap(p, len);
	long page = sysconf(_SC_PAGESIZE);
	for (auto &[p, len] : s.readonly) {
		auto a = reinterpret_cast<uintptr_t>(p);
		uintptr_t end = mapping_end(a);
		if (a % uintptr_t(page) == 0 && end > a)
			mprotect(p, std::min<uintptr_t>(len, end - a), PROT_READ);
	}

	rlimit core{0, 0};
	setrlimit(RLIMIT_CORE, &core);
	// the backstop behind the counting allocator: address space now, plus
	// the Lua heap cap, plus room for JIT code and C allocations
	size_t vm = vm_size_bytes();
	if (vm) {
		rlim_t lim = rlim_t(vm + 2 * s.memory_cap + (256u << 20));
		rlimit as{lim, lim};
		setrlimit(RLIMIT_AS, &as);
	}
}

} // namespace

void worker_main(const WorkerSpec &spec, int channel, pid_t parent)
{
	setup_process(spec, channel, parent);
	int rc;
	{
		Worker w(spec, channel);
		rc = w.run();
	}
	_exit(rc);
}

} // namespace lotto::policy
