// btf_vars.h — where a BPF global variable lives inside its data section map
// (.rodata, .bss), found through the object's BTF rather than assumed.
#pragma once

#include "core/result.h"

#include <bpf/libbpf.h>

#include <cstddef>
#include <string>

namespace lotto {

struct GlobalVar {
	bpf_map *map = nullptr;	// the internal map holding the section
	size_t offset = 0;	// of the variable inside the section
	size_t size = 0;
};

// section: ".rodata", ".bss", ".data"
Result<GlobalVar> find_global(bpf_object *obj, const std::string &section, const std::string &var);

} // namespace lotto
