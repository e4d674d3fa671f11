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
# Bad numbers are refused before any work, naming the flag (issue 14: --test-batch 0 divided by zero).
foreach(bad "--test-batch;0" "--test-batch;-1" "--batch;0" "--epochs;4294967297" "--limit;-5"
            "--workers;-1" "--skip-corrupt;2" "--test-batch;99999999999999999999" "--mean;inf")
  list(GET bad 0 flag)
  execute_process(COMMAND ${EVAL} --data ${WORK}/folder ${bad} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "error: ${flag}(: Value|: expects a| expects a)" OR out MATCHES "accuracy")
    message(FATAL_ERROR "resnet_eval ${bad}: expected exit 1 naming ${flag}, got ${rc}:\n${out}\n${err}")
  endif()
endforeach()
foreach(bad "--test-batch;0" "--max-trials;2147483648" "--trials;-1")
  list(GET bad 0 flag)
  execute_process(COMMAND ${STUDY} --data ${WORK}/folder --storage sqlite:///${WORK}/bad.sqlite3 ${bad}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "error: ${flag}(: Value|: expects a| expects a)" OR EXISTS ${WORK}/bad.sqlite3)
    message(FATAL_ERROR "resnet_study ${bad}: expected exit 1 naming ${flag} and no study file, got ${rc}:\n${out}\n${err}")
  endif()
endforeach()
# A predictions file that cannot be written in full (a full disk) is an error, not a silent success.
if(EXISTS /dev/full)
  execute_process(COMMAND ${EVAL} --data ${WORK}/folder --threads 2 --device cpu --predictions /dev/full
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "could not write all of the predictions to '/dev/full'")
    message(FATAL_ERROR "resnet_eval --predictions /dev/full: expected exit 1, got ${rc}:\n${out}\n${err}")
  endif()
endif()
# A file name with quotes and commas stays one CSV field (RFC 4180: inner quotes doubled).
file(GLOB one_png ${IMAGES}/*.png)
list(GET one_png 0 one_png)
file(MAKE_DIRECTORY ${WORK}/quoted/only)
file(COPY_FILE ${one_png} "${WORK}/quoted/only/q\",=1+2,\".png")
execute_process(COMMAND ${EVAL} --data ${WORK}/quoted --threads 2 --device cpu --predictions ${WORK}/quoted.csv
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
file(READ ${WORK}/quoted.csv csv)
if(NOT rc EQUAL 0 OR NOT csv MATCHES "\n\"[^\n]*/only/q\"\",=1\\+2,\"\"\\.png\",0,0,")
  message(FATAL_ERROR "the quoted file name was not escaped (${rc}):\n${csv}\n${err}")
endif()
message(STATUS "resnet_eval: ${i} images, predictions written; resnet_study: 3 trials and a contour")
# A profile fills in only the flags not given: --profile notebook with --trials 2 runs 2 trials, not 100.
execute_process(COMMAND ${STUDY} --data ${WORK}/folder --storage sqlite:///${WORK}/profile.sqlite3 --profile notebook
                  --trials 2 --threads 2 --sampler random
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "2 trials \\(2 complete")
  message(FATAL_ERROR "resnet_study --profile notebook --trials 2 must run 2 trials (${rc}):\n${out}\n${err}")
endif()
