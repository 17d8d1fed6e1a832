// worker.cpp — the child side of a policy (see worker.h for why a process).
//
// Everything here runs after fork() in a process that owns nothing but its
// channel: no spdlog (log lines travel back in the replies), no exceptions
// out of lua_CFunctions, _exit() at the end so no destructor or atexit
// handler of the parent runs twice.
#include "policy/worker.h"

#include "policy/channel.h"
#include "policy/eval_child.h"
#include "policy/lua_runtime.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <memory>
#include <optional>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lotto::policy {
namespace {

// The request loop. Ticks and admin evaluations run here, one at a time; a
// read-only evaluation runs in an EvalChild while ticks go on, and its reply
// is sent when the child is done (or stopped at its deadline).
class Worker {
public:
	Worker(const WorkerSpec &s, int fd) : s_(s), fd_(fd), rt_(s) {}

	int run()
	{
		ReadyMsg ready;
		bool ok = rt_.start(ready);
		ready.ok = ok;
		ready.lua_bytes = rt_.heap_bytes();
		rt_.take_logs(ready.logs, ready.logs_dropped);
		if (!send_msg(fd_, encode(ready)))
			return 3;
		if (!ok)
			return 0;
		for (;;) {
			pollfd p[2] = {{fd_, POLLIN, 0}, {child_ ? child_->fd() : -1, POLLIN, 0}};
			int timeout = -1;
			if (child_) {
				auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
					child_->deadline() - std::chrono::steady_clock::now());
				timeout = int(std::max<long>(0, left.count() + 1));
			}
			int n = poll(p, 2, timeout);
			if (n < 0 && errno != EINTR)
				return 5;
			if (child_ && ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) ? child_->read_some()
										     : std::chrono::steady_clock::now() >= child_->deadline())) {
				bool late = std::chrono::steady_clock::now() >= child_->deadline();
				EvalDoneMsg r = child_->finish(late);
				child_.reset();
				if (!send_msg(fd_, encode(r)))
					return 3;
			}
			if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			auto m = recv_msg(fd_, false);
			if (!m || m->empty())
				return 0;	// the engine closed the channel
			auto type = msg_type(*m);
			std::string reply;
			if (type == MsgType::Tick) {
				auto req = decode_tick(*m);
				if (!req)
					return 4;
				reply = encode(rt_.tick(*req));
			} else if (type == MsgType::Eval) {
				auto req = decode_eval(*m);
				if (!req)
					return 4;
				if (req->admin) {
					EvalDoneMsg r = rt_.eval(req->expr, true, req->slots_hw);
					r.id = req->id;
					reply = encode(r);
				} else if (!start_child(*req, reply)) {
					continue;	// answered when the child is done
				}
			} else {
				return 4;
			}
			if (!send_msg(fd_, reply))
				return 3;
		}
	}

private:
	// false: the child runs; true: `reply` is an immediate refusal
	bool start_child(const EvalMsg &m, std::string &reply)
	{
		EvalDoneMsg r;
		r.id = m.id;
		if (child_) {
			r.text = "`lua`: another read-only evaluation is running in this policy; try again";
			reply = encode(r);
			return true;
		}
		auto c = EvalChild::start(rt_, s_, m);
		if (!c) {
			r.text = "`lua`: cannot start the evaluation: " + c.error().msg;
			reply = encode(r);
			return true;
		}
		child_.emplace(std::move(*c));
		return false;
	}

	const WorkerSpec &s_;
	int fd_;
	LuaRuntime rt_;
	std::optional<EvalChild> child_;
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
#ifdef LOTTO_SANITIZE
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE)
			continue;	// the sanitizer's handlers report faults
#endif
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
	// never destroyed: the process ends here, and closing the Lua state
	// would run the policy's __gc code after its last reply
	auto *w = new Worker(spec, channel);
	_exit(w->run());
}

} // namespace lotto::policy
