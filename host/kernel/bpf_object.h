// bpf_object.h — move-only owners for what loading lotto creates: the libbpf
// object, the struct_ops link and shared mappings of BPF maps.
#pragma once

#include <bpf/libbpf.h>
#include <sys/mman.h>

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

// A MAP_SHARED mapping (of a BPF map's fd). Forked children inherit it shared.
class Mmap {
public:
	Mmap() = default;
	Mmap(void *addr, size_t len) : addr_(addr), len_(len) {}
	~Mmap() { reset(); }
	Mmap(Mmap &&o) noexcept : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
	Mmap &operator=(Mmap &&o) noexcept
	{
		if (this != &o) {
			reset();
			addr_ = std::exchange(o.addr_, nullptr);
			len_ = std::exchange(o.len_, 0);
		}
		return *this;
	}
	Mmap(const Mmap &) = delete;
	Mmap &operator=(const Mmap &) = delete;

	void *get() const { return addr_; }
	size_t size() const { return len_; }
	explicit operator bool() const { return addr_ != nullptr; }
	void reset()
	{
		if (addr_)
			::munmap(addr_, len_);
		addr_ = nullptr;
		len_ = 0;
	}

private:
	void *addr_ = nullptr;
	size_t len_ = 0;
};

} // namespace lotto
