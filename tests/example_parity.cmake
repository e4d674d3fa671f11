# Runs build/examples/seed_mnist on the fixture data for each one-epoch case of a notebook_accuracy
# golden file and checks that it prints the notebook's count of correct answers.
#   -DGOLDEN=FILE       the committed golden (ctest pins the kernels it records)
#   -DGOLDEN_ROOT=DIR   live goldens: DIR/<openblas core>-<ATen capability>/notebook_accuracy.txt, for
#                       the kernels seed_mnist reports in this environment
# Either way seed_mnist's kernels must be the ones the golden records (a mismatch fails, naming both).
execute_process(COMMAND ${EXE} --threads 1 --device cpu --show-kernels 1
                OUTPUT_VARIABLE kernels_out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT kernels_out MATCHES "kernels: openblas_core=([^ ]+) aten_capability=([^ ]+) threads=1 ")
  message(FATAL_ERROR "seed_mnist --show-kernels 1 failed (${rc}):\n${kernels_out}\n${err}")
endif()
set(core ${CMAKE_MATCH_1})
set(capability ${CMAKE_MATCH_2})
if(GOLDEN_ROOT)
  set(GOLDEN ${GOLDEN_ROOT}/${core}-${capability}/notebook_accuracy.txt)
endif()
if(NOT EXISTS ${GOLDEN})
  message(FATAL_ERROR "no golden file ${GOLDEN} (live goldens come from the ctest fixture parity.live_goldens)")
endif()
file(STRINGS ${GOLDEN} made_with REGEX "^# kernels: ")
if(NOT made_with MATCHES "openblas_core=${core} aten_capability=${capability} threads=1")
  message(FATAL_ERROR "${GOLDEN} was made with '${made_with}', but seed_mnist runs OpenBLAS ${core}, "
                      "ATen ${capability}, 1 thread: run it with the golden's kernels pinned "
                      "(OPENBLAS_CORETYPE, ATEN_CPU_CAPABILITY; docs/parity.md)")
endif()
message(STATUS "${GOLDEN}: ${made_with}; seed_mnist runs the same kernels")

file(STRINGS ${GOLDEN} lines REGEX "^case .*epochs=1 ")
set(checked 0)
foreach(line IN LISTS lines)
  string(REGEX MATCH "mean=([^ ]+)" _ "${line}")
  set(mean ${CMAKE_MATCH_1})
  string(REGEX MATCH "std=([^ ]+)" _ "${line}")
  set(std ${CMAKE_MATCH_1})
  string(REGEX MATCH "train_limit=([0-9]+)" _ "${line}")
  set(train ${CMAKE_MATCH_1})
  string(REGEX MATCH "test_limit=([0-9]+)" _ "${line}")
  set(test ${CMAKE_MATCH_1})
  string(REGEX MATCH "correct=([0-9]+)" _ "${line}")
  set(correct ${CMAKE_MATCH_1})
  execute_process(COMMAND ${EXE} --data ${DATA} --mean ${mean} --std ${std} --epochs 1
                    --train-limit ${train} --test-limit ${test} --threads 1 --device cpu
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "seed_mnist failed (${rc}):\n${out}\n${err}")
  endif()
  if(NOT out MATCHES "correct=${correct} total=${test}")
    message(FATAL_ERROR "mean=${mean} std=${std}: expected correct=${correct}, seed_mnist printed:\n${out}")
  endif()
  if(NOT out MATCHES "\naccuracy=0\\.[0-9][0-9][0-9][0-9]\n$")
    message(FATAL_ERROR "the last line is not accuracy=0.XXXX:\n${out}")
  endif()
  message(STATUS "mean=${mean} std=${std}: correct=${correct}/${test} as the notebook")
  math(EXPR checked "${checked} + 1")
endforeach()
if(checked LESS 3)
  message(FATAL_ERROR "expected at least 3 one-epoch cases in ${GOLDEN}, found ${checked}")
endif()
