/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvd — serves one ekv database to other processes over a Unix socket.
 *
 * Options, the database and the listening socket, access control by peer
 * credentials, systemd notification and the accept loop.  The protocol is
 * lib/proto.c, each connection daemon/session.c, the data libekv.
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
#include <stdarg.h>
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
#include "ekv.h"
#include "flash_cache.h"
#include "proto.h"
#include "session.h"
#include "util.h"

#define DEFAULT_CONFIG "/etc/ekv.conf"
#define MAX_RO_UIDS 16

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

enum {
	OPT_CONFIG = 'c',
	OPT_DB = 'd',
	OPT_SOCKET = 's',
	OPT_VERBOSE = 'v',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_IMAGE = 1000,
	OPT_DEVICE,
	OPT_PAGE_SIZE,
	OPT_PAGE_COUNT,
	OPT_MAX_PAGE_COUNT,
	OPT_ALIGN,
	OPT_ERASE_VALUE,
	OPT_CRC,
	OPT_MAX_CHUNK,
	OPT_BF,
	OPT_MAX_KEY,
	OPT_MAX_VALUE,
	OPT_SCRATCH,
	OPT_SEED,
	OPT_SOCKET_MODE,
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
	OPT_END
};

/* The database options are the ones ekv.conf may set too. */
static const struct option long_options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"db", required_argument, NULL, OPT_DB},
	{"image", required_argument, NULL, OPT_IMAGE},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"page-size", required_argument, NULL, OPT_PAGE_SIZE},
	{"page-count", required_argument, NULL, OPT_PAGE_COUNT},
	{"max-page-count", required_argument, NULL, OPT_MAX_PAGE_COUNT},
	{"align", required_argument, NULL, OPT_ALIGN},
	{"erase-value", required_argument, NULL, OPT_ERASE_VALUE},
	{"crc", no_argument, NULL, OPT_CRC},
	{"max-chunk-size", required_argument, NULL, OPT_MAX_CHUNK},
	{"branching-factor", required_argument, NULL, OPT_BF},
	{"max-key-size", required_argument, NULL, OPT_MAX_KEY},
	{"max-value-size", required_argument, NULL, OPT_MAX_VALUE},
	{"scratch-pages", required_argument, NULL, OPT_SCRATCH},
	{"seed", required_argument, NULL, OPT_SEED},
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
	{NULL, 0, NULL, 0},
};

static const char usage_text[] =
	"Usage: ekvd [OPTION...]\n"
	"Serve one ekv database to other processes over a Unix socket.\n"
	"\n"
	"Database (default: section [default] of the config file):\n"
	"  -c, --config FILE        config file (default $EKV_CONF or " DEFAULT_CONFIG ")\n"
	"  -d, --db NAME            the database of section [NAME] in the config file\n"
	"      --image FILE         flash image file (created erased if missing)\n"
	"      --device DEV         MTD device (/dev/mtdN or mtd:NAME)\n"
	"      --page-size N --page-count N --max-page-count N --align N\n"
	"      --erase-value 0xFF|0x00 --crc --max-chunk-size N --branching-factor N\n"
	"      --max-key-size N --max-value-size N --scratch-pages N --seed N\n"
	"                           the profile, as for ekvctl\n"
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
	"  -V, --version            print the version\n";

struct opts {
	const char *config, *db_name, *image, *device, *socket_path;
	struct ekv_profile p;
	uint32_t seed;
	bool seed_set;
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
	bool given[OPT_END]; /* set on the command line: the config file does not override */
	bool set[OPT_END];   /* set on the command line or in the config file */
	const char *section; /* the config section used, or NULL */
	char *owned[32];     /* strings from the config file */
	unsigned n_owned;
};

static bool log_to_journal;
static bool log_verbose;

void ekvd_log(int level, const char *fmt, ...)
{
	if (level >= LOG_DEBUG && !log_verbose)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_to_journal)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "ekvd: %s\n", buf);
}

/* ---- options --------------------------------------------------------------- */



/* Apply one option (from the command line, or a config key with its value). */
static const char *option_name(int id)
{
	for (const struct option *lo = long_options; lo->name; lo++)
		if (lo->val == id)
			return lo->name;
	return NULL;
}

