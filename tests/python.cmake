# The Python package's tests (tests/python, pytest): the in-process Engine and the HTTP Client
# against a real `ax-engine serve`, importing the package from <build>/python.
if(AX_HAVE_PYTHON AND TARGET ax-engine)
  add_test(NAME python_ax_engine
           COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/python)
  set_tests_properties(python_ax_engine PROPERTIES LABELS python TIMEOUT 600
    ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python;AX_ENGINE_BINARY=$<TARGET_FILE:ax-engine>;AX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()
