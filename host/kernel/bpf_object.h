// bpf_object.h — move-only owners for what loading lotto creates: the libbpf
// object, the struct_ops link and shared mappings of BPF maps.
#pragma once

#include "core/mapping.h"

#include <bpf/libbpf.h>

#include <cstddef>
#include <memory>
#include <utility>

namespace lotto {

struct BpfObjectClose {
	void operator()(bpf_object *o) const { bpf_object__close(o); }
};
using BpfObject = std::unique_ptr<bpf_object, BpfObjectClose>;

// Destroying the link detaches the scheduler: the kernel's default takes over.
struct BpfLinkDestroy {
	void operator()(bpf_link *l) const { bpf_link__destroy(l); }
};
using BpfLink = std::unique_ptr<bpf_link, BpfLinkDestroy>;

// Shared mappings of BPF maps: forked children inherit them shared.
using Mmap = Mapping;

} // namespace lotto
