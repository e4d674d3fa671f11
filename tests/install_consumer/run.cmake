# Installs normlab from NORMLAB_SOURCE into WORK/prefix, then builds and runs a consumer project
# that finds it with find_package(normlab).
file(REMOVE_RECURSE ${WORK})
set(gen -G "${GENERATOR}")
function(step)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()
step(${CMAKE_COMMAND} ${gen} -S ${NORMLAB_SOURCE} -B ${WORK}/normlab -DCMAKE_INSTALL_PREFIX=${WORK}/prefix
     "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}" -DNORMLAB_BUILD_TESTS=OFF -DNORMLAB_BUILD_EXAMPLES=OFF
     -DNORMLAB_BUILD_BENCHMARKS=OFF -DNORMLAB_BUILD_COMPILED=OFF)
step(${CMAKE_COMMAND} --install ${WORK}/normlab)
step(${CMAKE_COMMAND} ${gen} -S ${CMAKE_CURRENT_LIST_DIR}/project -B ${WORK}/consumer
     "-DCMAKE_PREFIX_PATH=${WORK}/prefix;${PREFIX_PATH}" -DCMAKE_BUILD_TYPE=Release)
step(${CMAKE_COMMAND} --build ${WORK}/consumer)
step(${WORK}/consumer/consumer)
step(${WORK}/consumer/study_only)
# find_package(normlab COMPONENTS search study) on a machine without LibTorch (made unfindable here).
step(${CMAKE_COMMAND} ${gen} -S ${CMAKE_CURRENT_LIST_DIR}/study_project -B ${WORK}/study_consumer
     "-DCMAKE_PREFIX_PATH=${WORK}/prefix;${PREFIX_PATH}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON)
step(${CMAKE_COMMAND} --build ${WORK}/study_consumer)
step(${WORK}/study_consumer/study_only)
