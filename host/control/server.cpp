#include "control/server.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace lotto::control {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kProcessOutputCap = 256 * 1024;	// stop handling lines while this much is unsent

} // namespace

Result<gid_t> resolve_admin_group(const std::string &g)
{
	gid_t num = 0;
	auto [p, ec] = std::from_chars(g.data(), g.data() + g.size(), num);
	if (ec == std::errc() && p == g.data() + g.size())
		return num;
	std::vector<char> buf(16384);
	group gr{}, *res = nullptr;
	if (getgrnam_r(g.c_str(), &gr, buf.data(), buf.size(), &res) != 0 || !res)
		return err(Errc::not_found, "--admin-group: no group named '" + g + "' (create it with: groupadd " + g +
						    ", or give a number)");
	return res->gr_gid;
}

namespace {

Result<void> mkdir_p(const std::string &dir)
{
	if (dir.empty())
		return {};
	std::string cur;
	size_t pos = 0;
	while (pos != std::string::npos) {
		pos = dir.find('/', pos + 1);
		cur = dir.substr(0, pos);
		if (cur.empty())
			continue;
		if (mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST)
			return err(fmt::format("cannot create {}: {}", cur, strerror(errno)));
	}
	return {};
}

Result<sockaddr_un> address_of(const std::string &path)
{
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(a.sun_path))
		return err(fmt::format("socket path '{}' is empty or longer than {} bytes", path, sizeof(a.sun_path) - 1));
	memcpy(a.sun_path, path.c_str(), path.size() + 1);
	return a;
}

} // namespace

bool ControlServer::is_admin(uid_t uid, gid_t gid, const std::vector<gid_t> &groups, std::optional<gid_t> admin_gid)
{
	if (uid == 0)
		return true;
	if (!admin_gid)
		return false;
	return gid == *admin_gid || std::find(groups.begin(), groups.end(), *admin_gid) != groups.end();
}

ControlServer::ControlServer(EventLoop &loop, HostApi &host, ServerConfig cfg)
	: loop_(loop), cfg_(std::move(cfg)), dispatcher_(host, DispatchConfig{cfg_.server_version, cfg_.admin_group})
{
}

ControlServer::~ControlServer() { stop(); }

