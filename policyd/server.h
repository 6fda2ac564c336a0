/*
 * server - the listeners and connections of the daemon, on one libuv
 * loop: accept, allowlist, connection limit, idle timeout, the policy
 * protocol on each persistent connection, replies in request order,
 * graceful shutdown. Glue between the loop and lib/.
 */
#ifndef POLICYD_SERVER_H
#define POLICYD_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include <uv.h>

struct cfg;
struct server;
struct why;

/* server_new - a server answering with cfg (it takes a reference) */
struct server *server_new(uv_loop_t *loop, struct cfg *cfg);
/* server_listen - bind every listener of the config; 0 or -1 with why */
int server_listen(struct server *s, struct why *why);
/* server_stdio - serve one connection on stdin/stdout; 0 or -1 with why */
int server_stdio(struct server *s, struct why *why);
/*
 * server_set_conn_limit - accept at most n connections even if
 * max_connections allows more (the descriptor limit is too low)
 */
void server_set_conn_limit(struct server *s, unsigned n);
/* server_set_config - answer new requests with cfg (takes a reference) */
void server_set_config(struct server *s, struct cfg *cfg);
/* server_reloaded - a reload was asked for, and whether it worked */
void server_reloaded(struct server *s, bool ok);
/*
 * server_shutdown - stop accepting, answer what is in flight, close every
 * connection; force them closed after the config's shutdown_timeout.
 * When all handles are closed the loop has nothing left and returns.
 */
void server_shutdown(struct server *s);
/*
 * server_store_start - open the state store and start its timer (expiry
 * sweep, checkpoints, and reopening after trouble). A store that cannot
 * be opened is logged and tried again; requests meanwhile follow the
 * greylist's on_error.
 */
void server_store_start(struct server *s);
/*
 * server_dns_start - create the resolver if an enabled check (or one of a
 * profile) needs it and there is none yet; called again after a reload.
 */
void server_dns_start(struct server *s);
/*
 * server_checks_start - once, after the store and the resolver: the
 * checks' daemon-wide state (pipeline_init)
 */
void server_checks_start(struct server *s);
/*
 * server_metrics_start - write the metrics file every metrics.interval
 * (not with --stdio: one process per connection); the timer follows
 * reloads
 */
void server_metrics_start(struct server *s);
/*
 * server_control_listen - the control socket (control.h), for commands
 * run against this server's policy, store and resolver; reload(arg)
 * reads the policy file again (as SIGHUP). uid, gid: the socket's owner
 * and default group (-1: as is). 0, or -1 with why (-2: another daemon
 * answers on it).
 */
int server_control_listen(struct server *s, uid_t uid, gid_t gid,
    int (*reload)(void *arg, struct why *why), void *arg, struct why *why);
/* server_free - after the loop returned */
void server_free(struct server *s);

#endif
