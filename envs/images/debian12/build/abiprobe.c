/* execbench-abiprobe: what a program of this ABI sees of a filesystem through the
 * classic stat(), readdir() and open() calls.
 *
 * Built twice by abiprobe.sh: with -m32 and WITHOUT -D_FILE_OFFSET_BITS=64 (32-bit ino_t
 * and off_t, as 32-bit software of the SL6 era was built), and natively (64-bit). In the
 * 32-bit build glibc's stat()/lstat()/fstat() fail with EOVERFLOW when st_ino (or st_size,
 * st_blocks) does not fit in 32 bits, and readdir() stops with EOVERFLOW at an entry whose
 * d_ino or d_off does not fit: the files "go missing". That is the 2015 RACF study's
 * kernel/userland ABI issue (32-bit SL6 software on an SL7 host whose XFS is mounted
 * inode64, inode numbers above 2^32); glibc: sysdeps/unix/sysv/linux/fstatat.c
 * (in_ino_t_range) and getdents.c (the dirent64 -> dirent conversion).
 *
 * Usage: execbench-abiprobe [--max-entries N] DIR...
 * Output (stdout), one record per line, the record type then tab-separated key=value:
 *   probe  version=2 bits=32|64 ino_t=4|8 off_t=4|8 d_ino=4|8
 *   dir    path=P stat=ok|ERR ino=N|- dev=N|- readdir=ok|ERR entries=N dot_ino=N|- dotdot_ino=N|-
 *   entry  path=P d_ino=N d_off=N lstat=ok|ERR ino=N|- type=reg|dir|lnk|other|- open=ok|ERR|- fstat=ok|ERR|- match=yes|no|mount|-
 *   end    dirs=N entries=N eoverflow=N mismatches=N
 * d_off is readdir's directory offset (telldir cookie): a 32-bit readdir() also fails with
 * EOVERFLOW when it does not fit in 32 bits (a 64-bit hash cookie passed through, e.g. by a 9p
 * server). ERR is the errno's name (EOVERFLOW, EACCES, ...). match compares readdir's d_ino with
 * lstat's st_ino ("mount": the entry is a mount point, where the two differ by design).
 * "." and ".." are not listed as entries; the dir line gives their d_ino as readdir returned them
 * ("-": not reached), since readdir() fails on them too when they do not fit (a directory whose
 * parent has a large inode number). At most N entries per directory (default 64) are listed.
 * Exit status 0 when every line was written (errors of the probed calls are results),
 * 2 on bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
#error "build the probe without _FILE_OFFSET_BITS=64: it must see the classic ABI"
#endif

static const char *errname(int err) {
    static char buf[16];
    switch (err) {
    case EOVERFLOW: return "EOVERFLOW";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ELOOP: return "ELOOP";
    case ENOTDIR: return "ENOTDIR";
    case EIO: return "EIO";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENXIO: return "ENXIO";
    case EISDIR: return "EISDIR";
    case EBUSY: return "EBUSY";
    case ETXTBSY: return "ETXTBSY";
    case ESTALE: return "ESTALE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    }
    snprintf(buf, sizeof buf, "E%d", err);
    return buf;
}

static const char *type_of(mode_t mode) {
    if (S_ISREG(mode)) return "reg";
    if (S_ISDIR(mode)) return "dir";
    if (S_ISLNK(mode)) return "lnk";
    return "other";
}

static unsigned long eoverflow, mismatches, total_entries;

static void note(int err) {
    if (err == EOVERFLOW) eoverflow++;
}

static void probe_entry(const char *dir, const struct dirent *de, dev_t dir_dev) {
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
    if (n < 0 || (size_t)n >= sizeof path) return;
    printf("entry\tpath=%s\td_ino=%llu\td_off=%lld", path, (unsigned long long)de->d_ino, (long long)de->d_off);
    if (lstat(path, &st) != 0) {
        int err = errno;
        note(err);
        printf("\tlstat=%s\tino=-\ttype=-\topen=-\tfstat=-\tmatch=-\n", errname(err));
        return;
    }
    const char *match = st.st_dev != dir_dev ? "mount" : (unsigned long long)st.st_ino == (unsigned long long)de->d_ino ? "yes" : "no";
    if (match[0] == 'n') mismatches++;
    printf("\tlstat=ok\tino=%llu\ttype=%s", (unsigned long long)st.st_ino, type_of(st.st_mode));
    if (!S_ISREG(st.st_mode)) {
        printf("\topen=-\tfstat=-\tmatch=%s\n", match);
        return;
    }
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        note(err);
        printf("\topen=%s\tfstat=-\tmatch=%s\n", errname(err), match);
        return;
    }
    struct stat fst;
    if (fstat(fd, &fst) != 0) {
        int err = errno;
        note(err);
        printf("\topen=ok\tfstat=%s\tmatch=%s\n", errname(err), match);
    } else {
        printf("\topen=ok\tfstat=ok\tmatch=%s\n", match);
    }
    close(fd);
}

static void probe_dir(const char *dir, long max_entries) {
    struct stat st;
    dev_t dev = 0;
    printf("dir\tpath=%s", dir);
    if (stat(dir, &st) != 0) {
        int err = errno;
        note(err);
        printf("\tstat=%s\tino=-\tdev=-", errname(err));
    } else {
        dev = st.st_dev;
        printf("\tstat=ok\tino=%llu\tdev=%llu", (unsigned long long)st.st_ino, (unsigned long long)st.st_dev);
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        int err = errno;
        note(err);
        printf("\treaddir=%s\tentries=0\n", errname(err));
        return;
    }
    /* entries are listed after the dir line: collect them first (readdir's verdict goes on it) */
    struct dirent *kept = NULL;
    long count = 0, capacity = 0;
    const char *verdict = "ok";
    char dot[24] = "-", dotdot[24] = "-";
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                note(errno);
                verdict = errname(errno); /* glibc: stops here; the rest of the directory is unreachable */
            }
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            snprintf(de->d_name[1] ? dotdot : dot, sizeof dot, "%llu", (unsigned long long)de->d_ino);
            continue;
        }
        if (count >= max_entries) continue; /* keep reading: an overflow further on still counts */
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            kept = realloc(kept, capacity * sizeof *kept);
            if (kept == NULL) { perror("realloc"); exit(1); }
        }
        memcpy(&kept[count++], de, sizeof *de);
    }
    printf("\treaddir=%s\tentries=%ld\tdot_ino=%s\tdotdot_ino=%s\n", verdict, count, dot, dotdot);
    for (long i = 0; i < count; i++) probe_entry(dir, &kept[i], dev);
    total_entries += count;
    free(kept);
    closedir(d);
}

int main(int argc, char **argv) {
    long max_entries = 64;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--max-entries") == 0) {
        max_entries = strtol(argv[2], NULL, 10);
        first = 3;
    }
    if (first >= argc || max_entries < 1) {
        fprintf(stderr, "usage: %s [--max-entries N] DIR...\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    printf("probe\tversion=2\tbits=%u\tino_t=%u\toff_t=%u\td_ino=%u\n", (unsigned)(8 * sizeof(void *)),
           (unsigned)sizeof(ino_t), (unsigned)sizeof(off_t), (unsigned)sizeof(((struct dirent *)0)->d_ino));
    for (int i = first; i < argc; i++) probe_dir(argv[i], max_entries);
    printf("end\tdirs=%d\tentries=%lu\teoverflow=%lu\tmismatches=%lu\n", argc - first, total_entries, eoverflow,
           mismatches);
    return fflush(stdout) == 0 ? 0 : 1;
}
