// metrics.h — lotto-host's state as Prometheus text exposition (format
// 0.0.4), for the --metrics endpoint (metrics_server.h). Names follow the
// Prometheus conventions: the lotto_ prefix, counters end in _total, times
// in seconds. Label values are bounded: one series per CPU, per policy (at
// most limits::kMaxMetricsPolicies) and per task of the `top_tasks` that got
// the most CPU in the last sample interval. docs/operations.md lists them.
#pragma once

#include "control/host_api.h"

#include <string>

namespace lotto::control {

std::string render_metrics(HostApi &host, size_t top_tasks);

// a label value as the text format wants it: \ " and newline escaped, every
// other control character and each byte that is not UTF-8 replaced by '?'
std::string metric_label_value(std::string_view v);

} // namespace lotto::control
