# The backend and model tests (conformance, golden logits, whole-model batch invariance) once more
# with the engine capped to each narrower kernel tier (AX_CPU_TIER), so a wider CPU also runs the
# AVX2 and AVX2 + AVX-VNNI kernels end to end. On a CPU without the tier the cap falls to the widest
# one below it, which the plain runs already cover. The kernel tests themselves run every tier
# this CPU has side by side in the plain runs; scripts/test-kernel-tiers.sh is the strict run.
foreach(tier avx2 avx2-vnni)
  foreach(layer backend model)
    add_test(NAME ${layer}_tests_capped_to_${tier} COMMAND ax_test_${layer} --gtest_filter=-*cuda*:*Cuda*)
    set_tests_properties(${layer}_tests_capped_to_${tier} PROPERTIES LABELS "${layer};kernel_tiers"
      ENVIRONMENT AX_CPU_TIER=${tier})
  endforeach()
endforeach()
