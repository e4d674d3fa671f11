# A study records the CPU kernels its trials ran with; continuing it under other kernels warns once,
# naming both, and continuing it under the same ones says nothing. ATEN_CPU_CAPABILITY=default is a
# kernel change every x86-64 machine can make (OPENBLAS_CORETYPE=SkylakeX needs AVX-512).
set(common --data ${DATA} --epochs 1 --train-limit 64 --test-limit 50 --threads 1 --trials 1
           --enqueue-notebook 0 --storage sqlite:///${WORK}/kernels.sqlite3)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
function(run_study label)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${ARGN} ${EXE} ${common}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mnist_study (${label}) failed:\n${out}${err}")
  endif()
  set(err "${err}" PARENT_SCOPE)
endfunction()

run_study("first run" ATEN_CPU_CAPABILITY=avx2)
if(err MATCHES "warning")
  message(FATAL_ERROR "a new study warned:\n${err}")
endif()
run_study("same kernels" ATEN_CPU_CAPABILITY=avx2)
if(err MATCHES "warning")
  message(FATAL_ERROR "continuing under the same kernels warned:\n${err}")
endif()
run_study("other kernels" ATEN_CPU_CAPABILITY=default)
string(REGEX MATCHALL "normlab: warning:" warnings "${err}")
list(LENGTH warnings n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one warning, got ${n}:\n${err}")
endif()
if(NOT err MATCHES "normlab: warning: study 'MNIST' was run on cpu with OpenBLAS [^,]+, ATen AVX2, 1 thread\\(s\\)[^\n]*this process runs on cpu with OpenBLAS [^,]+, ATen NO_AVX, 1 thread\\(s\\)[^\n]*not be bit-identical[^\n]*ATEN_CPU_CAPABILITY=avx2")
  message(FATAL_ERROR "the warning does not name ATen AVX2 (recorded) and NO_AVX (this run) and the pinning:\n${err}")
endif()
message(STATUS "warned once, naming both kernels")
