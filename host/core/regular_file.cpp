#include "core/regular_file.h"

#include "core/fd.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lotto {

const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	}
	return "of an unknown type";
}

static std::string size_text(uint64_t n)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		return fmt::format("{} MiB", n >> 20);
	if (n >= (1u << 20))
		return fmt::format("{:.1f} MiB", double(n) / double(1u << 20));
	if (n >= 1024)
		return fmt::format("{:.0f} KiB", double(n) / 1024);
	return fmt::format("{} bytes", n);
}

static Error open_error(const std::string &path, int e, const ReadRules &r)
{
	Errc code = e == ENOENT || e == ENOTDIR ? Errc::not_found : e == EACCES || e == EPERM ? Errc::permission : Errc::failed;
	std::string who;
	if (code == Errc::permission && r.as && r.as->uid != 0)
		who = fmt::format(" (as uid {})", r.as->uid);
	return err(code, fmt::format("{}: cannot open: {}{}", path, strerror(e), who));
}

Result<FileText> read_regular_file(const std::string &path, const ReadRules &r)
{
	Fd opath, fd;
	struct stat st{};
	{
		std::optional<ActAs> as;
		if (r.as) {
			as.emplace(*r.as);
			if (as->error())
				return err(as->error()->code, path + ": " + as->error()->msg);
		}
		opath = Fd(open(path.c_str(), O_PATH | O_CLOEXEC));
		if (!opath)
			return open_error(path, errno, r);
		if (fstat(opath.get(), &st) < 0)
			return err(fmt::format("{}: {}", path, strerror(errno)));
		if (S_ISDIR(st.st_mode))
			return err(Errc::not_regular, fmt::format("{}: is a directory, not a {}", path, r.what));
		if (!S_ISREG(st.st_mode))
			return err(Errc::not_regular, fmt::format("{}: not a regular file ({}); a {} must be one", path,
								  file_type_name(st.st_mode), r.what));
		if (uint64_t(st.st_size) > r.max_bytes)
			return err(Errc::too_large, fmt::format("{}: {} larger than {} ({})", path, r.what,
								size_text(r.max_bytes), size_text(uint64_t(st.st_size))));
		if (st.st_size == 0 && !r.allow_empty)
			return err(Errc::invalid, fmt::format("{}: is empty (its size is 0), not a {}", path, r.what));
		// the very inode checked above, now for reading
		fd = Fd(open(fmt::format("/proc/self/fd/{}", opath.get()).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
		if (!fd && errno == ENOENT) {
			// no /proc: open the path again and make sure it is the same file
			fd = Fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
			struct stat again{};
			if (fd && (fstat(fd.get(), &again) < 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino))
				return err(Errc::failed, path + ": changed while it was being opened; try again");
		}
		if (!fd)
			return open_error(path, errno, r);
	}
	FileText out;
	out.owner = st.st_uid;
	size_t want = size_t(st.st_size);
	out.text.resize(want + 1);	// one byte more: a file that grew is noticed
	size_t got = 0;
	for (;;) {
		if (got == out.text.size()) {
			if (got > r.max_bytes)
				return err(Errc::too_large, fmt::format("{}: {} larger than {} (it grew while being read)",
									path, r.what, size_text(r.max_bytes)));
			out.text.resize(std::min(got * 2, r.max_bytes + 1));
		}
		ssize_t n = read(fd.get(), out.text.data() + got, out.text.size() - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err(fmt::format("{}: read error: {}", path, strerror(errno)));
		if (n == 0)
			break;
		got += size_t(n);
	}
	out.text.resize(got);
	if (got == 0 && !r.allow_empty)
		return err(Errc::invalid, fmt::format("{}: is empty, not a {}", path, r.what));
	return out;
}

} // namespace lotto