static int apply(struct opts *o, int id, const char *arg, char *err, size_t err_size)
{
	/* the profile: the same names and values as ekvctl and ekv.conf */
	const char *name = option_name(id);
	int r = name ? conf_apply_profile(&o->p, name, arg, err, err_size) : 0;
	if (r)
		return r < 0 ? -1 : 0;
	uint32_t v;
	switch (id) {
	case OPT_CONFIG:
		o->config = arg;
		return 0;
	case OPT_DB:
		o->db_name = arg;
		return 0;
	case OPT_IMAGE:
		o->image = arg;
		return 0;
	case OPT_DEVICE:
		o->device = arg;
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
		snprintf(err, err_size, "invalid number '%s'", arg);
		return -1;
	}
	switch (id) {
	case OPT_SEED: o->seed = v; o->seed_set = true; break;
	case OPT_RO_UID:
		if (o->n_ro_uids == MAX_RO_UIDS) {
			snprintf(err, err_size, "at most %d --read-only-uid options", MAX_RO_UIDS);
			return -1;
		}
		o->ro_uids[o->n_ro_uids++] = (uid_t)v;
		break;
	case OPT_MAX_CLIENTS:
		if (v < 1 || v > 65536) {
			snprintf(err, err_size, "--max-clients must be 1..65536");
			return -1;
		}
		o->max_clients = v;
		break;
	case OPT_MAX_CURSORS:
		if (v < 1 || v > 65536) {
			snprintf(err, err_size, "--max-cursors must be 1..65536");
			return -1;
		}
		o->max_cursors = v;
		break;
	case OPT_MAX_FRAME:
		if (v < PROTO_MIN_MAX_FRAME || v > PROTO_HARD_MAX_FRAME) {
			snprintf(err, err_size, "--max-frame-size must be %u..%u", PROTO_MIN_MAX_FRAME,
				 PROTO_HARD_MAX_FRAME);
			return -1;
		}
		o->max_frame = v;
		break;
	case OPT_IDLE_TIMEOUT:
		if (v > INT_MAX / 1000) {
			snprintf(err, err_size, "--idle-timeout too large");
			return -1;
		}
		o->idle_timeout_ms = (int)(v * 1000);
		break;
	case OPT_CACHE_SIZE:
		o->cache_size = v;
		break;
	case OPT_BUSY_POLL:
		if (v > 1000000) {
			snprintf(err, err_size, "--busy-poll-us must be 0..1000000");
			return -1;
		}
		o->busy_poll_us = v;
		break;
	case OPT_BUSY_TIMEOUT:
		if (v > INT_MAX) {
			snprintf(err, err_size, "--busy-timeout too large");
			return -1;
		}
		o->busy_timeout_ms = (int)v;
		break;
	default:
		snprintf(err, err_size, "unknown option");
		return -1;
	}
	return 0;
}

static bool is_database_option(int id)
{
	return id == OPT_IMAGE || id == OPT_DEVICE || (id >= OPT_PAGE_SIZE && id <= OPT_SEED);
}

/* Every key ekvctl accepts may be in the file (it checks them); ekvd uses the
 * database options and skips the others. */
static bool any_key(const char *key)
{
	(void)key;
	return true;
}

/* Fill what the command line left open from section `section` of the file:
 * the command line wins, and an image or device there replaces both. */
