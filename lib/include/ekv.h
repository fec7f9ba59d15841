/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libekv — a key-value store for raw NOR flash, built as an LSM tree.
 *
 * On-disk format: ekv 1.0 (the Rust crate embassy-rs/ekv) with a runtime
 * profile instead of compile-time constants; see docs/FORMAT.md.
 *
 * Conventions: every function that can fail returns 0 (or a positive value
 * where documented) on success and a negative EKV_E* code on failure;
 * ekv_strerror() turns a code into text.  Keys and values are arbitrary byte
 * strings.  A handle (ekv_db) may be used from many threads at once: one write
 * transaction and any number of read transactions and cursors at a time.
 *
 * Handles and NULL — every function checks its arguments the same way, for
 * local (ekv_open) and remote (ekv_connect) handles alike:
 *  - a NULL handle (ekv_db, ekv_rtx, ekv_wtx, ekv_cursor, struct ekv_flash)
 *    gives EKV_EINVAL; ekv_close, ekv_rtx_end, ekv_cursor_close,
 *    ekv_wtx_abort and ekv_flash_close of NULL do nothing;
 *  - a NULL result pointer (out, st, info, res, g, level, ...) gives
 *    EKV_EINVAL; whenever it is not NULL, *out is set to NULL and a result
 *    struct is zeroed before anything else, so neither holds garbage after a
 *    failure;
 *  - a NULL buffer with a nonzero length or capacity (key, value, prefix)
 *    gives EKV_EINVAL;
 *  - NULL is allowed where a comment gives it a meaning: options (defaults),
 *    the socket path, the probe hint, cursor bounds (start or end NULL: no
 *    bound, whatever its length), length outputs (key_len, value_len),
 *    callbacks (report, progress, log), msg buffers, ekv_open's profile
 *    (a layout 2 database, everything from the image) and ekv_detect's;
 *  - a NULL profile elsewhere gives EKV_EINVAL; ekv_profile_default,
 *    ekv_options_default and ekv_connect_options_default ignore NULL.
 */
#ifndef EKV_H
#define EKV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EKV_VERSION "0.1.0"

/* Marks the functions libekv.so exports; everything else in it is hidden. */
#if defined(__GNUC__)
#define EKV_API __attribute__((visibility("default")))
#else
#define EKV_API
#endif

/* ---- errors -------------------------------------------------------------- */

enum {
	EKV_OK = 0,
	EKV_ENOTFOUND = -ENOENT,    /* key does not exist (or is deleted) */
	EKV_EIO = -EIO,             /* flash I/O error */
	EKV_ECORRUPT = -EBADMSG,    /* flash contents are inconsistent */
	EKV_ENOFMT = -ENODATA,      /* no database found (not formatted) */
	EKV_ENOSPC = -ENOSPC,       /* database full */
	EKV_EBUSY = -EBUSY,         /* another writer / pinned pages; timed out */
	EKV_EINVAL = -EINVAL,       /* invalid argument or profile */
	EKV_ENOMEM = -ENOMEM,       /* out of memory */
	EKV_ETOOBIG = -E2BIG,       /* key or value larger than the profile allows */
	EKV_ENOTSORTED = -EILSEQ,   /* keys of a write transaction not ascending */
	EKV_ECANCELED = -ECANCELED, /* transaction canceled by an earlier error */
	EKV_ERANGE = -ERANGE,       /* caller's buffer too small */
	EKV_EPERM = -EPERM,         /* operation not permitted (read-only) */
	EKV_EROFS = -EROFS,         /* database opened read-only */
	EKV_EPROTO = -EPROTO,       /* malformed protocol message */
	EKV_ENOTSUP = -ENOTSUP,     /* device or feature not supported */
};

/* Text for an EKV_E* code (or any negative errno). Never NULL. */
EKV_API const char *ekv_strerror(int err);

/* ---- profile: the on-disk geometry ---------------------------------------- */

/*
 * The image does not describe its own profile: every open must be given the
 * profile the image was formatted with.  Defaults are the Rust crate's.
 */
