#include "policy/worker_proc.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lotto::policy {

Result<std::unique_ptr<WorkerProc>> WorkerProc::spawn(const WorkerSpec &spec)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return err(std::string("policy worker: socketpair: ") + strerror(errno));
	Fd ours(sv[0]), theirs(sv[1]);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return err(std::string("policy worker: fork: ") + strerror(errno));
	if (pid == 0) {
		ours.release();	// closed by close_range in the child; no destructor here
		worker_main(spec, theirs.release(), parent);
	}
	std::unique_ptr<WorkerProc> w(new WorkerProc());
	w->pid_ = pid;
	w->pidfd_ = Fd(int(syscall(SYS_pidfd_open, pid, 0)));
	w->ch_ = std::move(ours);
	return w;
}

WorkerProc::~WorkerProc()
{
	kill_and_reap();
}

std::string WorkerProc::kill_and_reap()
{
	if (reaped_ || pid_ <= 0)
		return how_;
	if (pidfd_)
		syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
	else
		::kill(pid_, SIGKILL);
	ch_.reset();
	int st = 0;
	pid_t r;
	do {
		r = waitpid(pid_, &st, 0);
	} while (r < 0 && errno == EINTR);
	reaped_ = true;
	if (r != pid_)
		how_ = "ended (reaped elsewhere)";
	else if (WIFSIGNALED(st))
		how_ = "killed by signal " + std::to_string(WTERMSIG(st)) + " (" + strsignal(WTERMSIG(st)) + ")";
	else
		how_ = "exited with status " + std::to_string(WEXITSTATUS(st));
	return how_;
}

} // namespace lotto::policy
