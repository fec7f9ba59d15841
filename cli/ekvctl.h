/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvctl.h — the commands main() dispatches to outside ekvctl.c: stat,
 * dump, fsck, probe and devices (inspect.c) and the hex workload scripts of
 * `batch --hex` (hexbatch.c).  Each returns an exit status.
 */
#ifndef EKVCTL_H
#define EKVCTL_H

#include "options.h"

int cmd_stat(struct cmd *c);
int cmd_dump(struct cmd *c);
int cmd_fsck(struct cmd *c);
int cmd_probe(struct cmd *c);
int cmd_devices(struct cmd *c);
int run_hex_batch(struct opts *o, const char *path);

#endif
