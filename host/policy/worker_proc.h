// worker_proc.h — the engine's handle on one policy worker process: the
// process (pid + pidfd, so a signal never reaches a recycled pid) and the
// engine's end of the channel. Destroying it kills and reaps the worker.
#pragma once

#include "core/fd.h"
#include "core/result.h"
#include "policy/worker.h"

#include <memory>
#include <string>
#include <sys/types.h>

namespace lotto::policy {

class WorkerProc {
public:
	// fork(); the child runs worker_main() and never returns here
	static Result<std::unique_ptr<WorkerProc>> spawn(const WorkerSpec &spec);
	~WorkerProc();
	WorkerProc(const WorkerProc &) = delete;
	WorkerProc &operator=(const WorkerProc &) = delete;

	pid_t pid() const { return pid_; }
	int fd() const { return ch_.get(); }

	// SIGKILL (if still running) and reap. Returns how the process ended:
	// "killed by signal 9 (Killed)", "exited with status 0". Idempotent.
	std::string kill_and_reap();

private:
	WorkerProc() = default;
	pid_t pid_ = -1;
	Fd pidfd_;
	Fd ch_;
	bool reaped_ = false;
	std::string how_;
};

} // namespace lotto::policy