struct ekv_profile {
	/* layout 1 (the Rust crate's format; docs/FORMAT.md Part I) */
	uint32_t page_size;          /* erase block size; default 4096 */
	uint32_t page_count;         /* pages in use; default 256 */
	uint32_t max_page_count;     /* bound that sizes on-disk structures; default max(256, page_count) */
	uint32_t align;              /* both layouts: 1, 2 or 4 (layout 2: also 8, 16); default 4 */
	uint8_t erase_value;         /* both layouts: 0xFF or 0x00; default 0xFF */
	bool crc;                    /* CRC-32 of headers and chunks; default off */
	uint32_t max_chunk_size;     /* default 4096 */
	uint32_t branching_factor;   /* 2..4; default 2 */
	uint32_t max_key_size;       /* both layouts: 1..1024; default 64 */
	uint32_t max_value_size;     /* both layouts: 1..65536 (layout 2: 0..1 MiB-1); default 1024 */
	uint32_t scratch_page_count; /* free-space reserve; default 4 */
	/*
	 * Which layout: 0 (default) detects it at ekv_open — layout 2 when the
	 * flash holds a layout 2 image or no database at all, layout 1 when it
	 * holds a layout 1 image — 1 or 2 forces it.  Layout 2 (ekv's own,
	 * docs/FORMAT.md Part II) describes itself: its fields below, 0 by
	 * default, mean "the image's" on an existing image and "derived from
	 * the flash" when formatting; a nonzero field that contradicts the
	 * image makes the mount fail with EKV_EINVAL (ekv_options.log names
	 * both values).
	 */
	uint32_t layout;
	uint32_t block_size;     /* layout 2: erase block size; 0: the flash's page_size */
	uint32_t block_count;    /* layout 2: blocks used; 0: the flash's page_count */
	uint32_t write_size;     /* layout 2: program unit; 0: the flash's write_size, at least align */
	uint32_t journal_blocks; /* layout 2: journal length; 0: min(8, blocks / 8), at least 2 */
	uint32_t memtable_kib;   /* layout 2: memtable cap; 0: min(28, capacity / 32) */
	bool nand;               /* layout 2: keep spare blocks for blocks that go bad */
};

/* Fill *p with the defaults (page_count 256, max_page_count 256, layout 0:
 * detect). */
EKV_API void ekv_profile_default(struct ekv_profile *p);

/*
 * Check that a profile is possible.  On error, a human-readable reason is
 * written to msg (if msg != NULL) and EKV_EINVAL returned.
 */
EKV_API int ekv_profile_check(const struct ekv_profile *p, char *msg, size_t msg_size);

/* Derived sizes, for tools (ekvctl stat/dump) and tests. */
struct ekv_geometry {
	uint32_t page_header_size, chunk_header_size;
	uint32_t meta_header_size, data_header_size;
	uint32_t chunk_max_len;        /* page::MAX_CHUNK_SIZE */
	uint32_t page_max_payload;     /* PAGE_MAX_PAYLOAD_SIZE */
	uint32_t skiplist_len, skiplist_shift;
	uint32_t level_count, file_count;
	uint32_t key_size_bits, value_size_bits, record_header_size;
	uint32_t min_free_page_count;
};
EKV_API int ekv_profile_geometry(const struct ekv_profile *p, struct ekv_geometry *g);

/* ---- flash backends ------------------------------------------------------- */

/* A line of text for the caller (no newline): a report, a dump, a log
 * message.  The library never prints; it returns codes and calls these. */
typedef void (*ekv_line_fn)(void *ctx, const char *line);

/*
 * A flash device: erase pages, read and program bytes.  Offsets and lengths
 * passed by the library are multiples of the profile's align.  Programming
 * happens only on erased bytes, at most once per erase.  Callbacks return 0 or
 * a negative errno; they must be safe to call from several threads at once
 * for different pages (readers read while the writer programs other pages).
 */
struct ekv_flash_ops {
	int (*read)(void *ctx, uint32_t page, uint32_t offset, void *buf, uint32_t len);
	int (*write)(void *ctx, uint32_t page, uint32_t offset, const void *buf, uint32_t len);
	int (*erase)(void *ctx, uint32_t page);
	void (*destroy)(void *ctx); /* optional */
	/*
	 * Optional inter-process lock of the whole database: op is EKV_LOCK_SH
	 * (a read operation), EKV_LOCK_EX (a write transaction) or EKV_LOCK_UN.
	 * timeout_ms < 0 waits forever, 0 fails at once.  Returns 0 or
	 * EKV_EBUSY (held by another process) or another negative code.
	 * EKV_LOCK_EX while holding EKV_LOCK_SH is a conversion: when it fails
	 * the shared lock must still be held, and no other process may get
	 * the exclusive lock while the conversion runs (docs/DESIGN.md §4).
	 */
	int (*lock)(void *ctx, int op, int timeout_ms);
	/*
	 * Optional change detection between processes: change_token() returns
	 * a value that differs after any other process committed; the writer
	 * calls mark_changed() (holding EKV_LOCK_EX) after each commit.  With a
	 * lock op but no change_token, the database remounts whenever it takes
	 * the lock afresh.
	 */
	int (*change_token)(void *ctx, uint64_t *token);
	int (*mark_changed)(void *ctx);
	/*
	 * Optional write barrier: return once every write and erase before it
	 * is durable (the file backend: fdatasync).  The library calls it
	 * where the power-loss argument orders writes (docs/DESIGN.md §2):
	 * before a commit record, after it, and before a new meta page's
	 * header.  NULL: every write is durable when it returns (MTD, RAM).
	 */
	int (*sync)(void *ctx);
};
#define EKV_LOCK_SH 1
#define EKV_LOCK_EX 2
#define EKV_LOCK_UN 3

