# mnist_study refuses bad input with a clear message and leaves stored trials alone.
set(common --data ${DATA} --epochs 1 --train-limit 128 --test-limit 64 --threads 1)
function(expect_error what expected)
  execute_process(COMMAND ${EXE} ${common} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${what}: expected an error, got success:\n${out}${err}")
  endif()
  if(NOT err MATCHES "${expected}")
    message(FATAL_ERROR "${what}: expected the message to match '${expected}', got:\n${err}")
  endif()
  message(STATUS "${what}: ${err}")
endfunction()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
expect_error("malformed storage URL" "mysql://x.*sqlite:///" --storage mysql://x --trials 1)
# Nothing listens on port 1: the message names the server (or, in a build without libpq, says that
# PostgreSQL is not supported), never the password.
expect_error("unreachable PostgreSQL server"
  "(cannot connect to PostgreSQL at host 127.0.0.1 port 1 database 'optuna' user 'u'|no PostgreSQL support)"
  --storage postgresql://u:s3cret-pw@127.0.0.1:1/optuna --trials 1)
execute_process(COMMAND ${EXE} ${common} --storage postgresql://u:s3cret-pw@127.0.0.1:1/optuna --trials 1
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if("${out}${err}" MATCHES "s3cret-pw")
  message(FATAL_ERROR "the PostgreSQL password reached mnist_study's output:\n${out}${err}")
endif()
file(WRITE ${WORK}/not-a-study.sqlite3 "this is not a database\n")
expect_error("a file that is no study database" "not-a-study.sqlite3" --storage sqlite:///${WORK}/not-a-study.sqlite3 --trials 1)
expect_error("a study that must exist" "nope" --storage sqlite:///${WORK}/s.sqlite3 --study-name nope --resume-only 1 --trials 1)
if(EXISTS ${WORK}/s.sqlite3)
  message(FATAL_ERROR "--resume-only 1 created the missing database ${WORK}/s.sqlite3")
endif()
# Numbers out of their flag's range are refused before any work, naming the flag (issue 14).
expect_error("an infinite heartbeat" "--heartbeat: expects seconds" --storage sqlite:///${WORK}/h.sqlite3 --heartbeat inf --trials 1)
expect_error("a heartbeat past 1e8 s" "--heartbeat: expects seconds, > 0 and <= 1e8" --storage sqlite:///${WORK}/h.sqlite3 --heartbeat 1e10 --trials 1)
expect_error("max-trials past int" "--max-trials: Value 2147483648 not in range 0 to 2147483647" --storage sqlite:///${WORK}/h.sqlite3 --max-trials 2147483648 --trials 1)
expect_error("epochs past int" "--epochs: Value 4294967297 not in range 1 to 2147483647" --storage sqlite:///${WORK}/h.sqlite3 --epochs 4294967297 --trials 1)
expect_error("resume-only not 0 or 1" "--resume-only: Value 2 not in range 0 to 1" --storage sqlite:///${WORK}/h.sqlite3 --resume-only 2 --trials 1)
if(EXISTS ${WORK}/h.sqlite3)
  message(FATAL_ERROR "a refused flag still created the study database ${WORK}/h.sqlite3")
endif()
expect_error("unknown sampler" "cmaes" --storage sqlite:///${WORK}/s.sqlite3 --sampler cmaes --trials 1)
expect_error("missing data" "does not exist" --data ${WORK}/no-data --storage :memory: --trials 1)
# A study with trials, then a bad request: the stored trials are still there afterwards.
execute_process(COMMAND ${EXE} ${common} --storage sqlite:///${WORK}/kept.sqlite3 --trials 2 --sampler random
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not make a study to keep")
endif()
expect_error("unknown pruner on an existing study" "pruner" --storage sqlite:///${WORK}/kept.sqlite3 --pruner hyperband --trials 1)
execute_process(COMMAND ${EXE} ${common} --storage sqlite:///${WORK}/kept.sqlite3 --trials 0
                ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT err MATCHES "2 trial\\(s\\) so far")
  message(FATAL_ERROR "the stored trials were not kept:\n${err}")
endif()
