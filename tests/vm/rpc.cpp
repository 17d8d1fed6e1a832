// lotto-rpc — clients and a multithreaded server, for the ticket-transfer
// test and the paper's client-server experiment (Waldspurger & Weihl §5.4).
//
//   lotto-rpc [--clients N] [--serve-us U] [--seconds S] [--warmup W] [--tids FILE]
//
// Client i and server thread i share a Unix socket pair: the client sends
// a one-byte request and blocks reading the reply; the server thread, woken
// by it, burns U us of its own CPU time, sends the reply (waking the client)
// and blocks reading the next request. So each server thread runs only on behalf of its client,
// and, with ticket transfers, on its client's tickets (the client is blocked
// while it is served). The threads' ids go to FILE at start, one line each:
// "client I TID" and "server I TID", so a test can set tickets. After W
// seconds of warm-up, requests are counted for S seconds; then one line:
//   requests=R0,R1,...
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <thread>
#include <vector>

#include "common/workload_tool.h"

using lotto::workload::burn_cpu;
using lotto::workload::now_ns;
using lotto::workload::parse_int;

namespace {

const char *const kUsage =
	"usage: lotto-rpc [--clients N] [--serve-us U] [--seconds S] [--warmup W] [--tids FILE]\n"
	"\n"
	"N clients (default 3), each with its own server thread that burns U us of CPU\n"
	"per request (default 2000); requests counted for S seconds (default 10) after\n"
	"W seconds (default 2). FILE gets the thread ids: \"client I TID\", \"server I TID\".\n";

struct alignas(64) Channel {
	int fd[2] = {-1, -1};		// [0]: the client's end, [1]: the server's
	std::atomic<uint64_t> served{0};
	std::atomic<int> client_tid{0}, server_tid{0};
};

std::atomic<bool> g_stop{false};

// one byte each way; false when the other end is gone (shutdown at the end)
bool send_byte(int fd)
{
	char b = 1;
	return send(fd, &b, 1, MSG_NOSIGNAL) == 1;	/* no SIGPIPE at the end */
}

bool recv_byte(int fd)
{
	char b;
	return read(fd, &b, 1) == 1;
}

void server(Channel &ch, int64_t serve_ns)
{
	ch.server_tid = int(syscall(SYS_gettid));
	while (recv_byte(ch.fd[1]) && !g_stop) {
		burn_cpu(serve_ns);
		ch.served++;
		if (!send_byte(ch.fd[1]))
			return;
	}
}

void client(Channel &ch)
{
	ch.client_tid = int(syscall(SYS_gettid));
	while (!g_stop && send_byte(ch.fd[0]) && recv_byte(ch.fd[0])) {
	}
}

} // namespace

int main(int argc, char **argv)
{
	long long clients = 3, serve_us = 2000, seconds = 10, warmup = 2;
	const char *tids = nullptr;
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "-h" || a == "--help") {
			std::fputs(kUsage, stdout);
			return 0;
		}
		if (a == "--tids" && i + 1 < argc) {
			tids = argv[++i];
			continue;
		}
		long long *dst = a == "--clients"    ? &clients
				 : a == "--serve-us" ? &serve_us
				 : a == "--seconds"  ? &seconds
				 : a == "--warmup"   ? &warmup
						     : nullptr;
		if (!dst || i + 1 >= argc || !parse_int(argv[i + 1], *dst, a == "--warmup" ? 0 : 1, 1000000)) {
			std::fprintf(stderr, "lotto-rpc: bad option '%s' (try --help)\n", argv[i]);
			return 2;
		}
		i++;
	}
	std::vector<Channel> box(static_cast<size_t>(clients));
	for (auto &ch : box)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, ch.fd)) {
			std::perror("lotto-rpc: socketpair");
			return 1;
		}
	std::vector<std::thread> threads;
	for (auto &m : box) {
		threads.emplace_back(server, std::ref(m), serve_us * 1000);
		threads.emplace_back(client, std::ref(m));
	}
	for (auto &m : box)
		while (!m.client_tid || !m.server_tid)
			std::this_thread::yield();
	if (tids) {
		FILE *f = std::fopen(tids, "w");
		if (!f) {
			std::perror("lotto-rpc: --tids");
			g_stop = true;
		} else {
			for (size_t i = 0; i < box.size(); i++)
				std::fprintf(f, "client %zu %d\nserver %zu %d\n", i, box[i].client_tid.load(), i,
					     box[i].server_tid.load());
			std::fclose(f);
		}
	}
	std::this_thread::sleep_for(std::chrono::seconds(warmup));
	std::vector<uint64_t> start;
	for (auto &m : box)
		start.push_back(m.served.load());
	std::this_thread::sleep_for(std::chrono::seconds(seconds));
	std::printf("requests=");
	for (size_t i = 0; i < box.size(); i++)
		std::printf("%s%llu", i ? "," : "", (unsigned long long)(box[i].served.load() - start[i]));
	std::printf("\n");
	std::fflush(stdout);
	g_stop = true;
	for (auto &ch : box) {	/* both ends' reads return 0 now */
		shutdown(ch.fd[0], SHUT_RDWR);
		shutdown(ch.fd[1], SHUT_RDWR);
	}
	for (auto &t : threads)
		t.join();
	return 0;
}
