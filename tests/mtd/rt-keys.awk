# tests/mtd/rt-keys.awk — the round-trip workload, an "ekvctl batch --hex"
# script: 240 keys with binary bytes (00, ff), values of 0..700 bytes, in
# transactions of 1..6 ascending keys, then a delete of every 7th key
# (206 keys remain).  Used by tests/mtd/run on the host (gawk/mawk) and by
# guest-tests.sh in the guest (busybox awk): the output must not depend on
# the awk, so it uses only integer arithmetic and %02x/%04x.
# Usage: awk -f rt-keys.awk </dev/null
BEGIN {
	i = 0
	while (i < 240) {
		g = 1 + (i * 7) % 6
		print "begin"
		for (j = 0; j < g && i < 240; j++) {
			k = sprintf("6b%04x00ff%02x", i, (i * 13) % 256)
			len = (i * 53) % 701
			v = ""
			for (b = 0; b < len; b++)
				v = v sprintf("%02x", (i * 7 + b * 31) % 256)
			if (len == 0)
				v = "-"
			print "w", k, v
			i++
		}
		print "commit"
	}
	for (i = 3; i < 240; i += 7)
		print "d", sprintf("6b%04x00ff%02x", i, (i * 13) % 256)
}
