// lotto-ctl against maps made here, on the host kernel (BPF maps work without
// sched_ext): the same layout as lotto.bpf.c's lotto_tasks and lotto_ctl,
// passed to lotto-ctl by id so that nothing else on the machine interferes.
#include "lotto_abi.h"

#include <bpf/bpf.h>
#include <catch2/catch_test_macros.hpp>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr __u32 kSlots = 1024;

struct FakeLotto {
	int tasks_fd = -1, ctl_fd = -1;
	__u32 tasks_id = 0, ctl_id = 0;
	lotto_task_stat *tasks = nullptr;
	lotto_ctl *ctl = nullptr;

	FakeLotto()
	{
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
		tasks_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lotto_tasks", 4, sizeof(lotto_task_stat), kSlots, &o);
		ctl_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lotto_ctl", 4, sizeof(lotto_ctl), kSlots, &o);
		REQUIRE(tasks_fd >= 0);
		REQUIRE(ctl_fd >= 0);
		tasks = static_cast<lotto_task_stat *>(map(tasks_fd, sizeof(lotto_task_stat)));
		ctl = static_cast<lotto_ctl *>(map(ctl_fd, sizeof(lotto_ctl)));
		tasks_id = id_of(tasks_fd);
		ctl_id = id_of(ctl_fd);
	}
	~FakeLotto()
	{
		munmap(tasks, kSlots * sizeof(lotto_task_stat));
		munmap(ctl, kSlots * sizeof(lotto_ctl));
		close(tasks_fd);
		close(ctl_fd);
	}
	static void *map(int fd, size_t value)
	{
		void *p = mmap(nullptr, kSlots * value, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		REQUIRE(p != MAP_FAILED);
		return p;
	}
	static __u32 id_of(int fd)
	{
		bpf_map_info info{};
		__u32 len = sizeof(info);
		REQUIRE(bpf_map_get_info_by_fd(fd, &info, &len) == 0);
		return info.id;
	}
	// run lotto-ctl on these maps: exit status and output (stdout + stderr)
	std::pair<int, std::string> run(const std::string &args) const
	{
		std::string cmd = std::string(LOTTO_CTL_BIN) + " --map-ids " + std::to_string(tasks_id) + "," +
				  std::to_string(ctl_id) + " " + args + " 2>&1";
		FILE *f = popen(cmd.c_str(), "r");
		REQUIRE(f);
		std::string out;
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			out.append(buf, n);
		int st = pclose(f);
		return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
	}
};

void put_task(lotto_task_stat &t, __u32 pid, const char *comm)
{
	std::memset(&t, 0, sizeof(t));
	t.pid = pid;
	t.tgid = pid;
	t.tickets = 100;
	t.wins = 5;
	t.runtime_ns = 123456789;
	std::strncpy(t.comm, comm, LOTTO_COMM_LEN - 1);
}

} // namespace

TEST_CASE("lotto-ctl set writes pid and tickets into the task's lotto_ctl slot", "[lotto-ctl]")
{
	FakeLotto l;
	put_task(l.tasks[7], 4242, "hog");
	put_task(l.tasks[9], 4343, "other");
	auto [rc, out] = l.run("set 4242 300 4343 1000000");
	INFO(out);
	CHECK(rc == 0);
	CHECK(l.ctl[7].pid == 4242);
	CHECK(l.ctl[7].tickets == 300);
	CHECK(l.ctl[9].pid == 4343);
	CHECK(l.ctl[9].tickets == 1000000);
	CHECK(l.ctl[0].pid == 0);
}

TEST_CASE("lotto-ctl get and dump show the task table", "[lotto-ctl]")
{
	FakeLotto l;
	put_task(l.tasks[3], 777, "spinner");
	auto [rc, out] = l.run("get 777");
	CHECK(rc == 0);
	CHECK(out.find("pid=777 ") != std::string::npos);
	CHECK(out.find("slot=3 ") != std::string::npos);
	CHECK(out.find("wins=5 ") != std::string::npos);
	CHECK(out.find("runtime_ns=123456789 ") != std::string::npos);
	auto [rc2, dump] = l.run("dump");
	CHECK(rc2 == 0);
	CHECK(dump.find("spinner") != std::string::npos);
	CHECK(dump.find("123.5") != std::string::npos);	// runtime in ms
}

TEST_CASE("lotto-ctl refuses unknown pids and bad tickets without writing", "[lotto-ctl]")
{
	FakeLotto l;
	put_task(l.tasks[1], 500, "x");
	auto [rc, out] = l.run("--wait 0 set 501 10");
	CHECK(rc == 1);
	CHECK(out.find("pid 501 is not a lotto task") != std::string::npos);
	for (const char *bad : {"set 500 0", "set 500 1000001", "set 500 1.5", "set 500", "set x 5"}) {
		auto [rc2, out2] = l.run(bad);
		INFO(bad << ": " << out2);
		CHECK(rc2 == 2);
	}
	CHECK(l.ctl[1].pid == 0);
	CHECK(l.ctl[1].tickets == 0);
}
