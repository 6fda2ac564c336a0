/*
 * log - syslog or stderr; escaping of untrusted text.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"

int log_verbose;

static const char *log_ident = "policyd";
static enum log_dest log_dest = LOG_TO_STDERR;
static int log_opened;
/*
 * The process id, asked once (and again in a child after fork): glibc
 * asks the kernel each time, and a line per request made getpid() a
 * system call per request. For syslog it goes into the ident ("policyd
 * [PID]", the wire format LOG_PID makes), for the same reason.
 */
static pid_t log_pid;
static char log_tag[80];
static int log_atfork;

/* open_syslog - the ident with the process id, as LOG_PID would add */
static void
open_syslog(void)
{
	snprintf(log_tag, sizeof(log_tag), "%s[%ld]", log_ident,
	    (long)log_pid);
	if (log_opened)
		closelog();
	openlog(log_tag, LOG_NDELAY, LOG_MAIL);
	log_opened = 1;
}

/* forked - pthread_atfork's child handler: a new process id */
static void
forked(void)
{
	log_pid = getpid();
	if (log_dest == LOG_TO_SYSLOG && log_opened)
		open_syslog();
}

/* log_init - choose the program name and the destination */
void
log_init(const char *ident, enum log_dest dest)
{
	log_ident = ident;
	log_dest = dest;
	log_pid = getpid();
	if (!log_atfork) {
		pthread_atfork(NULL, NULL, forked);
		atexit(log_flush); /* what was held, at exit() */
		log_atfork = 1;
	}
	if (dest == LOG_TO_SYSLOG)
		open_syslog();
}

/*
 * Held lines (log_hold), written by log_flush. Threads log too (the
 * thread pool's jobs): the lock keeps lines whole and in order.
 */
static bool log_held;
static char held[64 * 1024];
static size_t held_len;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

/* write_all - to standard error, in as few calls as it takes */
static void
write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to say it */
		p += w;
		n -= (size_t)w;
	}
}

/* flush_held - what is held, out (held_lock held) */
static void
flush_held(void)
{
	if (held_len == 0)
		return;
	write_all(held, held_len);
	held_len = 0;
}

/*
 * stamp - "YYYY-MM-DDTHH:MM:SS.mmmZ " for now, into out (at least 32
 * bytes): its length. The part to the second is made once a second
 * (strftime and gmtime_r were a tenth of a logged line's cost).
 */
static size_t
stamp(char *out)
{
	static __thread time_t sec = -1;
	static __thread char head[24];
	static __thread size_t hlen;
	struct timespec ts;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		hlen = strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
		sec = ts.tv_sec;
	}
	memcpy(out, head, hlen);
	ms = ts.tv_nsec / 1000000;
	out[hlen] = '.';
	out[hlen + 1] = (char)('0' + ms / 100);
	out[hlen + 2] = (char)('0' + ms / 10 % 10);
	out[hlen + 3] = (char)('0' + ms % 10);
	out[hlen + 4] = 'Z';
	out[hlen + 5] = ' ';
	return hlen + 6;
}

/* log_vemit - one line to the destination */
static void log_vemit(int prio, const char *level, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
log_vemit(int prio, const char *level, const char *fmt, va_list ap)
{
	char buf[2048];
	const char *msg = buf;
	size_t mlen;

	/* "%s" (a decision line, made whole by its caller): as it is */
	if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
		msg = va_arg(ap, const char *);
		mlen = strnlen(msg, sizeof(buf) - 1);
	} else {
		vsnprintf(buf, sizeof(buf), fmt, ap);
		mlen = strlen(buf);
	}
	if (log_dest == LOG_TO_SYSLOG) {
		syslog(prio, "%s: %.*s", level, (int)mlen, msg);
		return;
	}

	/*
	 * One write per line, so lines from one process never interleave;
	 * the timestamp is UTC with milliseconds, for reading test logs.
	 * "STAMP ident[pid]: level: msg\n", made with copies: this runs
	 * for every request.
	 */
	char line[2200], nb[TEXT_NUM];
	const char *pid = text_num(nb, (long)(log_pid ? log_pid : getpid()));
	size_t n, ilen = strlen(log_ident), llen = strlen(level),
	    plen = strlen(pid);

	n = stamp(line);
	if (ilen > 64)
		ilen = 64;
	memcpy(line + n, log_ident, ilen);
	n += ilen;
	line[n++] = '[';
	memcpy(line + n, pid, plen);
	n += plen;
	line[n++] = ']';
	line[n++] = ':';
	line[n++] = ' ';
	if (llen > 16)
		llen = 16;
	memcpy(line + n, level, llen);
	n += llen;
	line[n++] = ':';
	line[n++] = ' ';
	if (mlen > sizeof(line) - 2 - n)
		mlen = sizeof(line) - 2 - n; /* cut, as snprintf cut it */
	memcpy(line + n, msg, mlen);
	n += mlen;
	line[n++] = '\n';

	/*
	 * Held (the daemon's info lines): gathered, and written with one
	 * call per loop turn (log_flush) or when the buffer is full. Other
	 * lines go at once, after what was held, so the order stays.
	 */
	pthread_mutex_lock(&held_lock);
	if (log_held && prio == LOG_INFO) {
		if (held_len + n > sizeof(held))
			flush_held();
		memcpy(held + held_len, line, n);
		held_len += n;
	} else {
		flush_held();
		write_all(line, n);
	}
	pthread_mutex_unlock(&held_lock);
}

