# plad_add_test(NAME tst_foo SOURCES tst_foo.cpp [LIBS ...] LABELS core [TIMEOUT s] [TORCH] [NO_PCH])
# One Qt Test executable per topic, registered with CTest, run with QT_QPA_PLATFORM=offscreen
# and two Torch threads. Tests find their data through PLAD_TEST_DATA (tests/data). TORCH tests
# reuse the Torch + Qt Test precompiled header, the others the Qt Test one.
function(plad_add_test)
  cmake_parse_arguments(T "NO_PCH;TORCH" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  if(T_TORCH)
    target_link_libraries(${T_NAME} PRIVATE plad_testsupport_torch ${T_LIBS})
  else()
    target_link_libraries(${T_NAME} PRIVATE plad_testsupport ${T_LIBS})
  endif()
  target_compile_definitions(${T_NAME} PRIVATE PLAD_CLI_PATH="$<TARGET_FILE:plad>")
  if(NOT T_NO_PCH)
    if(T_TORCH)
      target_precompile_headers(${T_NAME} REUSE_FROM plad_testsupport_torch)
    else()
      target_precompile_headers(${T_NAME} REUSE_FROM plad_testsupport)
    endif()
  endif()
  # The test's own source includes its .moc; the (empty) generated mocs_compilation.cpp needs
  # no precompiled header.
  set_target_properties(${T_NAME} PROPERTIES AUTOMOC ON)
  set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_autogen/mocs_compilation.cpp
    TARGET_DIRECTORY ${T_NAME} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if("fast" IN_LIST T_LABELS)
    set_property(GLOBAL APPEND PROPERTY PLAD_FAST_TESTS ${T_NAME})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES
    LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;PLAD_THREADS=2")
endfunction()
