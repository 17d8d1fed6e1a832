// preflight.h — the checks made before touching libbpf, each failing with one
// line that says what is wrong and what to do instead.
#pragma once

#include "core/result.h"

#include <optional>
#include <string>

namespace lotto {

// sysfs as sched_ext presents it (read-only; tests may point elsewhere)
struct ScxSysfs {
	std::string root = "/sys/kernel/sched_ext";
	std::string btf = "/sys/kernel/btf/vmlinux";
};

// "enabled", "disabled", ... or nothing when the file is missing
std::optional<std::string> scx_state(const ScxSysfs &fs = {});
// name of the attached root scheduler, if any
std::optional<std::string> scx_root_ops(const ScxSysfs &fs = {});

// not root, no sched_ext, no BTF, another scheduler attached
Result<void> preflight(const ScxSysfs &fs = {});

} // namespace lotto