struct ekv_flash {
	const struct ekv_flash_ops *ops;
	void *ctx;
	uint32_t page_size;
	uint32_t page_count;
	uint32_t write_size;  /* smallest programmable unit (lower bound for align) */
	uint8_t erase_value;
	bool read_only;
	/*
	 * Optional: where the backend tells what a return code cannot carry
	 * (the MTD backend's EKV_MTD_VERIFY_ERASED refusal names the offset and
	 * the byte it found).  NULL: not told.  Set it before the flash is used;
	 * ekv_open() sets it from ekv_options.log when it is NULL.
	 */
	ekv_line_fn log;
	void *log_ctx;
};

/* Destroy a flash object made by one of the constructors below (NULL: nothing). */
EKV_API void ekv_flash_close(struct ekv_flash *f);

/*
 * File image with real flash semantics: erase fills erase_value; programming
 * moves bits away from the erased value only (AND for 0xFF, OR for 0x00).
 * I/O is pread/pwrite only, one pwrite per program or erase, and fdatasync
 * at the write barriers (ekv_flash_ops.sync), so that an acknowledged
 * commit survives a crash of the machine.
 */
#define EKV_FILE_RDONLY  0x1 /* open read-only */
#define EKV_FILE_CREATE  0x2 /* create (erased) if missing, size page_size*page_count */
#define EKV_FILE_STRICT  0x4 /* fail on programming a non-erased byte */
#define EKV_FILE_NOLOCK  0x8 /* do not flock() the image */
#define EKV_FILE_NOSYNC  0x10 /* no fdatasync: durable only as far as the page cache is */
EKV_API int ekv_flash_file_open(const char *path, uint32_t page_size, uint32_t page_count,
			uint8_t erase_value, unsigned flags, struct ekv_flash **out);

/*
 * Linux MTD character device: "/dev/mtdN", "/dev/mtdNro" or "mtd:NAME" (a
 * partition name, resolved through /sys/class/mtd/ * /name).  Page size and
 * count come from MEMGETINFO.  Refuses devices the format cannot serve
 * (NAND with bad blocks, writesize > 4, erasesize > 64 KiB) with
 * EKV_ENOTSUP; msg (if not NULL) receives a message naming the numbers.
 * The lock op uses /run/lock/ekv/mtdN.lock (N = canonical MTD index).
 */
#define EKV_MTD_RDONLY        0x1 /* open O_RDONLY; write/erase fail with EKV_EROFS */
#define EKV_MTD_VERIFY_ERASED 0x2 /* read before every program; fail if not erased */
EKV_API int ekv_flash_mtd_open(const char *dev, unsigned flags, struct ekv_flash **out, char *msg,
		       size_t msg_size);

/*
 * Which layout a flash holds: 2 (a layout 2 image: *p, if not NULL, gets its
 * format parameters — layout, block_size, block_count, write_size, align,
 * erase_value, max_key_size, max_value_size, journal_blocks, memtable_kib,
 * nand — and keeps its other fields), 1 (a layout 1 page header at the start
 * of a page of the flash's page size), 0 (neither: erased, or no database
 * this library knows), or a negative code on an I/O error.  Reads the first
 * bytes of every block until it has an answer.
 */
EKV_API int ekv_detect(struct ekv_flash *f, struct ekv_profile *p);

/*
 * The same for an image file whose block size is not known yet: looks for a
 * layout 2 block header at every multiple of 128 bytes and takes the block
 * size it names.  2 with *p filled, 0 when the file holds no layout 2 image
 * (layout 1 images do not name their page size), or a negative code.
 */
