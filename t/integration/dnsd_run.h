/*
 * dnsd_run - the C integration tests' way to run dnsd: zone text into a
 * temporary directory, dnsd started on a free 127.0.0.1 port with a query
 * log, stopped and cleaned away at the end.
 */
#ifndef POLICYD_DNSD_RUN_H
#define POLICYD_DNSD_RUN_H

#include <sys/types.h>

struct dnsd_run {
	char dir[64];   /* temporary directory: zone, queries */
	char qlog[96];  /* one line per query dnsd received */
	pid_t pid;
	int port;
};

/* dnsd_run_start - zone and extra (may be NULL) as the zone file; 0/-1 */
int dnsd_run_start(struct dnsd_run *d, const char *zone, const char *extra);
/* dnsd_run_restart - the same port, new zone data (the same query log) */
int dnsd_run_restart(struct dnsd_run *d, const char *zone);
/* dnsd_run_stop - stop dnsd and remove its directory */
void dnsd_run_stop(struct dnsd_run *d);
/* dnsd_run_queries - lines of the query log that contain s */
int dnsd_run_queries(const struct dnsd_run *d, const char *s);

#endif
