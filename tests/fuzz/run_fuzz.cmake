# run_fuzz.cmake — run one libFuzzer target for a bounded time (ctest).
#   cmake -DFUZZER=bin -DCORPUS=seed-dir -DWORK=dir -DSECONDS=20 -DMAX_LEN=70000 -P run_fuzz.cmake
# The seeds are copied to WORK/corpus (the fuzzer adds to it); crash, leak and
# timeout inputs land in WORK/. Fails on any finding or sanitizer report.
foreach(v FUZZER CORPUS WORK SECONDS MAX_LEN)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzz.cmake: -D${v}=... missing")
  endif()
endforeach()
if(NOT EXISTS ${FUZZER})
  message(FATAL_ERROR "run_fuzz.cmake: ${FUZZER} not built (cmake --build the build dir first)")
endif()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
file(GLOB _seeds ${CORPUS}/*)
file(COPY ${_seeds} DESTINATION ${WORK}/corpus)

set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
set(ENV{ASAN_OPTIONS} "detect_leaks=1:abort_on_error=0")
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -max_len=${MAX_LEN} -timeout=10
    -print_final_stats=1 -artifact_prefix=${WORK}/ ${WORK}/corpus
  RESULT_VARIABLE rc
  OUTPUT_FILE ${WORK}/fuzz.log ERROR_FILE ${WORK}/fuzz.log)
file(READ ${WORK}/fuzz.log log)
string(REGEX MATCHALL "(ERROR: [A-Za-z]+Sanitizer|runtime error:|ERROR: libFuzzer|[a-z]+_fuzz: )" reports "${log}")
file(GLOB artifacts ${WORK}/crash-* ${WORK}/leak-* ${WORK}/timeout-* ${WORK}/oom-* ${WORK}/slow-unit-*)
if(NOT rc EQUAL 0 OR reports OR artifacts)
  string(LENGTH "${log}" n)
  if(n GREATER 12000)
    math(EXPR from "${n} - 12000")
    string(SUBSTRING "${log}" ${from} -1 log)
  endif()
  message("${log}")
  message(FATAL_ERROR "fuzzer ${FUZZER} failed (exit ${rc}); inputs: ${artifacts}\n"
    "reproduce: ${FUZZER} <input>   (full log: ${WORK}/fuzz.log)")
endif()
string(REGEX MATCH "Done [0-9]+ runs in [0-9]+ second" done "${log}")
string(REGEX MATCHALL "stat::[a-z_]+: *[0-9]+" stats "${log}")
string(REPLACE ";" "\n  " stats "${stats}")
file(GLOB _c ${WORK}/corpus/*)
list(LENGTH _c nc)
message("${FUZZER}: ${done}s, no findings; corpus now ${nc} inputs\n  ${stats}")
