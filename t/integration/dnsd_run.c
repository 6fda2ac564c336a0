/*
 * dnsd_run - start and stop dnsd for a C integration test.
 */
#include "dnsd_run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DNSD
#error DNSD must name the dnsd binary
#endif

/* write_zone - the zone file of d's directory: zone, then extra */
static int
write_zone(const struct dnsd_run *d, const char *zone, const char *extra)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/zone", d->dir);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fputs(zone, fp);
	if (extra != NULL)
		fputs(extra, fp);
	return fclose(fp) == 0 ? 0 : -1;
}

/* spawn - fork dnsd on port (0: any) and read the port it took */
static int
spawn(struct dnsd_run *d, int port)
{
	char path[128], arg[16], line[64];
	int pfd[2], got;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/zone", d->dir);
	snprintf(arg, sizeof(arg), "%d", port);
	if (pipe(pfd) < 0)
		return -1;
	if ((d->pid = fork()) < 0)
		return -1;
	if (d->pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execl(DNSD, "dnsd", "-p", arg, "-l", d->qlog, path,
		    (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	fp = fdopen(pfd[0], "r");
	if (fp == NULL || fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, "port %d", &got) != 1 || (port != 0 && got != port)) {
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	fclose(fp);
	d->port = got;
	return 0;
}

/* dnsd_run_start - write the zone, fork dnsd, read its port */
int
dnsd_run_start(struct dnsd_run *d, const char *zone, const char *extra)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/dnsd_run_XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		return -1;
	snprintf(d->qlog, sizeof(d->qlog), "%s/queries", d->dir);
	if (write_zone(d, zone, extra) < 0)
		return -1;
	return spawn(d, 0);
}

/* dnsd_run_restart - dnsd again on the same port with new zone data */
int
dnsd_run_restart(struct dnsd_run *d, const char *zone)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	if (write_zone(d, zone, NULL) < 0)
		return -1;
	return spawn(d, d->port);
}

/* dnsd_run_stop - stop it and remove its files */
void
dnsd_run_stop(struct dnsd_run *d)
{
	char cmd[128];

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	if (d->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "dnsd_run: cannot remove %s\n", d->dir);
		d->dir[0] = '\0';
	}
}

/* dnsd_run_queries - how often a query containing s came in */
int
dnsd_run_queries(const struct dnsd_run *d, const char *s)
{
	FILE *fp = fopen(d->qlog, "r");
	char line[512];
	int n = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, s) != NULL)
			n++;
	fclose(fp);
	return n;
}