Result<void> ControlServer::start()
{
	if (listen_)
		return err("control server already started");
	if (!cfg_.admin_group.empty()) {
		auto g = resolve_admin_group(cfg_.admin_group);
		if (!g)
			return g.error();
		admin_gid_ = *g;
	}
	auto addr = address_of(cfg_.socket_path);
	if (!addr)
		return addr.error();
	auto slash = cfg_.socket_path.rfind('/');
	if (slash != std::string::npos && slash > 0)
		if (auto r = mkdir_p(cfg_.socket_path.substr(0, slash)); !r)
			return r;

	struct stat st{};
	if (lstat(cfg_.socket_path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err(fmt::format("{} exists and is not a socket; remove it or pick another --socket",
					       cfg_.socket_path));
		Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (probe && connect(probe.get(), (sockaddr *)&*addr, sizeof(*addr)) == 0)
			return err(fmt::format("another lotto-host is already serving {}; stop it first or pick another --socket",
					       cfg_.socket_path));
		unlink(cfg_.socket_path.c_str());	// stale, from a host that died
	}

	Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!s)
		return err(fmt::format("socket: {}", strerror(errno)));
	if (bind(s.get(), (sockaddr *)&*addr, sizeof(*addr)) < 0)
		return err(fmt::format("cannot bind {}: {}", cfg_.socket_path, strerror(errno)));
	bound_ = true;
	if (stat(cfg_.socket_path.c_str(), &st) == 0) {
		sock_dev_ = st.st_dev;
		sock_ino_ = st.st_ino;
	}
	if (chmod(cfg_.socket_path.c_str(), cfg_.socket_mode) < 0)
		spdlog::warn("control: chmod {}: {}", cfg_.socket_path, strerror(errno));
	if (listen(s.get(), 64) < 0)
		return err(fmt::format("listen on {}: {}", cfg_.socket_path, strerror(errno)));
	auto id = loop_.add_fd(s.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
	if (!id)
		return id.error();
	listen_id_ = *id;
	listen_ = std::move(s);
	auto period = std::clamp(cfg_.idle_timeout / 4, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
	auto sweep = loop_.add_timer(period, [this](uint64_t) { sweep_idle(); });
	if (!sweep)
		return sweep.error();
	sweep_id_ = *sweep;
	spdlog::info("control: listening on {} (writes: {})", cfg_.socket_path,
		     cfg_.admin_group.empty() ? std::string("root") : "root and group " + cfg_.admin_group);
	return {};
}

void ControlServer::stop()
{
	for (auto &[key, c] : clients_)
		loop_.remove(c.id);
	clients_.clear();
	if (listen_) {
		loop_.remove(listen_id_);
		listen_.reset();
	}
	if (sweep_id_) {
		loop_.remove(sweep_id_);
		sweep_id_ = 0;
	}
	if (bound_) {
		struct stat st{};
		if (lstat(cfg_.socket_path.c_str(), &st) == 0 && st.st_dev == sock_dev_ && st.st_ino == sock_ino_)
			unlink(cfg_.socket_path.c_str());
		bound_ = false;
	}
}

// Why a new connection from `peer` is refused, or nothing.
std::optional<std::string> ControlServer::refusal(const Peer &peer) const
{
	size_t all = clients_.size(), others = 0, same = 0;
	for (auto &[key, c] : clients_) {
		others += !c.peer.admin;
		same += c.peer.uid == peer.uid;
	}
	if (peer.uid != 0 && same >= cfg_.max_clients_per_user)
		return fmt::format("too many connections from uid {} ({} open, at most {} per user); close some "
				   "lotto-shells or wait for them to time out",
				   peer.uid, same, cfg_.max_clients_per_user);
	if (!peer.admin && others >= cfg_.max_clients)
		return fmt::format("lotto-host is busy: too many clients ({} open); try again later", others);
	if (all >= cfg_.max_clients + cfg_.admin_reserve)
		return fmt::format("lotto-host is busy: too many clients ({} open, admins included); try again later", all);
	return std::nullopt;
}

void ControlServer::on_accept()
{
	for (;;) {
		Fd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				spdlog::warn("control: accept: {}", strerror(errno));
			return;
		}
		Client c;
		ucred cred{};
		socklen_t len = sizeof(cred);
		if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			spdlog::warn("control: SO_PEERCRED: {}", strerror(errno));
			continue;	// unknown peer: refuse outright
		}
		std::vector<gid_t> groups(64);
		len = groups.size() * sizeof(gid_t);
		if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) < 0) {
			if (errno == ERANGE) {
				groups.resize(len / sizeof(gid_t));
				if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) < 0)
					len = 0;
			} else {
				len = 0;
			}
		}
		groups.resize(len / sizeof(gid_t));
		c.peer = Peer{cred.uid, cred.gid, cred.pid, is_admin(cred.uid, cred.gid, groups, admin_gid_),
			      {groups.begin(), groups.end()}};
		if (auto why = refusal(c.peer)) {
			auto line = reply_error(nullptr, HostError{ErrorCode::busy, *why});
			(void)!send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
			spdlog::debug("control: refused pid {} uid {}: {}", cred.pid, cred.uid, *why);
			continue;	// fd closes here
		}
		uint64_t key = next_key_++;
		auto id = loop_.add_fd(fd.get(), EPOLLIN | EPOLLRDHUP, [this, key](uint32_t ev) { on_client(key, ev); });
		if (!id) {
			spdlog::warn("control: {}", id.error().msg);
			continue;
		}
		c.id = *id;
		c.events = EPOLLIN | EPOLLRDHUP;
		c.fd = std::move(fd);
		c.active = std::chrono::steady_clock::now();
		spdlog::debug("control: client {} connected (pid {}, uid {}, {})", key, c.peer.pid, c.peer.uid,
			      c.peer.admin ? "admin" : "read-only");
		clients_.emplace(key, std::move(c));
	}
}

