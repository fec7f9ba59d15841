/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvd — serves one ekv database to other processes over a Unix socket.
 *
 * Options, the listening socket, access control by peer credentials,
 * systemd notification and the accept loop.  The database is opened by
 * tools/dbspec.c from the settings of tools/settings.c (the same code and
 * the same options as ekvctl), the protocol is lib/proto.c, each
 * connection daemon/session.c, the log daemon/log.c, the data libekv.
 *
 * Must never: fork or daemonize (systemd, or a shell with &, supervises
 * it), exit on SIGTERM before the commit in progress is answered, or give
 * a client in the read-only group a way to write.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "dbspec.h"
#include "ekv.h"
#include "flash_cache.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "settings.h"
#include "util.h"

#define MAX_RO_UIDS 16

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* getopt values: ekvd's own options, then the database settings' from
 * OPT_SETTING (settings.h) */
enum {
	OPT_CONFIG = 'c',
	OPT_DB = 'd',
	OPT_SOCKET = 's',
	OPT_VERBOSE = 'v',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_SOCKET_MODE = 1000,
	OPT_SOCKET_GROUP,
	OPT_RO_GROUP,
	OPT_RO_UID,
	OPT_MAX_CLIENTS,
	OPT_MAX_FRAME,
	OPT_MAX_CURSORS,
	OPT_IDLE_TIMEOUT,
	OPT_BUSY_TIMEOUT,
	OPT_CACHE_SIZE,
	OPT_BUSY_POLL,
	OPT_SETTING = 2000,
};

