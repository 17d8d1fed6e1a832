// shared_region.h — MAP_SHARED|MAP_ANONYMOUS memory owned by the engine and
// inherited by the policy workers it forks: a policy's ticket input/output
// arrays and its runtime snapshots (policy_shm.h).
#pragma once

#include "core/result.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <utility>

namespace lotto::policy {

class SharedRegion {
public:
	SharedRegion() = default;
	~SharedRegion() { reset(); }
	SharedRegion(SharedRegion &&o) noexcept
		: p_(std::exchange(o.p_, nullptr)), len_(std::exchange(o.len_, 0)) {}
	SharedRegion &operator=(SharedRegion &&o) noexcept
	{
		if (this != &o) {
			reset();
			p_ = std::exchange(o.p_, nullptr);
			len_ = std::exchange(o.len_, 0);
		}
		return *this;
	}
	SharedRegion(const SharedRegion &) = delete;
	SharedRegion &operator=(const SharedRegion &) = delete;

	// zero-filled; pages cost nothing until touched
	static Result<SharedRegion> make(size_t len)
	{
		void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return err("cannot map " + std::to_string(len) + " bytes of shared memory: " + strerror(errno));
		SharedRegion r;
		r.p_ = p;
		r.len_ = len;
		return r;
	}

	void *data() const { return p_; }
	size_t size() const { return len_; }
	template <typename T> T *as() const { return static_cast<T *>(p_); }

private:
	void reset()
	{
		if (p_)
			munmap(p_, len_);
		p_ = nullptr;
		len_ = 0;
	}

	void *p_ = nullptr;
	size_t len_ = 0;
};

} // namespace lotto::policy
