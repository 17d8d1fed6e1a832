// signals.h — SIGINT and SIGWINCH turned into bytes on a self-pipe, so the
// shell's poll loop (readline's callback interface, `watch`, `export`) sees
// them as events instead of having readline or a blocking call swallow them.
#pragma once

#include "shell.h"

#include "core/fd.h"

namespace lotto::shell {

class Signals : public Waiter {
public:
	Signals();
	~Signals() override;
	Signals(const Signals &) = delete;
	Signals &operator=(const Signals &) = delete;

	int fd() const { return rd_.get(); }
	// Read pending signal bytes; returns what arrived.
	struct Pending {
		bool interrupt = false;
		bool resize = false;
	};
	Pending drain();

	// Waiter: sleep, stop early on Ctrl-C.
	bool wait(double seconds) override;
	bool interrupted() override { return drain().interrupt; }

private:
	Fd rd_, wr_;
};

} // namespace lotto::shell
