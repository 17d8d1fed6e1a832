// limits.h — every bound lotto-host puts on what clients, files and policy
// scripts can make it do, in one place. docs/operations.md ("Threat model")
// states them for operators; the defaults of ServerConfig, EngineOptions and
// the readers come from here. The ranges of values (tickets, boosts, policy
// intervals and budgets) are in bpf/lotto_limits.h.
#pragma once

#include "bpf/lotto_limits.h"

#include <chrono>
#include <cstddef>

namespace lotto::limits {

// ---- the control socket (docs/protocol.md)
inline constexpr size_t kMaxRequestLine = 64 * 1024;	// bytes, '\n' excluded
inline constexpr size_t kMaxBufferedInput = 2 * kMaxRequestLine;	// read ahead while a request is answered
inline constexpr size_t kMaxClients = 64;		// connections of non-admins, all users
inline constexpr size_t kMaxClientsPerUser = 8;		// connections of one non-root uid
inline constexpr size_t kAdminReserve = 8;		// more connections only admins get
inline constexpr std::chrono::seconds kClientIdleTimeout{60};	// no complete request: closed
inline constexpr size_t kMaxPendingOutput = 8u << 20;	// unread reply bytes before a client is dropped

// ---- the metrics endpoint (--metrics ADDR:PORT; off by default)
inline constexpr size_t kMaxMetricsRequest = 8 * 1024;	// request line and headers, bytes
inline constexpr size_t kMaxMetricsConnections = 8;	// open at once; more are refused
inline constexpr std::chrono::seconds kMetricsTimeout{10};	// a connection's whole life
inline constexpr size_t kDefaultMetricsTasks = 10;	// --metrics-top: tasks with series of their own
inline constexpr size_t kMaxMetricsTasks = 1000;
inline constexpr size_t kMaxMetricsPolicies = 64;	// policies with series of their own

// ---- files lotto-host reads (regular files only, size checked first)
inline constexpr size_t kMaxPolicyFile = 1u << 20;
inline constexpr size_t kMaxStateFile = 16u << 20;	// 131072 pins are ~2.5 MiB
inline constexpr size_t kMaxConfigFile = 1u << 20;

// ---- policies
inline constexpr std::chrono::milliseconds kMaxBudget{LOTTO_BUDGET_MS_MAX};	// any tick, init or `lua`
inline constexpr size_t kMaxQueuedEvals = 128;		// `lua` requests waiting, all policies

} // namespace lotto::limits
