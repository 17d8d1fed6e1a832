// credentials.h — who asked: the uid, gid and groups of a control-socket
// peer (SO_PEERCRED, SO_PEERGROUPS) or of the process itself. lotto-host,
// running as root, opens files named by a client with that client's rights
// (ActAs), and runs a read-only `lua` evaluation with them.
#pragma once

#include "core/result.h"

#include <string>
#include <sys/types.h>
#include <vector>

namespace lotto {

struct Credentials {
	uid_t uid = 0;
	gid_t gid = 0;
	std::vector<gid_t> groups;	// supplementary groups

	static Credentials of_process();
	// uid with gid and the groups the user database gives it now (only gid
	// when uid has no entry)
	static Credentials of_user(uid_t uid, gid_t gid);
	bool operator==(const Credentials &) const = default;
};

// For its lifetime, this thread's filesystem identity (fsuid, fsgid,
// supplementary groups) is `who`'s: path lookups and opens are checked as
// they would be for `who`. Only a root process switches; a process that is
// not root is refused for anyone but itself and root (it cannot tell what
// they may read). Raw syscalls: the switch is per thread.
class ActAs {
public:
	explicit ActAs(const Credentials &who);
	~ActAs();
	ActAs(const ActAs &) = delete;
	ActAs &operator=(const ActAs &) = delete;

	// the switch failed (or is impossible): an error to return instead
	const std::optional<Error> &error() const { return error_; }

private:
	bool switched_ = false;
	uid_t fsuid_ = 0;
	gid_t fsgid_ = 0;
	std::vector<gid_t> groups_;
	std::optional<Error> error_;
};

} // namespace lotto
