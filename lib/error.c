/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * error.c — ekv_strerror(): the text of every EKV_E* code.
 *
 * Owns: the wording of errors.  Must never: return NULL or depend on the
 * state of any handle.
 */
#include <string.h>

#include "ekv.h"

const char *ekv_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case EKV_ENOTFOUND:
		return "key not found";
	case EKV_EIO:
		return "flash I/O error";
	case EKV_ECORRUPT:
		return "database corrupted";
	case EKV_ENOFMT:
		return "no database found (not formatted, or wrong profile)";
	case EKV_ENOSPC:
		return "database full";
	case EKV_EBUSY:
		return "database busy (another writer holds it)";
	case EKV_EINVAL:
		return "invalid argument";
	case EKV_ENOMEM:
		return "out of memory";
	case EKV_ETOOBIG:
		return "key or value too large for the profile";
	case EKV_ENOTSORTED:
		return "keys of a transaction must be written in ascending order";
	case EKV_ECANCELED:
		return "transaction canceled by an earlier error";
	case EKV_ERANGE:
		return "buffer too small";
	case EKV_EPERM:
		return "permission denied";
	case EKV_EROFS:
		return "database is read-only";
	case EKV_EPROTO:
		return "protocol error";
	case EKV_ENOTSUP:
		return "not supported";
	default:
		if (err < 0) {
			const char *s = strerror(-err);
			return s ? s : "unknown error";
		}
		return "unknown error";
	}
}