EKV_API int ekv_detect_image(const char *path, struct ekv_profile *p);

/* ---- database handle ------------------------------------------------------ */

typedef struct ekv_db ekv_db;
typedef struct ekv_rtx ekv_rtx;
typedef struct ekv_wtx ekv_wtx;
typedef struct ekv_cursor ekv_cursor;

/*
 * What mount does when it finds damage — committed data it cannot use, as
 * opposed to a torn last commit, which it rolls back silently (decision
 * table: docs/FORMAT.md §9).
 */
enum ekv_on_damage {
	EKV_ON_DAMAGE_AUTO = 0, /* REFUSE with crc, FALLBACK without */
	EKV_ON_DAMAGE_FALLBACK, /* mount the newest state that validates; ekv_stat says what was lost */
	EKV_ON_DAMAGE_REFUSE,   /* mounting fails with EKV_ECORRUPT */
};

struct ekv_options {
	uint32_t seed;          /* allocator seed; used when seed_set */
	bool seed_set;          /* false: getrandom() */
	int busy_timeout_ms;    /* wait for a writer slot / pinned pages; <0 forever; default 5000 */
	bool read_only;         /* refuse write transactions and format */
	bool rust_meta_log;     /* log every file touched since mount (Rust-identical bytes) */
	enum ekv_on_damage on_damage; /* default EKV_ON_DAMAGE_AUTO */
	/* Optional: messages that no return code carries, e.g. what a flash
	 * backend refused (NULL: none).  ekv_open() makes it the flash's log if
	 * the flash has none, and ekv_close() takes it back. */
	ekv_line_fn log;
	void *log_ctx;
};
EKV_API void ekv_options_default(struct ekv_options *o);

/*
 * Open a database on a flash.  The layout is p->layout; with 0 (the default)
 * or a NULL profile, ekv_open reads the start of the flash's blocks to tell
 * (ekv_detect): layout 1 needs the profile it was formatted with, layout 2
 * takes everything from the image (and formats a blank flash with the
 * profile's layout 2 fields, or the flash's geometry).  Nothing else happens
 * here: the database mounts on first use (or ekv_mount()).  The flash is not
 * owned by the handle.
 */
EKV_API int ekv_open(struct ekv_flash *flash, const struct ekv_profile *p,
	     const struct ekv_options *o, ekv_db **out);
EKV_API void ekv_close(ekv_db *db);

/* Erase metadata and write an empty database (not atomic). */
EKV_API int ekv_format(ekv_db *db);
/* Mount now; EKV_ENOFMT if no database is found. */
EKV_API int ekv_mount(ekv_db *db);

/* Statistics of the mounted state. */
struct ekv_stat {
	uint32_t page_count, pages_used, pages_free, pages_pinned;
	uint32_t meta_page, meta_seq;
	uint32_t file_count;
	uint32_t file_pages[64]; /* pages per file id (file_count entries) */
	uint64_t file_bytes[64]; /* live payload bytes per file id */
	uint8_t file_flags[64];
	uint64_t generation;     /* number of commits since open */
	/*
	 * Recovery: damaged is set when the last mount found committed data it
	 * could not use and mounted an older state (EKV_ON_DAMAGE_FALLBACK): it
	 * fell back from meta page damaged_meta_page (seq damaged_meta_seq) to
	 * meta_page (meta_seq), leaving lost_commits commits (meta log chunks)
	 * and lost_files files' newest states unused.  A torn last commit is
	 * not damage and is not reported.
	 */
	bool damaged;
	uint32_t damaged_meta_page, damaged_meta_seq;
	uint32_t lost_commits, lost_files;
	uint32_t layout;         /* 1 or 2; the fields above are layout 1's, below layout 2's */
	/* layout 2: blocks */
	uint32_t block_size, block_count, write_size;
	uint32_t blocks_used, blocks_free, blocks_pinned, blocks_bad, blocks_spare;
	uint32_t erase_min, erase_max, erase_mean; /* erase counts of the good blocks */
	/* layout 2: journal, memtable, tables */
	uint32_t journal_blocks, journal_used; /* the cap and the current epoch's blocks */
	uint32_t epoch;
	uint64_t seq;                          /* sequence number of the newest entry */
	uint32_t memtable_bytes, memtable_cap, memtable_records;
	uint32_t tables, levels;
	uint32_t level_tables[16];
	uint64_t level_bytes[16];              /* table stream bytes per level */
	uint64_t flushes, compactions;         /* since open */
	uint64_t heap_bytes;                   /* RAM the handle holds for the database */
};
EKV_API int ekv_stat(ekv_db *db, struct ekv_stat *st);