static int apply_config(struct opts *o, const char *path, const struct conf *c)
{
	char err[256];
	bool target_on_cmdline = o->given[OPT_IMAGE] || o->given[OPT_DEVICE];
	for (size_t i = 0; i < c->n; i++) {
		const struct option *opt = long_options;
		while (opt->name && strcmp(opt->name, c->e[i].key))
			opt++;
		if (!opt->name || !is_database_option(opt->val)) {
			ekvd_log(LOG_DEBUG, "%s:%d: ignoring '%s'", path, c->e[i].line, c->e[i].key);
			continue;
		}
		bool is_target = opt->val == OPT_IMAGE || opt->val == OPT_DEVICE;
		if (o->given[opt->val] || (is_target && target_on_cmdline))
			continue;
		if (o->n_owned == sizeof(o->owned) / sizeof(o->owned[0]))
			return -1;
		char *value = o->owned[o->n_owned++] = strdup(c->e[i].value);
		if (!value || apply(o, opt->val, value, err, sizeof(err)) < 0) {
			fprintf(stderr, "ekvd: %s:%d: %s\n", path, c->e[i].line,
				value ? err : "out of memory");
			return -1;
		}
		o->set[opt->val] = true;
		/* a later image/device line of the section replaces an earlier one */
		if (is_target)
			*(opt->val == OPT_IMAGE ? &o->device : &o->image) = NULL;
	}
	return 0;
}

