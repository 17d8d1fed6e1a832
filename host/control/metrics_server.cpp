#include "control/metrics_server.h"

#include "control/metrics.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>

namespace lotto::control {

namespace {

constexpr size_t kReadChunk = 4096;

std::string http_reply(int status, const char *reason, const std::string &body, bool head,
		       const char *type = "text/plain; charset=utf-8", const char *extra = "")
{
	std::string r = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
				    status, reason, type, body.size(), extra);
	if (!head)
		r += body;
	return r;
}

// The request line of a complete request head: "GET /metrics HTTP/1.1"
struct RequestLine {
	std::string method, path, version;
};

std::optional<RequestLine> request_line(const std::string &head)
{
	std::string line = head.substr(0, head.find('\n'));
	if (!line.empty() && line.back() == '\r')
		line.pop_back();
	RequestLine r;
	size_t a = line.find(' ');
	size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
	if (b == std::string::npos || line.find(' ', b + 1) != std::string::npos)
		return std::nullopt;
	r.method = line.substr(0, a);
	r.path = line.substr(a + 1, b - a - 1);
	r.version = line.substr(b + 1);
	if (r.version.rfind("HTTP/1.", 0) != 0 || r.path.empty())
		return std::nullopt;
	r.path = r.path.substr(0, r.path.find('?'));
	return r;
}

} // namespace

Result<std::pair<std::string, std::string>> split_host_port(const std::string &address)
{
	auto bad = [&] {
		return err("--metrics: '" + address + "' is not ADDR:PORT (e.g. 127.0.0.1:9477, [::1]:9477 or localhost:9477)");
	};
	size_t colon = address.rfind(':');
	if (colon == std::string::npos || colon == 0)
		return bad();
	std::string host = address.substr(0, colon), port = address.substr(colon + 1);
	if (host.front() == '[') {
		if (host.size() < 3 || host.back() != ']')
			return bad();
		host = host.substr(1, host.size() - 2);
	} else if (host.find(':') != std::string::npos) {
		return bad();	// an IPv6 address needs its brackets
	}
	unsigned n = 0;
	auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
	if (ec != std::errc() || p != port.data() + port.size() || n > 65535)
		return bad();
	return std::pair{host, port};
}

MetricsServer::MetricsServer(EventLoop &loop, HostApi &host, MetricsConfig cfg)
	: loop_(loop), host_(host), cfg_(std::move(cfg))
{
}

MetricsServer::~MetricsServer() { stop(); }

Result<void> MetricsServer::start()
{
	auto hp = split_host_port(cfg_.address);
	if (!hp)
		return hp.error();
	addrinfo hints{}, *res = nullptr;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (int rc = getaddrinfo(hp->first.c_str(), hp->second.c_str(), &hints, &res); rc != 0)
		return err("--metrics " + cfg_.address + ": " + gai_strerror(rc));
	std::unique_ptr<addrinfo, void (*)(addrinfo *)> owned(res, freeaddrinfo);
	std::string why = "no address";
	for (addrinfo *a = res; a; a = a->ai_next) {
		Fd s(socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
		if (!s) {
			why = strerror(errno);
			continue;
		}
		int one = 1;
		setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s.get(), a->ai_addr, a->ai_addrlen) < 0 || listen(s.get(), 16) < 0) {
			why = strerror(errno);
			continue;
		}
		sockaddr_storage ss{};
		socklen_t len = sizeof(ss);
		if (getsockname(s.get(), reinterpret_cast<sockaddr *>(&ss), &len) == 0)
			port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port
							       : reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
		listen_ = std::move(s);
		break;
	}
	if (!listen_)
		return err("--metrics " + cfg_.address + ": cannot listen: " + why);
	auto id = loop_.add_fd(listen_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
	if (!id)
		return id.error();
	listen_id_ = *id;
	auto sweep = loop_.add_timer(std::chrono::milliseconds(500), [this](uint64_t) { this->sweep(); });
	if (!sweep)
		return sweep.error();
	sweep_id_ = *sweep;
	const std::string &h = hp->first;
	spdlog::info("metrics: serving http://{}:{}/metrics (series for the top {} tasks)",
		     h.find(':') == std::string::npos ? h : "[" + h + "]", port_, cfg_.top_tasks);
	return {};
}

