/*
 * log - the daemon's voice: syslog facility mail, or stderr in the
 * foreground (-f), one line per message, lower-case, no final period.
 * Strings a stranger controls pass through text_safe() first.
 */
#ifndef POLICYD_LOG_H
#define POLICYD_LOG_H

#include <stdbool.h>

#include <stddef.h>

struct arena;

enum log_dest { LOG_TO_STDERR, LOG_TO_SYSLOG };

extern int log_verbose; /* raised by each -v, as Postfix's msg_verbose */

/* log_init - set the program name and destination; may be called again */
void log_init(const char *ident, enum log_dest dest);
/*
 * log_hold - with on, info lines to standard error are held and written
 * together by log_flush() (the daemon calls it once per loop turn,
 * before the replies of that turn go out) or when 64 KiB are held;
 * warnings and errors go at once, after what is held. At exit() what is
 * held is written.
 */
void log_hold(bool on);
void log_flush(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bytes of a stranger's string kept by text_safe(), before escaping. */
#define TEXT_SAFE_MAX 256

/*
 * text_safe_buf - copy s into dst (size dstsz) with control bytes, DEL,
 * backslash and double quote escaped as \xHH, \\ and \", truncated to
 * TEXT_SAFE_MAX input bytes and marked "..." when cut. Returns dst.
 */
char *text_safe_buf(char *dst, size_t dstsz, const char *s);
/* text_safe_bufn - the same, keeping up to max input bytes */
char *text_safe_bufn(char *dst, size_t dstsz, const char *s, size_t max);
/*
 * text_cat - the strings up to the NULL into buf (size bytes, size > 0)
 * one after the other, cut to fit as snprintf("%s%s...") cuts them: what
 * the request path writes into its buffers without a format's cost.
 * Returns the length written.
 */
size_t text_cat(char *buf, size_t size, ...) __attribute__((sentinel));
/* text_num - v in decimal, written at the end of b (TEXT_NUM bytes):
 * where it starts */
#define TEXT_NUM 24
const char *text_num(char *b, long long v);
/* text_safe - the same into a new string from the arena */
char *text_safe(struct arena *a, const char *s);

#endif
