// options.h — lotto-host's command line.
#pragma once

#include "core/backend.h"
#include "core/result.h"

#include <string>
#include <vector>

namespace lotto {

struct Options {
	std::string backend = "auto";	// kernel | sim | auto
	BackendConfig backend_cfg;
	std::vector<std::string> policies;
	std::string log_level = "info";
	bool help = false;
	bool version = false;
};

Result<Options> parse_options(int argc, char **argv);
const char *usage();

} // namespace lotto
