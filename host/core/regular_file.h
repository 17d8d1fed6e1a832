// regular_file.h — the one way lotto-host reads a file it is told about
// (policies, the state file, the config file): never blocking, never more
// than a stated size, only regular files, and, when a client asked, with
// that client's rights.
//
// The path is first opened with O_PATH (no open of a device happens, so a
// FIFO cannot block and /dev/watchdog cannot arm), its type and size are
// checked on that descriptor, and only a regular file is then opened for
// reading, through /proc/self/fd (the same inode: a path swapped meanwhile
// changes nothing), non-blocking. Reading stops at the size limit even if
// the file grows while it is read.
#pragma once

#include "core/credentials.h"
#include "core/result.h"

#include <string>
#include <sys/types.h>

namespace lotto {

struct FileText {
	std::string text;
	uid_t owner = 0;	// st_uid of what was read (after symlinks)
};

struct ReadRules {
	size_t max_bytes = 0;
	bool allow_empty = true;	// false: an empty file (or a /proc file, whose size says 0) is an error
	const Credentials *as = nullptr;	// open with these rights (nullptr: the host's)
	const char *what = "file";	// "policy file", "state file": for messages
};

// Errors (kind, one line starting with the path): not_found, permission,
// not_regular ("not a regular file (a FIFO)", "is a directory"), too_large,
// invalid (empty), failed (I/O).
Result<FileText> read_regular_file(const std::string &path, const ReadRules &rules);

// "a FIFO", "a character device", ... for a st_mode
const char *file_type_name(mode_t mode);

} // namespace lotto
