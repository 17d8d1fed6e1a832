#include "policy/eval_child.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace lotto::policy {
namespace {

constexpr int kResultFd = 3;	// the pipe, in the child

[[noreturn]] void child_fail(const char *what)
{
	EvalDoneMsg r;
	r.ok = false;
	r.text = std::string("`lua`: the read-only evaluation could not be set up: ") + what + ": " + strerror(errno);
	std::string buf = encode(r);
	(void)!write(kResultFd, buf.data(), buf.size());
	_exit(1);
}

// Every MAP_SHARED mapping becomes private anonymous memory; the slot table
// entries in use and the policy's ticket arrays are copied into it first.
void privatize(const WorkerSpec &s, uint32_t n)
{
	std::vector<char> stats(size_t(n) * sizeof(lotto_task_stat));
	memcpy(stats.data(), s.stats, stats.size());
	std::vector<uint32_t> in(s.shm->input, s.shm->input + n), out(s.shm->output, s.shm->output + n);

	std::vector<std::pair<uintptr_t, uintptr_t>> shared;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		child_fail("/proc/self/maps");
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8] = {};
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[3] == 's')
			shared.emplace_back(lo, hi);
		if (!strchr(line, '\n'))	// a long path: skip the rest of the line
			for (int c = fgetc(f); c != EOF && c != '\n'; c = fgetc(f)) {
			}
	}
	fclose(f);
	for (auto [lo, hi] : shared) {
		void *p = mmap(reinterpret_cast<void *>(lo), hi - lo, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			child_fail("replacing shared memory");
	}
	memcpy(const_cast<lotto_task_stat *>(s.stats), stats.data(), stats.size());
	std::copy(in.begin(), in.end(), s.shm->input);
	std::copy(out.begin(), out.end(), s.shm->output);
}

void drop_privileges(const EvalMsg &m)
{
	if (geteuid() == 0 && m.uid != 0) {
		std::vector<gid_t> groups(m.groups.begin(), m.groups.end());
		if (setgroups(groups.size(), groups.data()) != 0)
			child_fail("setgroups");
		if (setresgid(m.gid, m.gid, m.gid) != 0)
			child_fail("setresgid");
		if (setresuid(m.uid, m.uid, m.uid) != 0)
			child_fail("setresuid");
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);	// the requester may not ptrace our memory
}

void set_limits(uint32_t budget_ms)
{
	// SIGALRM's default action ends the process, JIT-compiled loop or not
	itimerval t{};
	t.it_value.tv_sec = budget_ms / 1000;
	t.it_value.tv_usec = (budget_ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &t, nullptr);
	rlim_t cpu = budget_ms / 1000 + 2;
	rlimit r{cpu, cpu};
	setrlimit(RLIMIT_CPU, &r);
}

void only_the_pipe(int wr)
{
	if (dup2(wr, kResultFd) < 0)
		_exit(1);
	syscall(SYS_close_range, unsigned(kResultFd + 1), ~0u, 0u);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
#ifndef LOTTO_SANITIZE	// keep sanitizer reports visible
		dup2(null, 2);
#endif
		if (null > kResultFd)
			close(null);
	}
}

} // namespace

Result<EvalChild> EvalChild::start(LuaRuntime &rt, const WorkerSpec &spec, const EvalMsg &m)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return err(std::string("pipe: ") + strerror(errno));
	Fd rd(p[0]), wr(p[1]);
	pid_t worker = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return err(std::string("fork: ") + strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != worker)
			_exit(1);
		only_the_pipe(wr.release());
		rd.release();	// closed by close_range
		uint32_t n = std::min<uint32_t>(m.slots_hw, LOTTO_MAX_TASKS);
		privatize(spec, n);
		drop_privileges(m);
		set_limits(m.budget_ms);
		EvalDoneMsg r = rt.eval(m.expr, false, n);
		r.id = m.id;
		r.logs.clear();	// a read-only user does not write into the host's log
		r.logs_dropped = 0;
		std::string buf = encode(r);
		for (size_t off = 0; off < buf.size();) {
			ssize_t w = write(kResultFd, buf.data() + off, buf.size() - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(1);
			off += size_t(w);
		}
		_exit(0);	// never closes the Lua state: no policy code after this
	}
	EvalChild c;
	c.pid_ = pid;
	c.pipe_ = std::move(rd);
	c.id_ = m.id;
	c.budget_ms_ = m.budget_ms;
	c.deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(m.budget_ms);
	fcntl(c.pipe_.get(), F_SETFL, O_NONBLOCK);
	return c;
}

EvalChild::EvalChild(EvalChild &&o) noexcept
	: pid_(std::exchange(o.pid_, -1)), pipe_(std::move(o.pipe_)), id_(o.id_), budget_ms_(o.budget_ms_),
	  deadline_(o.deadline_), out_(std::move(o.out_))
{
}

EvalChild &EvalChild::operator=(EvalChild &&o) noexcept
{
	if (this != &o) {
		(void)finish(true);
		pid_ = std::exchange(o.pid_, -1);
		pipe_ = std::move(o.pipe_);
		id_ = o.id_;
		budget_ms_ = o.budget_ms_;
		deadline_ = o.deadline_;
		out_ = std::move(o.out_);
	}
	return *this;
}

EvalChild::~EvalChild()
{
	if (pid_ > 0)
		(void)finish(true);
}

bool EvalChild::read_some()
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(pipe_.get(), buf, sizeof(buf));
		if (n > 0) {
			if (out_.size() < kMaxMessage)
				out_.append(buf, std::min(size_t(n), kMaxMessage - out_.size()));
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0;	// EOF: done; EAGAIN: more later
	}
}

EvalDoneMsg EvalChild::finish(bool timed_out)
{
	EvalDoneMsg r;
	r.id = id_;
	if (pid_ <= 0)
		return r;
	if (timed_out)
		kill(pid_, SIGKILL);
	int st = 0;
	pid_t w;
	do {
		w = waitpid(pid_, &st, 0);
	} while (w < 0 && errno == EINTR);
	pid_ = -1;
	pipe_.reset();
	auto budget = std::to_string(budget_ms_);
	if (w > 0 && WIFEXITED(st) && WEXITSTATUS(st) <= 1) {
		if (auto m = decode_eval_done(out_); m) {
			r.ok = m->ok && WEXITSTATUS(st) == 0;
			r.text = std::move(m->text);
			return r;
		}
	}
	if (timed_out || (w > 0 && WIFSIGNALED(st) && (WTERMSIG(st) == SIGALRM || WTERMSIG(st) == SIGXCPU ||
							WTERMSIG(st) == SIGKILL)))
		r.text = "`lua` evaluation took longer than " + budget +
			 " ms: stopped (read-only evaluations run apart; the policy was not affected)";
	else if (w > 0 && WIFSIGNALED(st))
		r.text = "`lua` evaluation died (signal " + std::to_string(WTERMSIG(st)) + ": " + strsignal(WTERMSIG(st)) +
			 "); the policy was not affected";
	else
		r.text = "`lua` evaluation ended without an answer; the policy was not affected";
	return r;
}

} // namespace lotto::policy
