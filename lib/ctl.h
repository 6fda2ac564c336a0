/*
 * ctl - policyctl's commands, run by whoever owns the store: the daemon,
 * for a client of its control socket, or policyctl itself, offline, with
 * the store's exclusive lock. One table of commands (family, verb,
 * function, usage); each command parses its words, runs as a job on a
 * loop in bounded steps (a batch of records, then the loop goes on), and
 * writes lines to a sink: standard output or standard error, and at the
 * end a status (0 done, 1 failed, 2 a bad argument, refused before
 * anything was changed).
 *
 * The control protocol (doc/design.md, "The control socket"), one
 * request per line, answered by lines that end with a status line:
 *
 *   request:  policyd-control/1 WORD WORD ... LF    (at most CTL_LINE_MAX
 *             bytes; at most CTL_ARGS_MAX words; a word is its bytes with
 *             %XX for a byte outside ! to ~ and for %; an empty word is %)
 *   answer:   out TEXT LF | err TEXT LF ... then end STATUS LF
 *   input:    when the answer says "more" LF (only a command that reads
 *             input: "outbound import-log -", "check --request -"), the
 *             client sends +TEXT LF ... then . LF
 *
 * A client may send the next request after the end line. Bytes below
 * 0x20 but tab in TEXT are sent as ?, so a record written by a stranger
 * (a sender address) cannot forge an answer line.
 */
#ifndef POLICYD_CTL_H
#define POLICYD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "xalloc.h"

#define CTL_VERSION   "policyd-control/1"
#define CTL_LINE_MAX  4096 /* a request or an input line, without LF */
#define CTL_ARGS_MAX  64
#define CTL_TEXT_MAX  8192 /* an answer line's text; longer is cut */
#define CTL_INPUT_MAX 8200 /* an input line, without + and LF */

enum ctl_status { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2 };
enum ctl_stream { CTL_OUT = 1, CTL_ERR = 2 };

/*
 * ctl_encode - the request line of argv (with its LF) into out; its
 * length, or 0 if it does not fit in size or CTL_LINE_MAX
 */
size_t ctl_encode(char *out, size_t size, int argc, char *const *argv);
/*
 * ctl_parse - a request line (without LF) into argv: the words decoded
 * into buf (CTL_LINE_MAX + 1 bytes at least), argv[argc] NULL; argc, or
 * -1 with why (a wrong version, a bad escape, too many words)
 */
int ctl_parse(const char *line, size_t len, char *buf, size_t bufsize,
    char **argv, int max, struct why *why);

struct cfg;
struct dns;
struct store_handle;
struct ctl_job;

/*
 * What a command runs against. The daemon fills in the hooks; offline
 * policyctl leaves them NULL (those commands then say the daemon is
 * needed).
 */
struct ctl_host {
	uv_loop_t *loop;
	struct cfg *cfg;            /* the policy in force */
	struct store_handle *store; /* st NULL: not open now */
	struct dns *dns;            /* NULL: none */
	bool offline;               /* policyctl with the store's lock */
	/* reload - read the policy file again: 0, or -1 with why */
	int (*reload)(void *arg, struct why *why);
	/* metrics - the metrics text now, into a malloc'd string */
	char *(*metrics)(void *arg);
	/* store_state - a line on the store (open, trouble, ...) */
	void (*store_state)(void *arg, char *out, size_t size);
	void *arg;
};

/*
 * Where a job's lines go: line() for each (stream CTL_OUT or CTL_ERR,
 * text without its LF); done() once, with the status, after which the
 * job is freed. full() (may be NULL): the reader is behind, the job
 * waits until ctl_job_resume().
 */
struct ctl_sink {
	void (*line)(void *arg, enum ctl_stream s, const char *text,
	    size_t len);
	bool (*full)(void *arg);
	void (*done)(void *arg, int status);
	/* input - the job wants input lines (ctl_job_input) */
	void (*want_input)(void *arg, bool want);
	void *arg;
};

/*
 * ctl_job_start - run the command argv names (argv[0] its family) for
 * host, lines to sink. The job may finish before this returns (done()
 * is then called from here). Returns the job, or NULL if it is done.
 */
struct ctl_job *ctl_job_start(struct ctl_host *host, int argc,
    char *const *argv, const struct ctl_sink *sink);
/* ctl_job_resume - the sink has room again */
void ctl_job_resume(struct ctl_job *j);
/*
 * ctl_job_input - an input line for a job that wants it (len excludes
 * the LF); eof: no more (the "." line)
 */
void ctl_job_input(struct ctl_job *j, const char *line, size_t len,
    bool eof);
/*
 * ctl_job_cancel - the client went away: stop at once; done() is not
 * called, and the job is freed (now, or when work under way is back)
 */
void ctl_job_cancel(struct ctl_job *j);

/* What a command is, for policyctl and the daemon. */
enum {
	CTL_F_CHANGES = 1,  /* changes state: logged with who asked */
	CTL_F_INPUT = 2,    /* may read input lines (the "-" argument) */
	CTL_F_DAEMON = 4,   /* needs the daemon (reload, store state) */
	CTL_F_OFFLINE = 8,  /* only offline (the daemon stopped) */
};
struct ctl_cmd {
	const char *family, *verb; /* verb NULL: the family alone */
	unsigned flags;
	const char *usage;
};
/*
 * ctl_find - the command argv names; NULL with a message for people in
 * why (an unknown family or verb, with what there is)
 */
const struct ctl_cmd *ctl_find(int argc, char *const *argv, struct why *why);
/* ctl_usage - every command's usage lines, into fp */
void ctl_usage(FILE *fp);
/*
 * ctl_usage_family - the usage lines of one family's commands, into fp;
 * how many (0: no such family)
 */
int ctl_usage_family(FILE *fp, const char *family);
/*
 * ctl_reads_input - argv's command reads input lines (its "-"
 * argument): the client sends them
 */
bool ctl_reads_input(int argc, char *const *argv);

/*
 * ctl_verify_table - db verify's child (the program run again with
 * --verify-table TABLE DIR): one table, with the store's owner holding
 * its lock; the exit status (0 sound), the why on standard output
 */
int ctl_verify_table(const char *dir, const char *table);

#endif
