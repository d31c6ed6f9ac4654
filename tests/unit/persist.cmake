# Persistence of the shards (owner: persist): the journal payload codec and recovery through the
# shard runtime's API (restart, reshard, resume, torn tail, damage, a file-size limit).
battled_add_test(NAME test_persist SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_persist.c
                 LIBS battled_shards LABELS unit TIMEOUT 120)
