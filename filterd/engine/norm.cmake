# norm.cmake — the normalizer and its generated tables (included by
# filterd/engine/CMakeLists.txt).
#
# gen_normtab (a host program linked with libutf8proc) reads the Unicode
# Character Database of the unicode-data package and Unihan's
# variant fields, OpenCC's character dictionaries (dumped with opencc_dict)
# and ICU's spoof checker (confusables), and writes normtab.c/normtab.h into
# the build tree.
# Sets in the including scope:
#   FD_NORM_SOURCES  norm.c and the generated normtab.c (absolute paths)
#   FD_NORM_DEPENDS  the target that generates the tables

set(FD_UNICODE_DIR "/usr/share/unicode" CACHE PATH
    "Unicode Character Database (PropList.txt, DerivedCoreProperties.txt, Unihan_*.txt.bz2)")
set(FD_OPENCC_DIR "/usr/share/opencc" CACHE PATH
    "OpenCC's compiled dictionaries (TSCharacters.ocd2, JPVariantsRev.ocd2)")

find_program(FD_BZIP2 bzip2 REQUIRED)
find_program(FD_OPENCC_DICT opencc_dict)
if(NOT FD_OPENCC_DICT)
  message(FATAL_ERROR "normalizer: opencc_dict not found (install opencc)")
endif()
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc icu-i18n)

set(_fd_norm_gen_dir ${CMAKE_CURRENT_BINARY_DIR}/normdata)
file(MAKE_DIRECTORY ${_fd_norm_gen_dir})
set(_fd_unihan_files Unihan_Variants Unihan_OtherMappings Unihan_DictionaryLikeData)
foreach(_f PropList.txt DerivedCoreProperties.txt)
  if(NOT EXISTS ${FD_UNICODE_DIR}/${_f})
    message(FATAL_ERROR "normalizer: ${FD_UNICODE_DIR}/${_f} not found (install unicode-data, "
                        "or set FD_UNICODE_DIR)")
  endif()
endforeach()

set(_fd_norm_data)
foreach(_f ${_fd_unihan_files})
  if(NOT EXISTS ${FD_UNICODE_DIR}/${_f}.txt.bz2)
    message(FATAL_ERROR "normalizer: ${FD_UNICODE_DIR}/${_f}.txt.bz2 not found (install "
                        "unicode-data, or set FD_UNICODE_DIR)")
  endif()
  add_custom_command(
    OUTPUT ${_fd_norm_gen_dir}/${_f}.txt
    COMMAND ${FD_BZIP2} -dc ${FD_UNICODE_DIR}/${_f}.txt.bz2 > ${_fd_norm_gen_dir}/${_f}.txt
    DEPENDS ${FD_UNICODE_DIR}/${_f}.txt.bz2
    COMMENT "Decompressing ${_f}.txt"
    VERBATIM)
  list(APPEND _fd_norm_data ${_fd_norm_gen_dir}/${_f}.txt)
endforeach()
foreach(_f TSCharacters JPVariantsRev)
  if(NOT EXISTS ${FD_OPENCC_DIR}/${_f}.ocd2)
    message(FATAL_ERROR "normalizer: ${FD_OPENCC_DIR}/${_f}.ocd2 not found (install opencc, "
                        "or set FD_OPENCC_DIR)")
  endif()
  add_custom_command(
    OUTPUT ${_fd_norm_gen_dir}/${_f}.txt
    COMMAND ${FD_OPENCC_DICT} -i ${FD_OPENCC_DIR}/${_f}.ocd2 -o ${_fd_norm_gen_dir}/${_f}.txt
            -f ocd2 -t text
    DEPENDS ${FD_OPENCC_DIR}/${_f}.ocd2
    COMMENT "Dumping OpenCC's ${_f} as text"
    VERBATIM)
  list(APPEND _fd_norm_data ${_fd_norm_gen_dir}/${_f}.txt)
endforeach()

# The generator is a build tool: never sanitized, never cross-compiled here.
add_executable(gen_normtab ${CMAKE_CURRENT_SOURCE_DIR}/gen/gen_normtab.c)
target_link_libraries(gen_normtab PRIVATE PkgConfig::UTF8PROC PkgConfig::ICU)
target_compile_options(gen_normtab PRIVATE -fno-sanitize=all)
target_link_options(gen_normtab PRIVATE -fno-sanitize=all)

add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/normtab.c ${CMAKE_CURRENT_BINARY_DIR}/normtab.h
  COMMAND gen_normtab ${FD_UNICODE_DIR} ${_fd_norm_gen_dir}
          ${CMAKE_CURRENT_BINARY_DIR}/normtab.c ${CMAKE_CURRENT_BINARY_DIR}/normtab.h
  DEPENDS gen_normtab ${_fd_norm_data}
          ${FD_UNICODE_DIR}/PropList.txt ${FD_UNICODE_DIR}/DerivedCoreProperties.txt
  COMMENT "Generating the normalizer tables (normtab.c)"
  VERBATIM)

add_custom_target(fd_normtab DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/normtab.c
                                     ${CMAKE_CURRENT_BINARY_DIR}/normtab.h)

set(FD_NORM_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/norm.c
  ${CMAKE_CURRENT_BINARY_DIR}/normtab.c)
set(FD_NORM_DEPENDS fd_normtab)
