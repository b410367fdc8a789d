/* rusage.c - run a command and report its own peak memory and CPU time.
 *
 *   cmsim_rusage RESULT_FILE COMMAND [ARG...]
 *
 * Forks, executes COMMAND (found on PATH), waits for it with wait4 and
 * writes one line to RESULT_FILE:
 *
 *   maxrss_kb user_seconds system_seconds wall_seconds
 *
 * then exits with the command's exit status (128 + the signal number when a
 * signal ended it; 127 when it could not be executed).
 *
 * Why a program for this: Linux carries a process's peak resident set
 * across exec (the old address space's high-water mark is kept), so a child
 * forked by a large process, such as the Python harness bench/bench.py
 * after parsing a few run.json files, reports at least its parent's peak
 * in ru_maxrss.  Forked from this small program instead, the command's
 * ru_maxrss is its own, to within this program's ~1 MB.
 *
 * wait4 is a BSD extension: bench/CMakeLists.txt defines _DEFAULT_SOURCE.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: cmsim_rusage RESULT_FILE COMMAND [ARG...]\n", stderr);
        return 2;
    }
    double t0 = now_seconds();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cmsim_rusage: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "cmsim_rusage: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "cmsim_rusage: wait4: %s\n", strerror(errno));
            return 127;
        }
    }
    double wall = now_seconds() - t0;
    FILE *f = fopen(argv[1], "w");
    if (f == NULL) {
        fprintf(stderr, "cmsim_rusage: %s: %s\n", argv[1], strerror(errno));
        return 127;
    }
    fprintf(f, "%ld %.6f %.6f %.6f\n", ru.ru_maxrss, seconds(ru.ru_utime), seconds(ru.ru_stime),
            wall);
    if (fclose(f) != 0)
        return 127;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 127;
}
