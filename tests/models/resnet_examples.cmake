# resnet_eval and resnet_study end to end on a small ImageFolder made of the committed test images
# (two classes), without weights (seeded init): the programs run, write predictions and a study.
file(REMOVE_RECURSE ${WORK})
file(GLOB images ${IMAGES}/*.jpg ${IMAGES}/*.png)
list(SORT images)
set(i 0)
foreach(image IN LISTS images)
  math(EXPR cls "${i} % 2")
  file(COPY ${image} DESTINATION ${WORK}/folder/class_${cls})
  math(EXPR i "${i} + 1")
endforeach()
execute_process(COMMAND ${EVAL} --data ${WORK}/folder --arch resnet18 --mean 0.5 --std 0.25 --threads 2
                  --device cpu --predictions ${WORK}/predictions.csv --compensation exact
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "correct=[0-9]+ total=${i} .*\naccuracy=[01]\\.[0-9][0-9][0-9][0-9]\n$")
  message(FATAL_ERROR "resnet_eval failed (${rc}):\n${out}\n${err}")
endif()
file(STRINGS ${WORK}/predictions.csv rows)
list(LENGTH rows n)
math(EXPR expected "${i} + 1")
if(NOT n EQUAL expected)
  message(FATAL_ERROR "predictions.csv has ${n} lines, expected ${expected} (header + one per image)")
endif()
list(GET rows 0 header)
if(NOT header STREQUAL "path,true_class,predicted_class,logit_0,logit_1")
  message(FATAL_ERROR "unexpected header: ${header}")
endif()
execute_process(COMMAND ${STUDY} --data ${WORK}/folder --storage sqlite:///${WORK}/resnet.sqlite3 --trials 3
                  --threads 2 --sampler random --plot ${WORK}/contour.svg
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "3 trials \\(3 complete" OR NOT EXISTS ${WORK}/contour.png)
  message(FATAL_ERROR "resnet_study failed (${rc}):\n${out}\n${err}")
endif()
execute_process(COMMAND ${EVAL} --data ${WORK}/folder --weights ${WORK}/no-such-weights.pt
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc EQUAL 0 OR NOT err MATCHES "no-such-weights.pt")
  message(FATAL_ERROR "a missing weights file must be an error naming it:\n${err}")
endif()
message(STATUS "resnet_eval: ${i} images, predictions written; resnet_study: 3 trials and a contour")
