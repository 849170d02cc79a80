# scripts/build-llama-cpp.sh picks llama.cpp's ISA options from the CPU flags; --print-isa says
# which without building. Fixture cpuinfo files: an AVX2-only CPU (no AVX-512 option may be on,
# or the binaries die with SIGILL there) and a Sapphire Rapids (AMX off unless asked for).
set(AX_LLAMA_BUILD ${CMAKE_SOURCE_DIR}/scripts/build-llama-cpp.sh)
set(AX_CPUINFO ${CMAKE_CURRENT_SOURCE_DIR}/scripts)
add_test(NAME build_llama_cpp_isa_avx2_only COMMAND bash ${AX_LLAMA_BUILD} --print-isa)
set_tests_properties(build_llama_cpp_isa_avx2_only PROPERTIES LABELS scripts
  ENVIRONMENT LLAMA_CPP_CPUINFO=${AX_CPUINFO}/cpuinfo-avx2-only.txt
  PASS_REGULAR_EXPRESSION "on:  SSE4.2 AVX AVX2 FMA F16C BMI2\n  off: AVX-VNNI AVX-512 AVX512-VNNI AVX512-BF16 AVX512-VBMI AMX")
add_test(NAME build_llama_cpp_isa_amx_off COMMAND bash ${AX_LLAMA_BUILD} --print-isa)
set_tests_properties(build_llama_cpp_isa_amx_off PROPERTIES LABELS scripts
  ENVIRONMENT LLAMA_CPP_CPUINFO=${AX_CPUINFO}/cpuinfo-sapphire-rapids.txt
  PASS_REGULAR_EXPRESSION "on:  SSE4.2 AVX AVX2 FMA F16C BMI2 AVX-VNNI AVX-512 AVX512-VNNI AVX512-BF16 AVX512-VBMI\n  off: AMX-TILE AMX-INT8 AMX-BF16")
add_test(NAME build_llama_cpp_isa_amx_asked COMMAND bash ${AX_LLAMA_BUILD} --print-isa)
set_tests_properties(build_llama_cpp_isa_amx_asked PROPERTIES LABELS scripts
  ENVIRONMENT "LLAMA_CPP_CPUINFO=${AX_CPUINFO}/cpuinfo-sapphire-rapids.txt;LLAMA_CPP_AMX=1"
  PASS_REGULAR_EXPRESSION "AVX512-VBMI AMX-TILE AMX-INT8 AMX-BF16\n  off: none")
add_test(NAME build_llama_cpp_isa_capped COMMAND bash ${AX_LLAMA_BUILD} --print-isa)
set_tests_properties(build_llama_cpp_isa_capped PROPERTIES LABELS scripts
  ENVIRONMENT "LLAMA_CPP_CPUINFO=${AX_CPUINFO}/cpuinfo-sapphire-rapids.txt;LLAMA_CPP_ISA=avx2"
  PASS_REGULAR_EXPRESSION "capped at avx2 by LLAMA_CPP_ISA.*\n  on:  SSE4.2 AVX AVX2 FMA F16C BMI2\n  off: AVX-VNNI AVX-512")
