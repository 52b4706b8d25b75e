/*
 * validate.h — check-digit validators for personal-information rules
 * (TAXONOMY.md, A4.6). A rule with `@validate NAME` fires only when its
 * matched text passes the validator, so random digit strings that merely
 * look like an ID or a card number do not.
 *
 * Validators read the matched bytes and ignore the separators people put
 * inside numbers (space, '-', '.'); they are pure functions, no allocation.
 */
#ifndef FD_VALIDATE_H
#define FD_VALIDATE_H

#include <stddef.h>

typedef enum fd_validator {
    FD_VALIDATE_NONE = 0,
    FD_VALIDATE_CN_ID,   /* resident ID, GB 11643: region, date, ISO 7064 MOD 11-2 */
    FD_VALIDATE_LUHN,    /* bank card: 12-19 digits, Luhn */
    FD_VALIDATE_CN_USCC, /* Unified Social Credit Code, GB 32100 */
    FD_VALIDATE_MAX
} fd_validator;

/* The validator called NAME ("cn-id", "luhn", "cn-uscc", "none"), or -1. */
int fd_validator_find(const char *name, size_t len);
const char *fd_validator_name(fd_validator v);

/* 1 if the text S[0..N) passes validator V (FD_VALIDATE_NONE: always). */
int fd_validate(fd_validator v, const char *s, size_t n);

#endif
