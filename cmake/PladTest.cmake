# plad_add_test(NAME tst_foo SOURCES tst_foo.cpp [LIBS ...] LABELS core [TIMEOUT s] [NO_PCH])
# One Qt Test executable per topic, registered with CTest, run with QT_QPA_PLATFORM=offscreen
# and two Torch threads. Tests find their data through PLAD_TEST_DATA (tests/data).
function(plad_add_test)
  cmake_parse_arguments(T "NO_PCH" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE plad_testsupport Qt6::Test ${T_LIBS})
  target_compile_definitions(${T_NAME} PRIVATE PLAD_CLI_PATH="$<TARGET_FILE:plad>")
  if(NOT T_NO_PCH)
    target_precompile_headers(${T_NAME} REUSE_FROM plad_testsupport)
  endif()
  set_target_properties(${T_NAME} PROPERTIES AUTOMOC ON)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES
    LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;PLAD_THREADS=2")
endfunction()