void MetricsServer::stop()
{
	for (auto &[key, c] : conns_)
		loop_.remove(c.id);
	conns_.clear();
	if (listen_id_)
		loop_.remove(listen_id_);
	if (sweep_id_)
		loop_.remove(sweep_id_);
	listen_id_ = sweep_id_ = 0;
	listen_.reset();
}

void MetricsServer::on_accept()
{
	for (;;) {
		Fd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				spdlog::warn("metrics: accept: {}", strerror(errno));
			return;
		}
		if (conns_.size() >= cfg_.max_connections) {
			std::string r = http_reply(503, "Service Unavailable", "too many connections\n", false);
			(void)!send(fd.get(), r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
			continue;	// closed here
		}
		uint64_t key = next_key_++;
		auto id = loop_.add_fd(fd.get(), EPOLLIN | EPOLLRDHUP, [this, key](uint32_t ev) { on_conn(key, ev); });
		if (!id) {
			spdlog::warn("metrics: {}", id.error().msg);
			continue;
		}
		Conn &c = conns_[key];
		c.fd = std::move(fd);
		c.id = *id;
		c.deadline = std::chrono::steady_clock::now() + cfg_.timeout;
	}
}

void MetricsServer::on_conn(uint64_t key, uint32_t events)
{
	auto it = conns_.find(key);
	if (it == conns_.end())
		return;
	Conn &c = it->second;
	if (events & (EPOLLERR | EPOLLHUP))
		return drop(key);
	if (events & EPOLLOUT)
		return flush(key, c);
	if (events & EPOLLIN) {
		char buf[kReadChunk];
		ssize_t n = recv(c.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0)
			return drop(key);	// gone before a whole request
		c.in.append(buf, size_t(n));
		bool whole = c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos;
		if (!whole && c.in.size() <= limits::kMaxMetricsRequest)
			return;
		answer(c);
		return flush(key, c);
	}
	if (events & EPOLLRDHUP)
		drop(key);
}

void MetricsServer::answer(Conn &c)
{
	c.answered = true;
	size_t end = std::min(c.in.find("\r\n\r\n"), c.in.find("\n\n"));
	if (end == std::string::npos || end > limits::kMaxMetricsRequest) {
		c.out = http_reply(431, "Request Header Fields Too Large",
				   fmt::format("a request may have at most {} bytes of headers\n", limits::kMaxMetricsRequest),
				   false);
		return;
	}
	auto rl = request_line(c.in.substr(0, end));
	if (!rl) {
		c.out = http_reply(400, "Bad Request", "not an HTTP/1.x request\n", false);
		return;
	}
	bool head = rl->method == "HEAD";
	if (rl->method != "GET" && !head)
		c.out = http_reply(405, "Method Not Allowed", "only GET and HEAD\n", false, "text/plain; charset=utf-8",
				   "Allow: GET, HEAD\r\n");
	else if (rl->path == "/metrics") {
		scrapes_++;
		c.out = http_reply(200, "OK", render_metrics(host_, cfg_.top_tasks), head,
				   "text/plain; version=0.0.4; charset=utf-8");
	} else if (rl->path == "/")
		c.out = http_reply(200, "OK", "lotto-host: metrics are at /metrics\n", head);
	else
		c.out = http_reply(404, "Not Found", "no such page (metrics are at /metrics)\n", head);
	c.in.clear();
}

void MetricsServer::flush(uint64_t key, Conn &c)
{
	while (!c.out.empty()) {
		ssize_t n = send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c.out.erase(0, size_t(n));
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			// wait for room (and no more input); the deadline still holds
			if (c.want_out)
				return;
			c.want_out = true;
			loop_.remove(c.id);
			auto id = loop_.add_fd(c.fd.get(), EPOLLOUT, [this, key](uint32_t ev) { on_conn(key, ev); });
			if (!id)
				return drop(key);
			c.id = *id;
			return;
		}
		return drop(key);
	}
	if (c.answered)
		drop(key);	// all sent: Connection: close
}

void MetricsServer::drop(uint64_t key)
{
	auto it = conns_.find(key);
	if (it == conns_.end())
		return;
	loop_.remove(it->second.id);
	conns_.erase(it);
}

void MetricsServer::sweep()
{
	auto now = std::chrono::steady_clock::now();
	std::vector<uint64_t> late;
	for (auto &[key, c] : conns_)
		if (now >= c.deadline)
			late.push_back(key);
	for (auto key : late)
		drop(key);
}

} // namespace lotto::control
