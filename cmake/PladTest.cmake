# plad_add_test(NAME tst_foo SOURCES tst_foo.cpp LIBS plad_core LABELS core [TIMEOUT s])
# One Qt Test executable per topic, registered with CTest. Tests find their data through
# PLAD_TEST_DATA (tests/data in the source tree) and run with QT_QPA_PLATFORM=offscreen.
function(plad_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE Qt6::Test ${T_LIBS})
  target_compile_definitions(${T_NAME} PRIVATE
    PLAD_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data"
    PLAD_CLI_PATH="$<TARGET_FILE:plad>"
    QT_NO_KEYWORDS)
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
