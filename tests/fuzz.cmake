# One CTest test per libFuzzer target (fuzz/<name>_fuzz.cpp): scripts/fuzz.sh builds it with clang
# (ASan + UBSan) into this build tree and fuzzes it for 20 seconds from its seed corpus of real
# model files. Skipped where clang++ is missing.
find_program(AX_FUZZ_CLANGXX clang++)
if(AX_FUZZ_CLANGXX)
  file(GLOB AX_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cpp)
  foreach(src ${AX_FUZZ_TARGETS})
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_fuzz$" "" name ${stem})
    add_test(NAME fuzz_${name}
      COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz.sh --smoke ${name} 20)
    set_tests_properties(fuzz_${name} PROPERTIES
      LABELS fuzz
      TIMEOUT 900
      ENVIRONMENT "AX_FUZZ_BUILD_DIR=${CMAKE_BINARY_DIR}/fuzz-build")
  endforeach()
else()
  message(STATUS "clang++ not found: fuzz smoke tests are not registered")
endif()
