#include "kernel/preflight.h"

#include "core/backend.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace lotto {

static std::optional<std::string> read_line(const std::string &path)
{
	std::ifstream f(path);
	std::string s;
	if (!f || !std::getline(f, s))
		return std::nullopt;
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

std::optional<std::string> scx_state(const ScxSysfs &fs)
{
	return read_line(fs.root + "/state");
}

std::optional<std::string> scx_root_ops(const ScxSysfs &fs)
{
	return read_line(fs.root + "/root/ops");
}

bool kernel_has_sched_ext()
{
	return access("/sys/kernel/sched_ext/state", F_OK) == 0;
}

// CAP_SYS_ADMIN in the effective set: what attaching a sched_ext scheduler needs
static bool can_admin()
{
	if (geteuid() == 0)
		return true;
	std::ifstream f("/proc/self/status");
	for (std::string line; std::getline(f, line);) {
		if (line.rfind("CapEff:", 0) == 0) {
			unsigned long long caps = strtoull(line.c_str() + 7, nullptr, 16);
			return caps & (1ull << 21);
		}
	}
	return false;
}

Result<void> preflight(const ScxSysfs &fs)
{
	if (access((fs.root + "/state").c_str(), F_OK) != 0) {
		utsname u{};
		uname(&u);
		return err(std::string("this kernel (") + u.release +
			   ") has no sched_ext (CONFIG_SCHED_CLASS_EXT is not set): run lotto in the VM instead, "
			   "scripts/run.sh boots a sched_ext kernel in qemu");
	}
	if (access(fs.btf.c_str(), F_OK) != 0)
		return err("this kernel exposes no BTF (" + fs.btf +
			   " is missing, CONFIG_DEBUG_INFO_BTF=y is needed): BPF schedulers cannot load here; "
			   "use scripts/run.sh, which boots a kernel that has it");
	if (!can_admin())
		return err("lotto-host must run as root to load a BPF scheduler: run it with sudo");
	auto state = scx_state(fs);
	if (state && *state != "disabled") {
		auto ops = scx_root_ops(fs);
		return err("another sched_ext scheduler" + (ops ? " ('" + *ops + "')" : std::string()) +
			   " is " + *state + ": stop it first (or echo S > /proc/sysrq-trigger), then start lotto-host");
	}
	return {};
}

} // namespace lotto
