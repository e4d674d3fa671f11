# normlab's programs make idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) unless the user chose:
# seed_mnist restarts itself with the variable set and reports the policy it runs with.
function(policy_of out)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=OMP_WAIT_POLICY ${ARGN} ${EXE} --show-kernels 1
                  OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT text MATCHES "omp_wait_policy=([A-Za-z-]+)")
    message(FATAL_ERROR "seed_mnist --show-kernels 1 failed (${rc}):\n${text}${err}")
  endif()
  set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()
policy_of(by_default)
policy_of(chosen OMP_WAIT_POLICY=ACTIVE)
policy_of(kept NORMLAB_KEEP_OPENMP_DEFAULTS=1)
message(STATUS "default: ${by_default}; user's ACTIVE: ${chosen}; NORMLAB_KEEP_OPENMP_DEFAULTS=1: ${kept}")
if(NOT by_default STREQUAL "PASSIVE" OR NOT chosen STREQUAL "ACTIVE" OR NOT kept STREQUAL "libgomp-default")
  message(FATAL_ERROR "expected PASSIVE, ACTIVE and libgomp-default")
endif()