/* ekvd's own options; the settings are added by build_options() */
static const struct option own_options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"db", required_argument, NULL, OPT_DB},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
	{"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
	{"read-only-group", required_argument, NULL, OPT_RO_GROUP},
	{"read-only-uid", required_argument, NULL, OPT_RO_UID},
	{"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
	{"max-frame-size", required_argument, NULL, OPT_MAX_FRAME},
	{"max-cursors", required_argument, NULL, OPT_MAX_CURSORS},
	{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	{"busy-timeout", required_argument, NULL, OPT_BUSY_TIMEOUT},
	{"cache-size", required_argument, NULL, OPT_CACHE_SIZE},
	{"busy-poll-us", required_argument, NULL, OPT_BUSY_POLL},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
};
#define N_OWN (sizeof(own_options) / sizeof(own_options[0]))

static const char usage_head[] =
	"Usage: ekvd [OPTION...]\n"
	"Serve one ekv database to other processes over a Unix socket.\n"
	"\n"
	"Database (default: section [default] of the config file; the options\n"
	"and ekv.conf keys are ekvctl's):\n"
	"  -c, --config FILE        config file (default $EKV_CONF or " DEFAULT_CONF ")\n"
	"  -d, --db NAME            the database of section [NAME] in the config file\n";

static const char usage_tail[] =
	"\n"
	"Socket and access:\n"
	"  -s, --socket PATH        listen here (default " EKV_DEFAULT_SOCKET "; ignored\n"
	"                           when systemd passes a socket)\n"
	"      --socket-mode MODE   octal permissions of the socket (default 0660)\n"
	"      --socket-group NAME  group of the socket\n"
	"      --read-only-group NAME  members may read; their writes get EKV_EPERM\n"
	"      --read-only-uid UID  the same for one user id (repeatable)\n"
	"\n"
	"Limits:\n"
	"      --max-clients N      connections served at once (default 256)\n"
	"      --max-frame-size N   largest frame in bytes (default 262144)\n"
	"      --max-cursors N      open cursors per connection (default 64)\n"
	"      --idle-timeout SEC   close a connection silent this long, aborting its\n"
	"                           transaction (default 60; 0: never)\n"
	"      --busy-timeout MS    the engine's wait for pinned pages and the\n"
	"                           image lock (default 5000)\n"
	"      --cache-size BYTES   RAM for copies of flash pages read (default\n"
	"                           8388608; 0: none)\n"
	"      --busy-poll-us N     after a reply, poll for the client's next request\n"
	"                           this long before sleeping (default 50; 0: off)\n"
	"\n"
	"  -v, --verbose            log connections\n"
	"  -h, --help               this help\n"
	"  -V, --version            print the version\n"
	"\n"
	"Numbers are decimal or 0x-hex.\n";

struct opts {
	struct settings s; /* the database, its profile, the seed */
	const char *socket_path;
	mode_t socket_mode;
	const char *socket_group, *ro_group;
	uid_t ro_uids[MAX_RO_UIDS];
	unsigned n_ro_uids;
	unsigned max_clients, max_cursors;
	uint32_t max_frame;
	int idle_timeout_ms, busy_timeout_ms;
	uint32_t cache_size;
	uint32_t busy_poll_us;
	bool verbose;
};

/* ---- options --------------------------------------------------------------- */

static struct option long_options[N_OWN + 2 * SET_COUNT + 1];

static void build_options(char *shortopts, size_t size)
{
	size_t n = 0, k = (size_t)snprintf(shortopts, size, "c:d:s:vhV");
	for (; n < N_OWN; n++)
		long_options[n] = own_options[n];
	static char no_names[SET_COUNT][64];
	for (int id = 0; id < SET_COUNT; id++) {
		const struct setting_def *d = setting_def((enum setting_id)id);
		if (!(d->programs & SETTING_EKVD))
			continue;
		int has_arg = !d->arg ? no_argument
			      : d->arg_optional ? optional_argument
						 : required_argument;
		int val = d->short_opt ? d->short_opt : SETTING_OPTION(OPT_SETTING, id);
		long_options[n++] = (struct option){d->key, has_arg, NULL, val};
		if (d->short_opt && k + 3 < size)
			k += (size_t)snprintf(shortopts + k, size - k, "%c%s", d->short_opt,
					      has_arg == required_argument ? ":" : "");
		if (d->arg)
			continue;
		snprintf(no_names[id], sizeof(no_names[id]), "no-%s", d->key);
		long_options[n++] = (struct option){no_names[id], no_argument, NULL,
						    SETTING_NO_OPTION(OPT_SETTING, id)};
	}
	long_options[n] = (struct option){0};
}

/* "  OPTION   help text", the text wrapped at 79 columns from column 27. */
static void usage_line(const char *opt, const char *help)
{
	int col = printf("  %-24s", opt);
	if (col > 26) {
		putchar('\n');
		col = printf("%26s", "");
	}
	while (*help) {
		size_t len = strlen(help), cut = len;
		if ((size_t)col + 1 + len > 79) {
			cut = 79 - (size_t)col - 1;
			while (cut > 0 && help[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = len;
		}
		printf(" %.*s", (int)cut, help);
		help += cut;
		while (*help == ' ')
			help++;
		if (*help) {
			putchar('\n');
			col = printf("%26s", "");
		}
	}
	putchar('\n');
}

static void usage(void)
{
	fputs(usage_head, stdout);
	for (int id = 0; id < SET_COUNT; id++) {
		const struct setting_def *d = setting_def((enum setting_id)id);
		if (!(d->programs & SETTING_EKVD))
			continue;
		char opt[64], help[256];
		for (int negated = 0; negated <= !d->arg; negated++) {
			snprintf(opt, sizeof(opt), "%c%c%c --%s%s%s%s", d->short_opt ? '-' : ' ',
				 d->short_opt ? d->short_opt : ' ', d->short_opt ? ',' : ' ',
				 negated ? "no-" : "", d->key, d->arg ? " " : "",
				 d->arg ? d->arg : "");
			setting_help((enum setting_id)id, negated, help, sizeof(help));
			usage_line(opt, help);
		}
	}
	fputs(usage_tail, stdout);
}

/* The ranges of ekvd's numeric options. */
static const struct {
	int id;
	uint32_t min, max;
} limits[] = {
	{OPT_MAX_CLIENTS, 1, 65536},
	{OPT_MAX_CURSORS, 1, 65536},
	{OPT_MAX_FRAME, PROTO_MIN_MAX_FRAME, PROTO_HARD_MAX_FRAME},
	{OPT_IDLE_TIMEOUT, 0, INT_MAX / 1000},
	{OPT_BUSY_POLL, 0, 1000000},
	{OPT_BUSY_TIMEOUT, 0, INT_MAX},
};

static const char *option_name(int id)
{
	for (size_t i = 0; i < N_OWN; i++)
		if (own_options[i].val == id)
			return own_options[i].name;
	return "?";
}

/* Apply one of ekvd's own options. */
static int apply(struct opts *o, int id, const char *arg, char *err, size_t err_size)
{
	uint32_t v;
	switch (id) {
	case OPT_CONFIG:
		o->s.conf_path = arg;
		o->s.conf_explicit = true;
		return 0;
	case OPT_DB:
		o->s.db_name = arg;
		return 0;
	case OPT_SOCKET:
		o->socket_path = arg;
		return 0;
	case OPT_SOCKET_GROUP:
		o->socket_group = arg;
		return 0;
	case OPT_RO_GROUP:
		o->ro_group = arg;
		return 0;
	case OPT_VERBOSE:
		o->verbose = true;
		return 0;
	case OPT_SOCKET_MODE: {
		char *end;
		errno = 0;
		unsigned long m = strtoul(arg, &end, 8);
		if (errno || end == arg || *end || m > 07777) {
			snprintf(err, err_size, "invalid socket mode '%s' (octal, e.g. 0660)", arg);
			return -1;
		}
		o->socket_mode = (mode_t)m;
		return 0;
	}
	default:
		break;
	}
	if (!conf_parse_u32(arg, &v)) {
		snprintf(err, err_size, "invalid number '%s' (decimal or 0x-hex)", arg);
		return -1;
	}
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (limits[i].id == id && (v < limits[i].min || v > limits[i].max)) {
			snprintf(err, err_size, "--%s must be %u..%u", option_name(id),
				 limits[i].min, limits[i].max);
			return -1;
		}
	}
	switch (id) {
	case OPT_RO_UID:
		if (o->n_ro_uids == MAX_RO_UIDS) {
			snprintf(err, err_size, "at most %d --read-only-uid options", MAX_RO_UIDS);
			return -1;
		}
		o->ro_uids[o->n_ro_uids++] = (uid_t)v;
		return 0;
	case OPT_MAX_CLIENTS: o->max_clients = v; return 0;
	case OPT_MAX_CURSORS: o->max_cursors = v; return 0;
	case OPT_MAX_FRAME: o->max_frame = v; return 0;
	case OPT_IDLE_TIMEOUT: o->idle_timeout_ms = (int)(v * 1000); return 0;
	case OPT_CACHE_SIZE: o->cache_size = v; return 0;
	case OPT_BUSY_POLL: o->busy_poll_us = v; return 0;
	case OPT_BUSY_TIMEOUT: o->busy_timeout_ms = (int)v; return 0;
	default:
		snprintf(err, err_size, "unknown option");
		return -1;
	}
}

static int parse_args(struct opts *o, int argc, char **argv)
{
	int c;
	char err[600], shortopts[32];
	build_options(shortopts, sizeof(shortopts));
	while ((c = getopt_long(argc, argv, shortopts, long_options, NULL)) != -1) {
		if (c == '?')
			return EXIT_USAGE;
		if (c == OPT_HELP) {
			usage();
			exit(0);
		}
		if (c == OPT_VERSION) {
			printf("ekvd %s (protocol %d)\n", EKV_VERSION, PROTO_VERSION);
			exit(0);
		}
		bool negated;
		int id = setting_of_option(c, OPT_SETTING, &negated);
		int r = id >= 0 ? settings_set_option(&o->s, (enum setting_id)id,
						      negated ? "no" : optarg, err, sizeof(err))
				: apply(o, c, optarg, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "ekvd: %s\nTry 'ekvd --help' for more information.\n", err);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ekvd: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (settings_read_conf(&o->s, err, sizeof(err)) < 0) {
		fprintf(stderr, "ekvd: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- the database ------------------------------------------------------------- */

struct database {
	struct dbspec spec;
	ekv_db *db;
	char desc[PATH_MAX + 16];
	char damage[160]; /* what the mount at start skipped ("": nothing) */
};

/* Open the flash and the database as ekvctl does (tools/dbspec.c), so that
 * both see the same profile for the same settings. */
static int open_database(struct opts *o, struct database *d)
{
	char msg[600];
	int e = dbspec_open(&o->s, DBSPEC_CREATE, &d->spec, msg, sizeof(msg));
	if (e < 0) {
		ekvd_log(LOG_ERR, "%s", msg);
		return e == EKV_EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	if (d->spec.created)
		ekvd_log(LOG_NOTICE, "%s: created an erased image of %u pages (format it)",
			 d->spec.name, d->spec.p.page_count);
	dbspec_describe(&o->s, d->desc, sizeof(d->desc));
	e = flash_cache_wrap(d->spec.flash, o->cache_size, &d->spec.flash);
	if (e < 0) {
		ekvd_log(LOG_ERR, "cache: %s", ekv_strerror(e));
		return EXIT_FAIL;
	}
	struct ekv_options eo;
	ekv_options_default(&eo);
	dbspec_options(&o->s, &eo);
	eo.busy_timeout_ms = o->busy_timeout_ms;
	e = ekv_open(d->spec.flash, &d->spec.p, &eo, &d->db);
	if (e < 0) {
		ekvd_log(LOG_ERR, "open: %s", ekv_strerror(e));
		return EXIT_FAIL;
	}
	e = ekv_mount(d->db);
	if (e == EKV_ENOFMT)
		ekvd_log(LOG_WARNING, "%s: no database found; clients get \"%s\" until one formats it",
			 d->desc, ekv_strerror(e));
	else if (e < 0)
		ekvd_log(LOG_WARNING, "%s: mount: %s (serving anyway)", d->desc, ekv_strerror(e));
	struct ekv_stat st;
	if (e == 0 && ekv_stat(d->db, &st) == 0 && st.damaged) {
		snprintf(d->damage, sizeof(d->damage),
			 "DAMAGED: fell back from meta page %u (seq %u) to %u (seq %u), %u commits "
			 "and %u files' newest state lost",
			 st.damaged_meta_page, st.damaged_meta_seq, st.meta_page, st.meta_seq,
			 st.lost_commits, st.lost_files);
		ekvd_log(LOG_WARNING, "%s: %s (ekvctl fsck explains; --on-damage refuse refuses it)",
			 d->desc, d->damage);
	}
	return 0;
}

/* ---- the socket ---------------------------------------------------------------- */

static int listen_socket(struct opts *o, bool *owned)
{
	*owned = false;
	int n = sd_listen_fds(1);
	if (n < 0) {
		ekvd_log(LOG_ERR, "sd_listen_fds: %s", strerror(-n));
		return -1;
	}
	if (n > 1) {
		ekvd_log(LOG_ERR, "systemd passed %d sockets; expected one", n);
		return -1;
	}
	if (n == 1) {
		int fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			ekvd_log(LOG_ERR, "the socket systemd passed is not a listening Unix stream socket");
			return -1;
		}
		if (o->socket_path)
			ekvd_log(LOG_INFO, "using the socket systemd passed, not %s", o->socket_path);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	const char *path = o->socket_path ? o->socket_path : EKV_DEFAULT_SOCKET;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ekvd_log(LOG_ERR, "%s: socket path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* the runtime directory of the default path may not exist yet */
	char dir[sizeof(sa.sun_path)];
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			ekvd_log(LOG_ERR, "%s: %s", dir, strerror(errno));
			return -1;
		}
	}
	gid_t gid = (gid_t)-1;
	if (o->socket_group) {
		struct group *g = getgrnam(o->socket_group);
		if (!g) {
			ekvd_log(LOG_ERR, "--socket-group: no group '%s'", o->socket_group);
			return -1;
		}
		gid = g->gr_gid;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ekvd_log(LOG_ERR, "socket: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ekvd_log(LOG_ERR, "%s exists and is not a socket", path);
			close(fd);
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			ekvd_log(LOG_ERR, "%s: another ekvd is serving this socket", path);
			close(fd);
			return -1;
		}
		unlink(path); /* left behind by a daemon that was killed */
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ekvd_log(LOG_ERR, "socket: %s", strerror(errno));
			return -1;
		}
	}
	/* nobody may connect before the mode and group are right */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		ekvd_log(LOG_ERR, "%s: bind: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	*owned = true;
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, o->socket_mode) < 0 ||
	    listen(fd, 128) < 0) {
		ekvd_log(LOG_ERR, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- access control ------------------------------------------------------------ */

struct access {
	const uid_t *ro_uids;
	unsigned n_ro_uids;
	bool have_ro_gid;
	gid_t ro_gid;
};

static bool in_groups(int fd, const struct ucred *cr, gid_t gid)
{
	if (cr->gid == gid)
		return true;
	gid_t groups[256];
	socklen_t len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(gid_t); i++)
			if (groups[i] == gid)
				return true;
		return false;
	}
	/* older kernels, or more groups than fit: ask the user database */
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(cr->uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return false;
	int n = 256;
	gid_t *all = malloc(sizeof(gid_t) * (size_t)n);
	if (!all)
		return true; /* cannot tell: err on the safe side */
	bool member = false;
	if (getgrouplist(pw.pw_name, cr->gid, all, &n) < 0) {
		gid_t *more = realloc(all, sizeof(gid_t) * (size_t)n);
		if (!more || getgrouplist(pw.pw_name, cr->gid, more, &n) < 0)
			member = true;
		all = more ? more : all;
	}
	for (int i = 0; i < n && !member; i++)
		member = all[i] == gid;
	free(all);
	return member;
}

static bool peer_read_only(const struct access *a, int fd, const struct ucred *cr)
{
	for (unsigned i = 0; i < a->n_ro_uids; i++)
		if (a->ro_uids[i] == cr->uid)
			return true;
	return a->have_ro_gid && in_groups(fd, cr, a->ro_gid);
}

/* ---- main ------------------------------------------------------------------------ */

static struct server srv;
static const char *srv_damage = ""; /* struct database.damage, for the status line */

/* The status line, at most once a second and never under the lock: a
 * notification socket nobody reads would block sd_notify(). */
static void update_status(void)
{
	pthread_mutex_lock(&srv.lock);
	bool dirty = srv.status_dirty;
	unsigned n = srv.n_sessions;
	unsigned long long commits = srv.commits;
	srv.status_dirty = false;
	pthread_mutex_unlock(&srv.lock);
	if (dirty)
		sd_notifyf(0, "STATUS=Serving %s: %u client%s, %llu commits%s%s", srv.database, n,
			   n == 1 ? "" : "s", commits, *srv_damage ? "; " : "", srv_damage);
}

/* Poll timeout: wake up once a second while the status may change. */
static int status_interval(void)
{
	pthread_mutex_lock(&srv.lock);
	bool busy = srv.n_sessions || srv.status_dirty;
	pthread_mutex_unlock(&srv.lock);
	return busy ? 1000 : -1;
}

static void accept_one(int lfd, const struct access *acc, pthread_attr_t *attr)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			ekvd_log(LOG_WARNING, "accept: %s", strerror(errno));
			poll(NULL, 0, 100); /* let connections end rather than spin */
		}
		return;
	}
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		ekvd_log(LOG_WARNING, "SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	bool ro = peer_read_only(acc, fd, &cr);
	char peer[96];
	snprintf(peer, sizeof(peer), "client pid %d uid %u", (int)cr.pid, (unsigned)cr.uid);
	const char *why = NULL;
	struct session *s = session_new(&srv, fd, ro, peer, &why);
	if (!s) {
		ekvd_log(LOG_WARNING, "%s refused: %s", peer, why);
		send_farewell(fd, EKV_EBUSY, why);
		close(fd);
		return;
	}
	pthread_t t;
	int e = pthread_create(&t, attr, session_run, s);
	if (e) {
		/* the session runs here instead: slower, but the client is served */
		ekvd_log(LOG_WARNING, "pthread_create: %s", strerror(e));
		session_run(s);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof(o));
	settings_init(&o.s);
	o.socket_mode = 0660;
	o.max_clients = 256;
	o.max_cursors = 64;
	o.max_frame = PROTO_DEFAULT_MAX_FRAME;
	o.idle_timeout_ms = 60000;
	o.busy_timeout_ms = 5000;
	o.cache_size = 8u << 20;
	o.busy_poll_us = PROTO_DEFAULT_BUSY_POLL_US;
	int rc = parse_args(&o, argc, argv);
	ekvd_log_init(getenv("JOURNAL_STREAM") != NULL, o.verbose);
	if (rc)
		goto out_opts;

	struct access acc = {o.ro_uids, o.n_ro_uids, false, 0};
	if (o.ro_group) {
		struct group *g = getgrnam(o.ro_group);
		if (!g) {
			ekvd_log(LOG_ERR, "--read-only-group: no group '%s'", o.ro_group);
			rc = EXIT_USAGE;
			goto out_opts;
		}
		acc.have_ro_gid = true;
		acc.ro_gid = g->gr_gid;
	}

	struct database d;
	memset(&d, 0, sizeof(d));
	rc = open_database(&o, &d);
	if (rc)
		goto out_db;
	if (o.max_frame < server_min_frame(&d.spec.p)) {
		ekvd_log(LOG_ERR, "--max-frame-size %u is too small for this profile (at least %u)",
			 o.max_frame, server_min_frame(&d.spec.p));
		rc = EXIT_USAGE;
		goto out_db;
	}

	/* signals arrive through a descriptor; session threads inherit the mask */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		ekvd_log(LOG_ERR, "signalfd: %s", strerror(errno));
		rc = EXIT_FAIL;
		goto out_db;
	}

	bool owned;
	int lfd = listen_socket(&o, &owned);
	if (lfd < 0) {
		rc = EXIT_FAIL;
		goto out_sfd;
	}

	srv.db = d.db;
	srv.profile = d.spec.p;
	srv.database = d.desc;
	srv_damage = d.damage;
	srv.name = o.s.section_found ? (o.s.db_name ? o.s.db_name : "default") : "";
	srv.max_frame = o.max_frame;
	srv.max_clients = o.max_clients;
	srv.max_cursors = o.max_cursors;
	srv.idle_timeout_ms = o.idle_timeout_ms;
	srv.busy_poll_us = o.busy_poll_us;
	srv.verbose = o.verbose;
	if (server_init(&srv) < 0) {
		rc = EXIT_FAIL;
		goto out_lfd;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024); /* the engine needs a few KiB */

	ekvd_log(LOG_INFO, "serving %s on %s", d.desc,
		 owned ? (o.socket_path ? o.socket_path : EKV_DEFAULT_SOCKET) : "the socket systemd passed");
	sd_notifyf(0, "READY=1\nSTATUS=Serving %s: 0 clients, 0 commits", d.desc);

	struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
	int64_t last_status = 0;
	for (;;) {
		int rc_poll = poll(pfd, 2, status_interval());
		int64_t now_ms = monotonic_ms();
		if (now_ms - last_status >= 1000) {
			update_status();
			last_status = now_ms;
		}
		if (rc_poll < 0) {
			if (errno == EINTR)
				continue;
			ekvd_log(LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				ekvd_log(LOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
			break;
		}
		if (pfd[0].revents)
			accept_one(lfd, &acc, &attr);
	}

	sd_notify(0, "STOPPING=1\nSTATUS=Stopping: finishing commits, aborting transactions");
	/* no new clients; the socket of a systemd unit stays for the next start */
	close(lfd);
	lfd = -1;
	if (owned)
		unlink(o.socket_path ? o.socket_path : EKV_DEFAULT_SOCKET);
	server_stop(&srv);
	server_wait_sessions(&srv);
	pthread_attr_destroy(&attr);
	server_destroy(&srv);
	uint64_t hits, misses;
	flash_cache_stats(d.spec.flash, &hits, &misses);
	ekvd_log(LOG_INFO, "stopped after %llu commits (page cache: %llu hits, %llu misses)",
		 (unsigned long long)srv.commits, (unsigned long long)hits,
		 (unsigned long long)misses);
	rc = 0;
out_lfd:
	if (lfd >= 0)
		close(lfd);
out_sfd:
	close(sfd);
out_db:
	ekv_close(d.db);
	dbspec_close(&d.spec);
out_opts:
	settings_free(&o.s);
	return rc;
}
