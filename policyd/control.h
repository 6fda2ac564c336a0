/*
 * control - the daemon's control socket: a unix socket (never TCP) for
 * policyctl and every later tool, speaking lib/ctl.h's line protocol.
 * Each connection runs one command at a time as a job on the loop; a
 * job's lines go out as the client reads them (a client that stops
 * reading stops the job, one that leaves cancels it). Peers are checked
 * by their credentials (SO_PEERCRED, SO_PEERGROUPS: root, the daemon's
 * own user, or a member of the socket's group), and every command that
 * changes state is logged with who asked (uid, pid) and how it ended.
 * A small connection limit of its own keeps a flood of control clients
 * from the policy connections' descriptors.
 */
#ifndef POLICYD_CONTROL_H
#define POLICYD_CONTROL_H

#include <sys/types.h>

#include <uv.h>

struct ctl_host;
struct cfg;
struct control;
struct why;

/* control_new - a control server for host (which must outlive it) */
struct control *control_new(uv_loop_t *loop, struct ctl_host *host);
/*
 * control_listen - bind cfg's control socket: an old socket nobody
 * answers on is removed, one another daemon answers on is an error; the
 * socket gets cfg's mode and group (or gid), owner uid (-1: as is). 0,
 * or -1 with why; -2 if another daemon answers there.
 */
int control_listen(struct control *c, const struct cfg *cfg, uid_t uid,
    gid_t gid, struct why *why);
/* control_shutdown - stop listening, cancel jobs, close connections */
void control_shutdown(struct control *c);
/* control_free - after the loop ended */
void control_free(struct control *c);

#endif