/* ---- read transactions (snapshots) ---------------------------------------- */

/* A consistent snapshot of the committed state; never blocks on writers. */
EKV_API int ekv_rtx_begin(ekv_db *db, ekv_rtx **out);
EKV_API void ekv_rtx_end(ekv_rtx *rtx);

/*
 * Point lookup.  On success the value length is stored in *value_len and
 * min(len, value_cap) bytes are copied.  If the value is longer than
 * value_cap, EKV_ERANGE is returned with *value_len set to the full length
 * (nothing copied).
 */
EKV_API int ekv_rtx_get(ekv_rtx *rtx, const void *key, size_t key_len, void *value, size_t value_cap,
		size_t *value_len);

/* ---- cursors -------------------------------------------------------------- */

/*
 * Iterate keys in ascending byte order.  start == NULL: from the first key;
 * end == NULL: to the last key; otherwise [start, end).  The cursor holds
 * its own snapshot: it stays valid across concurrent commits and
 * compactions, and may outlive the read transaction it came from.
 */
EKV_API int ekv_cursor_open(ekv_rtx *rtx, const void *start, size_t start_len, const void *end,
		    size_t end_len, ekv_cursor **out);
EKV_API int ekv_cursor_open_prefix(ekv_rtx *rtx, const void *prefix, size_t prefix_len,
			   ekv_cursor **out);
/*
 * Next pair: returns 1 and fills key/value, 0 at the end, or an error.
 * EKV_ERANGE if a buffer is too small (lengths stored, cursor not advanced).
 */
EKV_API int ekv_cursor_next(ekv_cursor *c, void *key, size_t key_cap, size_t *key_len, void *value,
		    size_t value_cap, size_t *value_len);
EKV_API void ekv_cursor_close(ekv_cursor *c);

/* ---- write transactions --------------------------------------------------- */

/* Waits (up to busy_timeout_ms) for the writer slot; EKV_EBUSY on timeout. */
EKV_API int ekv_wtx_begin(ekv_db *db, ekv_wtx **out);
/* Keys must be strictly ascending within a transaction (EKV_ENOTSORTED). */
EKV_API int ekv_wtx_put(ekv_wtx *tx, const void *key, size_t key_len, const void *value, size_t value_len);
EKV_API int ekv_wtx_delete(ekv_wtx *tx, const void *key, size_t key_len);
/* Commit atomically and free the transaction (also on error). */
EKV_API int ekv_wtx_commit(ekv_wtx *tx);
/* Discard everything written and free the transaction. */
EKV_API void ekv_wtx_abort(ekv_wtx *tx);

/* Run one compaction step now; returns 1 if there was work, 0 if none. */
EKV_API int ekv_compact(ekv_db *db);

/* ---- tools: verification, dump, probe (ekvctl) ---- */

