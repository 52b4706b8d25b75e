/*
 * import.h — turn a vendor's keyword list into a rule file
 * (`filterctl rules import`).
 *
 * The list is one keyword per line, in UTF-8 (with or without a BOM),
 * UTF-16 with a BOM, or GB18030; an optional header line ("keyword",
 * "关键词", …) is dropped; of a tab-separated line only the first field is
 * the keyword. Keywords are trimmed, escaped where the rule grammar needs
 * it, and deduplicated after normalization (the `normalized` view's), so
 * `炸彈` and `炸弹` make one rule. Every dropped line is reported.
 */
#ifndef FD_IMPORT_H
#define FD_IMPORT_H

#include <stddef.h>
#include <stdio.h>

#include "rules.h"

typedef struct fd_import_opts {
    const char *category; /* @category of the output (the caller checks it exists) */
    fd_action action;     /* @action of the output */
    const char *source;   /* the list's name, for the header comment and reports */
} fd_import_opts;

/*
 * Read the list BUF[0..LEN) and write the rule file to OUT. Dropped lines go
 * to REPORT as "SOURCE:LINE: dropped: reason". Sets *kept and *dropped.
 * Returns 0, FD_EUTF8 (neither UTF-8, UTF-16 nor GB18030), FD_ENOMEM or
 * FD_EIO (writing OUT failed).
 */
int fd_import_keywords(const char *buf, size_t len, const fd_import_opts *o, FILE *out,
                       fd_diag *report, size_t *kept, size_t *dropped);

#endif