static int parse_args(struct opts *o, int argc, char **argv)
{
	int c;
	char err[512];
	while ((c = getopt_long(argc, argv, "c:d:s:vhV", long_options, NULL)) != -1) {
		if (c == '?')
			return EXIT_USAGE;
		if (c == OPT_HELP) {
			fputs(usage_text, stdout);
			exit(0);
		}
		if (c == OPT_VERSION) {
			printf("ekvd %s (protocol %d)\n", EKV_VERSION, PROTO_VERSION);
			exit(0);
		}
		if (apply(o, c, c == OPT_CRC ? NULL : optarg, err, sizeof(err)) < 0) {
			fprintf(stderr, "ekvd: %s\nTry 'ekvd --help' for more information.\n", err);
			return EXIT_USAGE;
		}
		o->given[c] = o->set[c] = true;
	}
	if (optind < argc) {
		fprintf(stderr, "ekvd: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->image && o->device) {
		fprintf(stderr, "ekvd: --image and --device exclude each other\n");
		return EXIT_USAGE;
	}
	/* a named database, or no database on the command line: the config file */
	if (o->db_name || (!o->image && !o->device)) {
		const char *path = o->config ? o->config : getenv("EKV_CONF");
		if (!path || !*path)
			path = DEFAULT_CONFIG;
		o->section = o->db_name ? o->db_name : "default";
		struct conf cf;
		int e = conf_load(path, o->section, any_key, &cf, err, sizeof(err));
		if (e == -ENOENT) {
			fprintf(stderr, "ekvd: %s: no such configuration file (give --image or "
				"--device, or --db with a config file)\n", path);
			return EXIT_USAGE;
		}
		if (e < 0) {
			fprintf(stderr, "ekvd: %s\n", err);
			return EXIT_USAGE;
		}
		bool found = cf.section_found;
		e = found ? apply_config(o, path, &cf) : 0;
		conf_free(&cf);
		if (!found) {
			fprintf(stderr, "ekvd: %s: no database [%s]\n", path, o->section);
			return EXIT_USAGE;
		}
		if (e < 0)
			return EXIT_USAGE;
		if (!o->image && !o->device) {
			fprintf(stderr, "ekvd: %s: section [%s] names no image or device\n", path,
				o->section);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* ---- the database ------------------------------------------------------------- */

struct database {
	struct ekv_flash *flash;
	ekv_db *db;
	struct ekv_profile p;
	char desc[PATH_MAX + 16];
};

/* Open the flash and the database the way ekvctl does, so that both see
 * the same profile for the same options. */
static int open_database(struct opts *o, struct database *d)
{
	char msg[256] = "";
	int e;
	d->p = o->p;
	if (o->device) {
		e = ekv_flash_mtd_open(o->device, 0, &d->flash, msg, sizeof(msg));
		if (e < 0) {
			ekvd_log(LOG_ERR, "%s: %s", o->device, msg[0] ? msg : ekv_strerror(e));
			return EXIT_FAIL;
		}
		if (o->set[OPT_PAGE_SIZE] && d->flash->page_size != d->p.page_size) {
			ekvd_log(LOG_ERR, "%s: --page-size %u differs from the erase size %u",
				 o->device, d->p.page_size, d->flash->page_size);
			return EXIT_USAGE;
		}
		d->p.page_size = d->flash->page_size;
		if (!o->set[OPT_PAGE_COUNT])
			d->p.page_count = d->flash->page_count;
		snprintf(d->desc, sizeof(d->desc), "device:%s", o->device);
	} else {
		struct stat st;
		bool exists = stat(o->image, &st) == 0;
		if (exists) {
			if (st.st_size == 0 || (uint64_t)st.st_size % d->p.page_size) {
				ekvd_log(LOG_ERR,
					 "%s: size %lld is not a multiple of the page size %u "
					 "(give the image's --page-size)",
					 o->image, (long long)st.st_size, d->p.page_size);
				return EXIT_USAGE;
			}
			uint64_t pages = (uint64_t)st.st_size / d->p.page_size;
			if (pages > 65535) {
				ekvd_log(LOG_ERR, "%s: %llu pages are more than the format's 65535",
					 o->image, (unsigned long long)pages);
				return EXIT_USAGE;
			}
			if (o->set[OPT_PAGE_COUNT] && o->p.page_count != pages) {
				ekvd_log(LOG_ERR, "%s: --page-count %u differs from the image size "
					 "(%llu pages)", o->image, o->p.page_count,
					 (unsigned long long)pages);
				return EXIT_USAGE;
			}
			d->p.page_count = (uint32_t)pages;
		}
	}
	if (!o->set[OPT_MAX_PAGE_COUNT])
		d->p.max_page_count = d->p.page_count > 256 ? d->p.page_count : 256;
	if (ekv_profile_check(&d->p, msg, sizeof(msg)) < 0) {
		ekvd_log(LOG_ERR, "invalid profile: %s", msg);
		return EXIT_USAGE;
	}
	if (o->image) {
		struct stat st;
		if (stat(o->image, &st) < 0)
			ekvd_log(LOG_NOTICE, "%s: creating an erased image of %u pages (format it)",
				 o->image, d->p.page_count);
		e = ekv_flash_file_open(o->image, d->p.page_size, d->p.page_count,
					d->p.erase_value, EKV_FILE_CREATE, &d->flash);
		if (e < 0) {
			ekvd_log(LOG_ERR, "%s: %s", o->image, ekv_strerror(e));
			return EXIT_FAIL;
		}
		char real[PATH_MAX];
		snprintf(d->desc, sizeof(d->desc), "image:%s",
			 realpath(o->image, real) ? real : o->image);
	}
	e = flash_cache_wrap(d->flash, o->cache_size, &d->flash);
	if (e < 0) {
		ekvd_log(LOG_ERR, "cache: %s", ekv_strerror(e));
		return EXIT_FAIL;
	}
	struct ekv_options eo;
	ekv_options_default(&eo);
	eo.seed = o->seed;
	eo.seed_set = o->seed_set;
	eo.busy_timeout_ms = o->busy_timeout_ms;
	e = ekv_open(d->flash, &d->p, &eo, &d->db);
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
		sd_notifyf(0, "STATUS=Serving %s: %u client%s, %llu commits", srv.database, n,
			   n == 1 ? "" : "s", commits);
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
	ekv_profile_default(&o.p);
	o.socket_mode = 0660;
	o.max_clients = 256;
	o.max_cursors = 64;
	o.max_frame = PROTO_DEFAULT_MAX_FRAME;
	o.idle_timeout_ms = 60000;
	o.busy_timeout_ms = 5000;
	o.cache_size = 8u << 20;
	o.busy_poll_us = PROTO_DEFAULT_BUSY_POLL_US;
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
	int rc = parse_args(&o, argc, argv);
	log_verbose = o.verbose;
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
	if (o.max_frame < server_min_frame(&d.p)) {
		ekvd_log(LOG_ERR, "--max-frame-size %u is too small for this profile (at least %u)",
			 o.max_frame, server_min_frame(&d.p));
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
	srv.profile = d.p;
	srv.database = d.desc;
	srv.name = o.section ? o.section : "";
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
	flash_cache_stats(d.flash, &hits, &misses);
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
	ekv_flash_close(d.flash);
out_opts:
	for (unsigned i = 0; i < o.n_owned; i++)
		free(o.owned[i]);
	return rc;
}
