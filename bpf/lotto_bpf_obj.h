/* The BPF object, embedded by bpf/CMakeLists.txt. */
#pragma once
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
extern const unsigned char lotto_bpf_obj[];
extern const size_t lotto_bpf_obj_len;
#ifdef __cplusplus
}
#endif
