/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * dbspec.h — which flash, which profile: the one open path of ekvctl and
 * ekvd.  Two processes that worked the profile out differently would read
 * the same flash differently; here it is worked out once.
 *
 * Owns: turning the settings (an image or a device, the profile options)
 * into an open flash and the profile to mount it with: the page size of an
 * MTD device is its erase size, the page count that of the device or the
 * image, max-page-count defaults to max(256, page count), the profile is
 * checked, a missing image is created (DBSPEC_CREATE) and an image cut
 * short is read for inspection (DBSPEC_INSPECT).  A layout that describes
 * itself on flash will be recognised here, before a profile is needed.
 * Must never: print or exit (the callers present the message), mount.
 */
#ifndef EKV_TOOL_DBSPEC_H
#define EKV_TOOL_DBSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekv.h"
#include "settings.h"

enum dbspec_mode {
	DBSPEC_READ,    /* read-only flash; the image must exist */
	DBSPEC_WRITE,   /* read-write flash; the image must exist */
	DBSPEC_CREATE,  /* read-write flash; a missing image is created erased */
	DBSPEC_INSPECT, /* read-only; an image whose size does not match its
			 * profile is read into RAM, so that fsck reports what
			 * is missing (fsck, dump) */
};

struct dbspec {
	struct ekv_flash *flash;
	unsigned layout;     /* the on-disk layout: 1, the only one yet */
	struct ekv_profile p;
	const char *name;    /* the image or device as given */
	bool is_device;
	bool created;        /* DBSPEC_CREATE made the image */
	bool truncated;      /* DBSPEC_INSPECT: the image is shorter than p says */
	uint64_t image_size; /* bytes, of an image */
};

/*
 * Open the flash the settings name, with its profile.  Returns 0, EKV_EINVAL
 * if the settings are wrong (no database, a profile that is not possible
 * or does not fit the flash: a usage error), or another negative code if
 * the flash could not be opened; msg says what and names the image or
 * device.
 */
int dbspec_open(const struct settings *s, enum dbspec_mode mode, struct dbspec *d, char *msg,
		size_t msg_size);
void dbspec_close(struct dbspec *d);

/*
 * The flash alone, for recognising its profile (ekvctl probe): a device
 * read-only, with its erase size as page size; an image read-only in the
 * largest unit of 128 to 65536 bytes that divides its size (d->p.page_size;
 * the profiles tried are those whose page size is a multiple of it).
 * Returns 0, EKV_EINVAL without an image or device, EKV_ENOFMT for an image
 * no page size can divide, or another negative code (msg says which).
 */
int dbspec_open_unknown(const struct settings *s, struct dbspec *d, char *msg, size_t msg_size);

/* "image:REALPATH" or "device:DEV": how ekvd names the database it serves
 * (HELLO) and how ekvctl recognises it. */
void dbspec_describe(const struct settings *s, char *buf, size_t size);

/* ekv_open options the settings give (the allocator seed). */
void dbspec_options(const struct settings *s, struct ekv_options *eo);

#endif
