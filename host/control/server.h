// server.h — the control socket: a Unix stream socket on the host's event
// loop, JSON lines in and out (protocol.h, docs/protocol.md). Non-blocking;
// each client has its own input and output buffers; a client that sends an
// oversized line gets a `too_long` error and its line is skipped; a client
// that stops reading is stopped being read from (its replies queue up to a
// cap, then it is dropped). One request of a client is answered at a time,
// in order; `lua` and `policy load` are answered when the engine is done,
// while the server serves everyone else. Nothing a client sends can stop
// the server.
//
// No user can starve the others: a non-root uid has at most
// max_clients_per_user connections, non-admins together at most
// max_clients, and admins have admin_reserve more; a connection that
// completes no request for idle_timeout (silent, or dribbling half a line)
// is closed.
//
// Permissions come from SO_PEERCRED/SO_PEERGROUPS at accept time: root and
// members of the admin group may write, everyone else reads.
#pragma once

#include "control/dispatch.h"
#include "core/event_loop.h"
#include "core/fd.h"
#include "core/limits.h"
#include "core/result.h"

#include <chrono>

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>

namespace lotto::control {

struct ServerConfig {
	std::string socket_path = kDefaultSocket;
	std::string admin_group;		// "" = root only; must exist when set
	std::string server_version;		// reported by `hello`
	size_t max_clients = limits::kMaxClients;	// non-admin connections, all users together
	size_t max_clients_per_user = limits::kMaxClientsPerUser;	// of one uid (root: no limit)
	size_t admin_reserve = limits::kAdminReserve;	// admins may open this many more
	std::chrono::milliseconds idle_timeout = limits::kClientIdleTimeout;	// no request: closed
	size_t max_pending_output = limits::kMaxPendingOutput;	// bytes queued for one client before it is dropped
	mode_t socket_mode = 0666;		// everyone may connect (and read)
};

// the gid of group G (a name or a number); the error names --admin-group
Result<gid_t> resolve_admin_group(const std::string &g);

class ControlServer {
public:
	ControlServer(EventLoop &loop, HostApi &host, ServerConfig cfg);
	~ControlServer();
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

	// Resolve the admin group, create the socket's directory (0755), bind,
	// listen and register with the loop. Refuses when another live server
	// already answers on the path; removes a stale socket file.
	Result<void> start();
	// Close every client and the listening socket; unlink the socket file.
	void stop();

	const std::string &path() const { return cfg_.socket_path; }
	size_t clients() const { return clients_.size(); }
	uint64_t requests() const { return dispatcher_.requests(); }

	// Decide admin rights from credentials (public for tests).
	static bool is_admin(uid_t uid, gid_t gid, const std::vector<gid_t> &groups, std::optional<gid_t> admin_gid);

private:
	struct Client {
		Fd fd;
		EventLoop::Id id = 0;
		Peer peer;
		std::string in;
		std::string out;
		bool skipping = false;	// inside an oversized line: drop bytes up to '\n'
		uint32_t events = 0;	// registered for: EPOLLOUT, EPOLLIN | EPOLLRDHUP or nothing
		bool closing = false;	// flush `out`, then close
		bool waiting = false;	// a request is being answered; later lines wait
		bool processing = false;	// inside process()
		std::chrono::steady_clock::time_point active;	// last request or reply
	};

	void on_accept();
	std::optional<std::string> refusal(const Peer &peer) const;
	void on_reply(uint64_t key, std::string reply);
	void sweep_idle();
	void on_client(uint64_t key, uint32_t events);
	void process(uint64_t key, Client &c);
	void flush(uint64_t key, Client &c);
	void rearm(uint64_t key, Client &c);
	void drop(uint64_t key);

	EventLoop &loop_;
	ServerConfig cfg_;
	Dispatcher dispatcher_;
	std::optional<gid_t> admin_gid_;
	Fd listen_;
	EventLoop::Id listen_id_ = 0;
	EventLoop::Id sweep_id_ = 0;
	bool bound_ = false;
	dev_t sock_dev_ = 0;
	ino_t sock_ino_ = 0;
	uint64_t next_key_ = 1;
	std::map<uint64_t, Client> clients_;
};

} // namespace lotto::control
