# One CTest test per libFuzzer target (fuzz/<name>_fuzz.cpp), label "fuzz": scripts/fuzz.sh builds it
# with clang (ASan + UBSan) into this build tree and fuzzes it from its seed corpus for
# $AX_FUZZ_SECONDS (default 20) seconds. Building them takes most of their time, so the default run
# (scripts/test.sh: ctest -LE fuzz) leaves them out; `ctest -L fuzz` runs them. Long fuzzing
# campaigns: scripts/fuzz.sh NAME. Not registered where clang++ is missing.
find_program(AX_FUZZ_CLANGXX clang++)
if(AX_FUZZ_CLANGXX)
  file(GLOB AX_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cpp)
  foreach(src ${AX_FUZZ_TARGETS})
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_fuzz$" "" name ${stem})
    add_test(NAME fuzz_${name}
      COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz.sh --smoke ${name})
    set_tests_properties(fuzz_${name} PROPERTIES
      LABELS fuzz
      TIMEOUT 900
      ENVIRONMENT "AX_FUZZ_BUILD_DIR=${CMAKE_BINARY_DIR}/fuzz-build")
  endforeach()
else()
  message(STATUS "clang++ not found: fuzz smoke tests are not registered")
endif()
