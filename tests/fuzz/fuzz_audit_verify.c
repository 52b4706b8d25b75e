/*
 * fuzz_audit_verify — the audit-log verifier (filterctl audit verify).
 * Input: the bytes of an audit file, written to a memfd and verified alone
 * and as a chain of two copies of itself. Must not crash or leak; returns
 * 0, FD_ERULES with a diagnostic, or FD_EIO; the good-line count never
 * exceeds the lines in the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auditlog.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    if (memfd < 0) {
        memfd = memfd_create("fuzz-audit", 0);
        if (memfd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
    size_t nl = 1;
    for (size_t i = 0; i < size; i++)
        nl += data[i] == '\n';

    const char *paths[2] = {path, path};
    for (size_t n = 1; n <= 2; n++) {
        fd_diag diag = FD_DIAG_INIT;
        uint64_t lines = 0;
        int r = fd_audit_verify(paths, n, &diag, &lines);
        FZ_CHECK(r == 0 || r == FD_ERULES || r == FD_EIO, "verify returned %d", r);
        FZ_CHECK(r == 0 || diag.n > 0, "error %d without a diagnostic", r);
        FZ_CHECK(lines <= n * nl, "%lu good lines of %zu", (unsigned long)lines, n * nl);
        fd_diag_free(&diag);
    }
    return 0;
}
