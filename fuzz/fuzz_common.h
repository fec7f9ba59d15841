/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * fuzz_common.h — shared by the fuzz targets: result-code checks and, when
 * not built with libFuzzer (EKV_LIBFUZZER undefined), a main() that replays
 * corpus files and then feeds randomly mutated copies of them for a given
 * number of seconds (a coverage-blind fuzzer for gcc + ASan builds and the
 * fuzz-smoke test suite).
 *
 *   fuzz_image [-mutate SECONDS] [-seed N] FILE|DIR...
 *
 * A failing input is saved to ./crash-<program name>.
 */
#ifndef EKV_FUZZ_COMMON_H
#define EKV_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekv.h"
#include "rng.h" /* tests/support: rng_u64 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finding: print and abort (libFuzzer and the replay main report it). */
#define FUZZ_FAIL(...)                                                                   \
	do {                                                                             \
		fprintf(stderr, "FUZZ FINDING: " __VA_ARGS__);                           \
		fprintf(stderr, "\n");                                                   \
		abort();                                                                 \
	} while (0)

/* Only error codes that describe the image or the device are acceptable
 * outcomes of an operation; anything else is a finding. */
static inline void fuzz_expect_code(int e, const char *what)
{
	if (e >= 0)
		return;
	switch (e) {
	case EKV_ECORRUPT:
	case EKV_ENOFMT:
	case EKV_ENOSPC:
	case EKV_ENOTFOUND:
	case EKV_ECANCELED:
		return;
	default:
		FUZZ_FAIL("%s returned %d (%s)", what, e, ekv_strerror(e));
	}
}

#ifndef EKV_LIBFUZZER
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FUZZ_HAVE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define FUZZ_HAVE_SANITIZER 1
#endif
#endif

/* The input being run, saved to crash-<target> when it fails. */
static const uint8_t *fuzz_cur;
static size_t fuzz_cur_size;
static char fuzz_crash_path[512];