void
log_hold(bool on)
{
	if (!on)
		log_flush();
	log_held = on;
}

void
log_flush(void)
{
	pthread_mutex_lock(&held_lock);
	flush_held();
	pthread_mutex_unlock(&held_lock);
}

#define LOG_FN(name, prio, level, cond)                                     \
	void name(const char *fmt, ...)                                     \
	{                                                                   \
		va_list ap;                                                 \
                                                                            \
		if (!(cond))                                                \
			return;                                             \
		va_start(ap, fmt);                                          \
		log_vemit(prio, level, fmt, ap);                            \
		va_end(ap);                                                 \
	}

LOG_FN(log_debug, LOG_DEBUG, "debug", log_verbose > 0)
LOG_FN(log_info, LOG_INFO, "info", 1)
LOG_FN(log_warn, LOG_WARNING, "warning", 1)
LOG_FN(log_err, LOG_ERR, "error", 1)

size_t
text_cat(char *buf, size_t size, ...)
{
	const char *s;
	size_t o = 0;
	va_list ap;

	va_start(ap, size);
	while ((s = va_arg(ap, const char *)) != NULL && o < size - 1) {
		size_t n;

		if (*s == '\0')
			continue; /* half the pieces of a check's trace */
		n = strnlen(s, size - 1 - o);

		memcpy(buf + o, s, n);
		o += n;
	}
	va_end(ap);
	buf[o] = '\0';
	return o;
}

const char *
text_num(char *b, long long v)
{
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v
	    : (unsigned long long)v;
	char *p = b + TEXT_NUM - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	return p;
}

/* text_safe_buf - escape and bound a stranger's string */
char *
text_safe_buf(char *dst, size_t dstsz, const char *s)
{
	return text_safe_bufn(dst, dstsz, s, TEXT_SAFE_MAX);
}

/*
 * unsafe - the bytes text_safe_bufn escapes: controls (NUL too, which
 * ends the run loop's scan), DEL, \\ and "; a table, as the scan of a
 * decision line's every byte goes through it
 */
static const bool unsafe[256] = {
	[0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f] = true,
};

/* text_safe_bufn - escape, keeping up to max bytes of the input */
char *
text_safe_bufn(char *dst, size_t dstsz, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i = 0;

	if (dstsz == 0)
		return dst;
	while (s[i] != '\0' && i < max) {
		unsigned char c = (unsigned char)s[i];
		size_t run = i;

		/* The common case: a run of bytes as they are, copied at
		 * once (a decision line is mostly such runs). */
		while (run < max && !unsafe[(unsigned char)s[run]])
			run++;
		if (run > i) {
			size_t n = run - i;

			if (o + n + 4 > dstsz) /* keep room for "..." */
				n = dstsz > o + 4 ? dstsz - o - 4 : 0;
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
			if (i < run)
				break; /* no room for the rest */
			continue;
		}
		if (o + (c == '\\' || c == '"' ? 2 : 4) + 4 > dstsz)
			break;
		dst[o++] = '\\';
		if (c == '\\' || c == '"') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
		i++;
	}
	if (s[i] != '\0' && o + 4 <= dstsz) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* text_safe - escaped, bounded copy from the arena */
char *
text_safe(struct arena *a, const char *s)
{
	size_t sz = TEXT_SAFE_MAX * 4 + 4;
	char *buf = arena_alloc(a, sz);

	return text_safe_buf(buf, sz, s);
}
