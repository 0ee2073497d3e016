# Fails when any object in OBJECTS defines a weak function (nm type W): the wide-vector
# hash builds must not emit inline or template code that the linker could pick for the
# whole library (see src/kv/CMakeLists.txt). Weak data (V, u) holds no instructions; TSan
# builds add one (DW.ref.__gxx_personality_v0). Run with cmake -DNM=... -DOBJECTS=... -P.
foreach(obj IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} -C --defined-only ${obj} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${obj}")
  endif()
  string(REGEX MATCHALL "[^\n]* W [^\n]*" weak "${syms}")
  if(weak)
    string(REPLACE ";" "\n  " weak "${weak}")
    message(FATAL_ERROR "${obj} defines weak functions:\n  ${weak}")
  endif()
  string(REGEX MATCHALL " [Tt] " code "${syms}")
  list(LENGTH code n)
  message(STATUS "${obj}: ${n} functions, none weak")
endforeach()
