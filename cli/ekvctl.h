/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvctl.h — what the parts of ekvctl share: options, the open database
 * handle, command arguments, messages and exit codes.  ekvctl.c parses the
 * command line and opens databases; inspect.c holds stat, dump, fsck, probe
 * and devices; hexbatch.c the hex workload scripts of `batch --hex`.
 */
#ifndef EKVCTL_H
#define EKVCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ekv.h"

enum { EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_IO = 3, EXIT_CORRUPT = 4, EXIT_BUSY = 5,
       EXIT_NOSPC = 6 };

#define DEFAULT_CONF "/etc/ekv.conf"

enum setting_id {
	S_IMAGE, S_DEVICE, S_PAGE_SIZE, S_PAGE_COUNT, S_MAX_PAGE_COUNT, S_ALIGN, S_ERASE_VALUE,
	S_CRC, S_MAX_CHUNK, S_BF, S_MAX_KEY, S_MAX_VALUE, S_SCRATCH, S_SEED, S_WAIT, S_COUNT
};

#define READ_WAIT_DEFAULT_MS 5000

struct opts {
	const char *conf_path;
	bool conf_explicit;
	const char *db_name;
	const char *image, *device;
	struct ekv_profile p;
	unsigned set; /* 1 << S_*: given on the command line */
	unsigned from_conf;
	uint32_t seed;
	bool seed_set;
	int wait_ms;
	const char *socket; /* --socket: use ekvd there (NULL: the default path) */
	bool socket_forced; /* --socket given: never open directly */
	bool direct;        /* --direct: never use ekvd */
	bool verbose, quiet, yes;
	const char *script;
	char *strings[S_COUNT]; /* values copied from the config file */
};

struct progress {
	bool on;
	const char *label;
	int shown; /* per mille last drawn, -1 none */
};

struct progress_flash {
	struct ekv_flash f;
	struct ekv_flash *inner;
	struct progress *pg;
};

enum open_mode {
	OPEN_READ,    /* read transactions */
	OPEN_WRITE,   /* write transactions */
	OPEN_FORMAT,  /* format: an image is created if missing */
	OPEN_INSPECT, /* fsck, dump: read-only flash, a truncated image tolerated */
};

struct handle {
	struct ekv_flash *flash;
	ekv_db *db;
	struct ekv_profile p;
	const char *name;
	bool is_device;
	bool truncated;        /* image size not a multiple of the page size */
	uint64_t image_size;
	struct progress_flash pf;
	struct ekv_flash_ops pf_ops;
};

struct cmd {
	struct opts *o;
	const char *name;
	char **args;
	int nargs;
	bool value_only, hex, raw, json, keys_only, must_exist, hex_args, replace;
	bool dump_pages, dump_files, dump_records;
	const char *file, *from, *to;
};

extern const char *prog;

int busy_wait_ms(const struct opts *o, enum open_mode mode);
void close_db(struct handle *h);
int fail(int err, const char *what);
int open_db(struct opts *o, enum open_mode mode, struct handle *h, struct progress *pg);
int open_flash(struct opts *o, enum open_mode mode, struct handle *h);
void progress_cb(void *ctx, uint64_t done, uint64_t total);
void progress_end(struct progress *pg);
void progress_init(struct progress *pg, const struct opts *o, const char *label);
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_stat(struct cmd *c);
int cmd_dump(struct cmd *c);
int cmd_fsck(struct cmd *c);
int cmd_probe(struct cmd *c);
int cmd_devices(struct cmd *c);
int run_hex_batch(struct opts *o, const char *path);

#endif
