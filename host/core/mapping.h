// mapping.h — the one owner of an mmap()ed area. lotto's tables all live in
// MAP_SHARED memory (the BPF maps' own pages, or anonymous shared memory for
// the sim and the policy engine) so that forked policy workers see them live.
#pragma once

#include "core/result.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <utility>

namespace lotto {

class Mapping {
public:
	Mapping() = default;
	Mapping(void *addr, size_t len) : addr_(addr), len_(len) {}
	~Mapping() { reset(); }
	Mapping(Mapping &&o) noexcept : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
	Mapping &operator=(Mapping &&o) noexcept
	{
		if (this != &o) {
			reset();
			addr_ = std::exchange(o.addr_, nullptr);
			len_ = std::exchange(o.len_, 0);
		}
		return *this;
	}
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;

	// len zero-filled bytes of MAP_SHARED|MAP_ANONYMOUS memory (untouched
	// pages cost nothing); `what` names it in the error
	static Result<Mapping> shared(size_t len, const std::string &what = "shared memory")
	{
		void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return err("cannot map " + std::to_string(len) + " bytes of " + what + ": " + strerror(errno));
		return Mapping(p, len);
	}
	// MAP_SHARED view of an fd (an mmap-able BPF map)
	static Result<Mapping> of_fd(int fd, size_t len, int prot, const std::string &what)
	{
		void *p = ::mmap(nullptr, len, prot, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return err("mmap of " + what + ": " + strerror(errno));
		return Mapping(p, len);
	}

	void *get() const { return addr_; }
	void *data() const { return addr_; }
	template <typename T> T *as() const { return static_cast<T *>(addr_); }
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
