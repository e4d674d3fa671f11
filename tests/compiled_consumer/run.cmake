# Builds benchmarks/variant_build/project (a one-file user project: two pipelines, a 4-trial TPE
# study in SQLite, a contour plot) against this build tree's normlab::compiled, runs it on the
# fixture data, and checks that its baseline count is the one the header-only seed_mnist example
# computes for the same run, bit for bit (the same correct count).
#   -DPROJECT=DIR -DWORK=DIR -DBUILD_TREE=DIR -DPREFIX_PATH=... -DGENERATOR=... -DDATA=DIR -DSEED_MNIST=EXE
function(step)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/run)
step(${CMAKE_COMMAND} -G "${GENERATOR}" -S ${PROJECT} -B ${WORK}/build
     "-DCMAKE_PREFIX_PATH=${BUILD_TREE};${PREFIX_PATH}" -DCMAKE_BUILD_TYPE=Release -DUSE_COMPILED=ON
     # the precompiled header pays off from the second build on; this test builds once
     -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON)
step(${CMAKE_COMMAND} --build ${WORK}/build)
execute_process(COMMAND ${WORK}/build/variant ${DATA} WORKING_DIRECTORY ${WORK}/run
                RESULT_VARIABLE rc OUTPUT_VARIABLE variant_out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the compiled variant program failed (${rc}):\n${variant_out}\n${err}")
endif()
message(STATUS "compiled variant program:\n${variant_out}")
if(NOT variant_out MATCHES "baseline: ([0-9]+)/500\n")
  message(FATAL_ERROR "no 'baseline: N/500' line in:\n${variant_out}")
endif()
set(compiled_correct ${CMAKE_MATCH_1})
if(NOT variant_out MATCHES "best: 0\\.[0-9][0-9][0-9][0-9]\n")
  message(FATAL_ERROR "no 'best: 0.XXXX' line (the study's best trial) in:\n${variant_out}")
endif()
if(NOT EXISTS ${WORK}/run/variant-contour.png OR NOT EXISTS ${WORK}/run/variant.db)
  message(FATAL_ERROR "the study's SQLite file or its contour plot is missing in ${WORK}/run")
endif()
# The same run header-only: variant.cpp's Baseline is seed_mnist's pipeline with these options.
step(${SEED_MNIST} --data ${DATA} --mean 0.1307 --std 0.3081 --epochs 1 --train-limit 1000
     --test-limit 500 --threads 2 --device cpu)
if(NOT out MATCHES "correct=([0-9]+) total=500")
  message(FATAL_ERROR "seed_mnist printed no count:\n${out}")
endif()
if(NOT CMAKE_MATCH_1 EQUAL compiled_correct)
  message(FATAL_ERROR "compiled baseline ${compiled_correct}/500, header-only seed_mnist ${CMAKE_MATCH_1}/500: "
                      "the two modes must compute the same bits")
endif()
message(STATUS "baseline ${compiled_correct}/500 in both modes")