/* The progress of a long operation (a report line: ekv_line_fn above). */
typedef void (*ekv_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Level and slot of a file id (docs/FORMAT.md §7); level -1 for file 0, the
 * destination of a level-0 compaction. */
EKV_API int ekv_file_level(const struct ekv_profile *p, uint32_t file_id, int *level, int *slot);

struct ekv_check_result {
	uint32_t errors;           /* damage found (0: clean) */
	uint32_t warnings;         /* tolerated: a torn last commit, another page count */
	bool mounted;              /* the engine mounts the image */
	uint32_t meta_page, meta_seq, meta_candidates;
	uint32_t pages, pages_used, pages_free_erased, pages_free_stale;
	uint32_t files, records, tombstones;
	uint32_t max_key_len, max_value_len;
	uint64_t payload_bytes;
};

/*
 * Verify an image against a profile: every page header, chunk (and CRC), the
 * meta log, each file's chain (seqs, skiplists, record boundaries) and every
 * record (header, ascending keys), and that the engine mounts the newest
 * state.  Each finding is reported as a line starting "error: " or
 * "warning: ".  The flash may have any page size whose multiple or divisor
 * the profile's is.  Read-only.  Returns 0 (see res->errors) or a negative
 * code for I/O errors and an invalid profile.
 */
EKV_API int ekv_check(struct ekv_flash *f, const struct ekv_profile *p, ekv_line_fn report,
	      ekv_progress_fn progress, void *ctx, struct ekv_check_result *res);

/* Dump pages (headers, chunks, meta logs), files (chains) and records of the
 * newest state as text lines, for debugging.  Read-only. */
#define EKV_DUMP_PAGES   0x1
#define EKV_DUMP_FILES   0x2
#define EKV_DUMP_RECORDS 0x4
EKV_API int ekv_dump(struct ekv_flash *f, const struct ekv_profile *p, unsigned what, ekv_line_fn out,
	     void *ctx);

/*
 * Recognise the profile of an image: page size, CRC, erase value, align,
 * max page count, max chunk size, branching factor and key/value sizes that
 * mount it and verify it (ekv_check without errors).  Fields named in
 * `fixed` are taken from hint; the others prefer hint's (or the default)
 * values when several read the image alike.  Returns 1 found, 0 not
 * recognised (log says why), or a negative code.
 */
#define EKV_PROBE_PAGE_SIZE        0x001
#define EKV_PROBE_ALIGN            0x002
#define EKV_PROBE_ERASE_VALUE      0x004
#define EKV_PROBE_CRC              0x008
#define EKV_PROBE_MAX_PAGE_COUNT   0x010
#define EKV_PROBE_MAX_CHUNK_SIZE   0x020
#define EKV_PROBE_BRANCHING_FACTOR 0x040
#define EKV_PROBE_MAX_KEY_SIZE     0x080
#define EKV_PROBE_MAX_VALUE_SIZE   0x100
struct ekv_probe_result {
	struct ekv_profile profile;
	unsigned determined;            /* EKV_PROBE_* fields the image decides */
	struct ekv_check_result check;  /* of the image with that profile */
};
EKV_API int ekv_probe(struct ekv_flash *f, const struct ekv_profile *hint, unsigned fixed,
	      ekv_line_fn log, void *ctx, struct ekv_probe_result *out);

/* ---- remote handles (ekvd) ---- */

/*
 * A handle on the database that ekvd(8) serves over a Unix socket.  Every
 * call above that takes an ekv_db, ekv_rtx, ekv_wtx or ekv_cursor works on
 * it as on a local handle, from many threads (each transaction uses its own
 * connection from a small pool), with the daemon's engine's snapshots and
 * results.  ekv_format is served (EKV_EBUSY while other clients hold
 * snapshots); ekvd refuses writes, format and compact of a peer in its
 * read-only group with EKV_EPERM.  A lost or timed-out connection gives
 * EKV_EIO (the outcome of a commit in flight is then unknown); a transaction
 * the daemon ended (shutdown, idle timeout) gives EKV_ECANCELED.  Close it
 * with ekv_close().  The flash functions and ekv_open do not apply.
 */
#define EKV_DEFAULT_SOCKET "/run/ekv/ekv.sock"

struct ekv_connect_options {
	int busy_timeout_ms;     /* wait for the writer (ekv_wtx_begin, format, compact),
				    then EKV_EBUSY; <0 forever; default 5000 */
	int io_timeout_ms;       /* wait this much longer for any reply before EKV_EIO;
				    <0 forever; default 30000 */
	bool read_only;          /* refuse writes here with EKV_EROFS, like ekv_options */
	uint32_t max_frame_size; /* largest reply frame accepted; 0: 1 MiB */
	int busy_poll_us;        /* poll for a reply this long before sleeping (low latency on
				    small machines); default 50; 0: off */
};
EKV_API void ekv_connect_options_default(struct ekv_connect_options *o);

/* Connect to ekvd at socket_path (NULL: $EKV_SOCKET, else EKV_DEFAULT_SOCKET);
 * o == NULL: defaults.  EKV_EIO if no daemon listens there, EKV_EPERM if
 * the socket's permissions refuse us, EKV_EBUSY if ekvd has its maximum of
 * clients, EKV_EPROTO if it speaks another protocol version. */
EKV_API int ekv_connect(const char *socket_path, const struct ekv_connect_options *o, ekv_db **out);

/* What the daemon of a remote handle serves; EKV_EINVAL for a local handle. */
struct ekv_remote_info {
	struct ekv_profile profile; /* of the database ekvd opened (size buffers by it) */
	bool read_only;             /* ekvd refuses this process's writes (EKV_EPERM) */
	uint32_t max_frame_size;    /* largest frame ekvd accepts */
	char database[1025];        /* "image:/abs/path" or "device:DEV" */
	char name[1025];            /* its ekv.conf section, or "" if given by options */
};
EKV_API int ekv_remote_info(ekv_db *db, struct ekv_remote_info *info);

#ifdef __cplusplus
}
#endif
#endif
