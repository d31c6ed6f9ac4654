/* crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum
 * of journal records. Chosen over CRC-32 because x86-64 computes it in hardware
 * (SSE4.2 crc32 instruction) and it detects more error patterns in the record
 * sizes we write. Check value: crc32c("123456789") == 0xE3069283. */
#ifndef BATTLED_JOURNAL_CRC32C_H
#define BATTLED_JOURNAL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 for a fresh checksum) over len bytes of data and returns the
 * new value, so a checksum can be computed in pieces. Thread-safe; the table
 * and CPU probe are set up once on first use. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len);

/* The same checksum from the table code alone, whatever the CPU: exposed so
 * tests can check that the hardware and table paths agree. */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t len);

/* crc32c_extend(0, data, len). */
uint32_t crc32c(const void *data, size_t len);

#endif