// Handle the complete lines in c.in, one request at a time: a request
// answered later (`lua`, `policy load`) holds the lines after it.
void ControlServer::process(uint64_t key, Client &c)
{
	c.processing = true;
	while (!c.waiting && c.out.size() < kProcessOutputCap) {
		size_t nl = c.in.find('\n');
		if (c.skipping) {
			if (nl == std::string::npos) {
				c.in.clear();
				break;
			}
			c.in.erase(0, nl + 1);
			c.skipping = false;
			continue;
		}
		if (nl == std::string::npos) {
			if (c.in.size() > kMaxLine) {
				c.out += reply_error(nullptr, HostError{ErrorCode::too_long,
								       fmt::format("request line longer than {} bytes; skipped",
										   kMaxLine)});
				c.in.clear();
				c.skipping = true;
			}
			break;
		}
		std::string line = c.in.substr(0, nl);
		c.in.erase(0, nl + 1);
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		if (line.size() > kMaxLine) {
			c.out += reply_error(nullptr, HostError{ErrorCode::too_long,
							       fmt::format("request line longer than {} bytes; skipped",
									   kMaxLine)});
			continue;
		}
		if (line.find_first_not_of(" \t") == std::string::npos)
			continue;
		c.active = std::chrono::steady_clock::now();
		c.waiting = true;
		dispatcher_.handle(line, c.peer, [this, key](std::string reply) { on_reply(key, std::move(reply)); });
	}
	c.processing = false;
}

// A reply, now or later. The client may be gone (its reply is dropped).
void ControlServer::on_reply(uint64_t key, std::string reply)
{
	auto it = clients_.find(key);
	if (it == clients_.end())
		return;
	Client &c = it->second;
	c.out += reply;
	c.waiting = false;
	c.active = std::chrono::steady_clock::now();
	if (c.processing)
		return;	// answered at once: process() goes on with the next line
	process(key, c);
	flush(key, c);
}

// Close connections that completed no request for idle_timeout (a client
// waiting for its answer is not idle).
void ControlServer::sweep_idle()
{
	auto now = std::chrono::steady_clock::now();
	std::vector<uint64_t> idle;
	for (auto &[key, c] : clients_)
		if (!c.waiting && now - c.active >= cfg_.idle_timeout)
			idle.push_back(key);
	for (auto key : idle) {
		spdlog::debug("control: client {} idle for {} ms: closed", key, cfg_.idle_timeout.count());
		drop(key);
	}
}

void ControlServer::flush(uint64_t key, Client &c)
{
	while (!c.out.empty()) {
		ssize_t n = send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c.out.erase(0, n);
			c.active = std::chrono::steady_clock::now();
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		drop(key);	// EPIPE, ECONNRESET: the peer is gone
		return;
	}
	if (c.out.size() > cfg_.max_pending_output) {
		spdlog::warn("control: client {} does not read its replies; dropping it", key);
		drop(key);
		return;
	}
	if (c.out.empty() && c.closing && !c.waiting && c.in.find('\n') == std::string::npos) {
		drop(key);
		return;
	}
	rearm(key, c);
}

// What to wait for: the socket to take output while replies are unsent;
// nothing (hang-ups only) while a client that waits for an answer has
// sent a lot more lines; else input.
void ControlServer::rearm(uint64_t key, Client &c)
{
	uint32_t want = !c.out.empty() ? EPOLLOUT
			: c.waiting && c.in.size() >= limits::kMaxBufferedInput ? 0
									       : EPOLLIN | EPOLLRDHUP;
	if (want == c.events)
		return;
	loop_.remove(c.id);
	auto id = loop_.add_fd(c.fd.get(), want, [this, key](uint32_t e) { on_client(key, e); });
	if (!id) {
		spdlog::warn("control: {}", id.error().msg);
		clients_.erase(key);
		return;
	}
	c.id = *id;
	c.events = want;
}

void ControlServer::drop(uint64_t key)
{
	auto it = clients_.find(key);
	if (it == clients_.end())
		return;
	loop_.remove(it->second.id);
	spdlog::debug("control: client {} gone", key);
	clients_.erase(it);
}

void ControlServer::on_client(uint64_t key, uint32_t events)
{
	auto it = clients_.find(key);
	if (it == clients_.end())
		return;
	Client &c = it->second;
	if (events & EPOLLOUT) {
		flush(key, c);
		if (!clients_.count(key))
			return;
		if (c.out.empty()) {
			process(key, c);	// lines that waited for the output to drain
			flush(key, c);
		}
		return;
	}
	if (events & EPOLLIN) {
		char buf[kReadChunk];
		ssize_t n = recv(c.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			c.in.append(buf, n);
			process(key, c);
			flush(key, c);
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n == 0) {
			// EOF: answer a last line sent without '\n', then close
			if (!c.skipping && !c.in.empty()) {
				c.in += '\n';
				process(key, c);
			}
			c.closing = true;
			flush(key, c);
			return;
		}
		drop(key);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		drop(key);
}

} // namespace lotto::control