static void fuzz_save_current(void)
{
	if (!fuzz_cur)
		return;
	int fd = open(fuzz_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		size_t off = 0;
		while (off < fuzz_cur_size) {
			ssize_t w = write(fd, fuzz_cur + off, fuzz_cur_size - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(fd);
		static const char msg[] = "failing input saved to ";
		(void)!write(2, msg, sizeof(msg) - 1);
		(void)!write(2, fuzz_crash_path, strlen(fuzz_crash_path));
		(void)!write(2, "\n", 1);
	}
	fuzz_cur = NULL;
}

static void fuzz_on_signal(int sig)
{
	fuzz_save_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void fuzz_run(const uint8_t *data, size_t size)
{
	fuzz_cur = data;
	fuzz_cur_size = size;
	LLVMFuzzerTestOneInput(data, size);
	fuzz_cur = NULL;
}

struct fuzz_input {
	uint8_t *data;
	size_t size;
};

static struct fuzz_input *fuzz_inputs;
static size_t fuzz_n_inputs, fuzz_cap_inputs;

static void fuzz_load(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		perror(path);
		exit(2);
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return;
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			names = realloc(names, (n + 1) * sizeof(*names));
			names[n] = malloc(strlen(path) + strlen(de->d_name) + 2);
			sprintf(names[n], "%s/%s", path, de->d_name);
			n++;
		}
		closedir(d);
		/* a stable order: replays are reproducible */
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
				char *t = names[j];
				names[j] = names[j - 1];
				names[j - 1] = t;
			}
		for (size_t i = 0; i < n; i++) {
			fuzz_load(names[i]);
			free(names[i]);
		}
		free(names);
		return;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	uint8_t *b = malloc((size_t)st.st_size + 1);
	size_t n = fread(b, 1, (size_t)st.st_size, f);
	fclose(f);
	if (fuzz_n_inputs == fuzz_cap_inputs) {
		fuzz_cap_inputs = fuzz_cap_inputs ? 2 * fuzz_cap_inputs : 64;
		fuzz_inputs = realloc(fuzz_inputs, fuzz_cap_inputs * sizeof(*fuzz_inputs));
	}
	fuzz_inputs[fuzz_n_inputs++] = (struct fuzz_input){b, n};
}

/* A few random edits: bit flips, byte sets, runs of 0x00/0xff, a copied
 * range, a truncation or an extension. */
static size_t fuzz_mutate(uint8_t *b, size_t n, size_t cap, uint64_t *s)
{
	int edits = 1 + (int)(rng_u64(s) % 8);
	for (int i = 0; i < edits; i++) {
		uint64_t r = rng_u64(s);
		size_t at = n ? (size_t)(rng_u64(s) % n) : 0;
		switch (r % 8) {
		case 0:
		case 1:
			if (n)
				b[at] ^= (uint8_t)(1u << (r >> 8) % 8);
			break;
		case 2:
			if (n)
				b[at] = (uint8_t)(r >> 16);
			break;
		case 3:
		case 4: {
			size_t len = 1 + (size_t)(rng_u64(s) % 64);
			if (at + len > n)
				len = n - at;
			memset(b + at, r & 256 ? 0xff : 0x00, len);
			break;
		}
		case 5: {
			size_t from = n ? (size_t)(rng_u64(s) % n) : 0;
			size_t len = 1 + (size_t)(rng_u64(s) % 32);
			if (from + len > n || at + len > n)
				break;
			memmove(b + at, b + from, len);
			break;
		}
		case 6:
			if (n > 1)
				n = 1 + (size_t)(rng_u64(s) % n);
			break;
		default:
			if (n < cap)
				b[n++] = (uint8_t)(r >> 24);
			break;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	double mutate = 0;
	uint64_t seed = 1;
	int first = 1;
	for (; first < argc && argv[first][0] == '-'; first += 2) {
		if (first + 1 >= argc)
			break;
		if (!strcmp(argv[first], "-mutate"))
			mutate = strtod(argv[first + 1], NULL);
		else if (!strcmp(argv[first], "-seed"))
			seed = strtoull(argv[first + 1], NULL, 0);
		else
			break;
	}
	const char *base = strrchr(argv[0], '/');
	snprintf(fuzz_crash_path, sizeof(fuzz_crash_path), "crash-%s", base ? base + 1 : argv[0]);
	signal(SIGABRT, fuzz_on_signal);
	signal(SIGSEGV, fuzz_on_signal);
	signal(SIGBUS, fuzz_on_signal);
	signal(SIGFPE, fuzz_on_signal);
#ifdef FUZZ_HAVE_SANITIZER
	__sanitizer_set_death_callback(fuzz_save_current);
#endif
	for (int i = first; i < argc; i++)
		fuzz_load(argv[i]);
	for (size_t i = 0; i < fuzz_n_inputs; i++)
		fuzz_run(fuzz_inputs[i].data, fuzz_inputs[i].size);
	uint64_t runs = 0;
	if (mutate > 0 && fuzz_n_inputs) {
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		size_t cap = 0;
		for (size_t i = 0; i < fuzz_n_inputs; i++)
			if (fuzz_inputs[i].size > cap)
				cap = fuzz_inputs[i].size;
		cap += 64;
		uint8_t *b = malloc(cap);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > mutate)
				break;
			const struct fuzz_input *in = &fuzz_inputs[rng_u64(&seed) % fuzz_n_inputs];
			memcpy(b, in->data, in->size);
			size_t n = fuzz_mutate(b, in->size, cap, &seed);
			fuzz_run(b, n);
			runs++;
		}
		free(b);
	}
	printf("%s: replayed %zu inputs, ran %llu mutated inputs, no findings\n", argv[0],
	       fuzz_n_inputs, (unsigned long long)runs);
	for (size_t i = 0; i < fuzz_n_inputs; i++)
		free(fuzz_inputs[i].data);
	free(fuzz_inputs);
	return 0;
}
#endif /* EKV_LIBFUZZER */

#endif
