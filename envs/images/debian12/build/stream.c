/*-----------------------------------------------------------------------*/
/* execbench-stream: based on a variant of the STREAM benchmark code.    */
/*                                                                       */
/* A re-implementation of the four STREAM kernels (Copy, Scale, Add,     */
/* Triad) written for execbench from the public description of STREAM   */
/* version 5.10, printing the same report lines so that tools reading    */
/* STREAM output read this one. Difference from upstream: the array size */
/* and the number of repetitions are command-line arguments (one binary  */
/* serves the smoke and standard sizes). Results from it must therefore  */
/* be labelled "based on a variant of the STREAM benchmark code".        */
/* Built twice (build/stream.sh): serially, and with -fopenmp as         */
/* execbench-stream-omp, whose kernels run in OMP_NUM_THREADS threads    */
/* and which prints the thread counts as upstream STREAM does.           */
/*                                                                       */
/* STREAM is Copyright 1991-2013: John D. McCalpin. Its license:         */
/*  1. You are free to use this program and/or to redistribute           */
/*     this program.                                                     */
/*  2. You are free to modify this program for your own use,             */
/*     including commercial use, subject to the publication              */
/*     restrictions in item 3.                                           */
/*  3. You are free to publish results obtained from running this        */
/*     program, or from works that you derive from this program,         */
/*     with the following limitations:                                   */
/*     3a. In order to be referred to as "STREAM benchmark results",     */
/*         published results must be in conformance to the STREAM        */
/*         Run Rules, published at                                       */
/*         http://www.cs.virginia.edu/stream/ref.html                    */
/*         and incorporated herein by reference.                         */
/*         As the copyright holder, John McCalpin retains the            */
/*         right to determine conformity with the Run Rules.             */
/*     3b. Results based on modified source code or on runs not in       */
/*         accordance with the STREAM Run Rules must be clearly          */
/*         labelled whenever they are published.  Examples of            */
/*         proper labelling include:                                     */
/*           "tuned STREAM benchmark results"                            */
/*           "based on a variant of the STREAM benchmark code"           */
/*         Other comparable, clear, and reasonable labelling is          */
/*         acceptable.                                                   */
/*     3c. Submission of results to the STREAM benchmark web site        */
/*         is encouraged, but not required.                              */
/*  4. Use of this program or creation of derived works based on this    */
/*     program constitutes acceptance of these licensing restrictions.   */
/*  5. Absolutely no warranty is expressed or implied.                   */
/*-----------------------------------------------------------------------*/
/* usage: execbench-stream [ARRAY_SIZE [NTIMES]]  (defaults 10000000 10) */

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define HLINE "-------------------------------------------------------------\n"
#define MIN(x, y) ((x) < (y) ? (x) : (y))
#define MAX(x, y) ((x) > (y) ? (x) : (y))

typedef double stream_t;

static stream_t *a, *b, *c;
static long n;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1.0e-9 * (double)ts.tv_nsec;
}

/* Smallest observable step of the timer, in microseconds (STREAM's checktick idea). */
static int clock_granularity_us(void)
{
    double smallest = 1.0e6;
    for (int i = 0; i < 20; i++) {
        double t1 = now_seconds(), t2;
        while (((t2 = now_seconds()) - t1) < 1.0e-6)
            ;
        smallest = MIN(smallest, t2 - t1);
    }
    int us = (int)(smallest * 1.0e6);
    return us < 1 ? 1 : us;
}

/* Average relative error of each array against the exact result of the same sequence of
 * kernels on scalars; a wrong kernel makes the run fail visibly. */
static int check_results(int ntimes)
{
    stream_t aj = 1.0, bj = 2.0, cj = 0.0, scalar = 3.0;
    const double epsilon = 1.e-13;
    aj = 2.0E0 * aj; /* the timing calibration step */
    for (int k = 0; k < ntimes; k++) {
        cj = aj;
        bj = scalar * cj;
        cj = aj + bj;
        aj = bj + scalar * cj;
    }
    double a_err = 0, b_err = 0, c_err = 0;
    for (long j = 0; j < n; j++) {
        a_err += fabs(a[j] - aj);
        b_err += fabs(b[j] - bj);
        c_err += fabs(c[j] - cj);
    }
    double a_avg = a_err / (double)n, b_avg = b_err / (double)n, c_avg = c_err / (double)n;
    int errors = 0;
    if (fabs(a_avg / aj) > epsilon) {
        errors++;
        printf("Failed Validation on array a[], AvgRelAbsErr > epsilon (%e)\n", epsilon);
        printf("     Expected Value: %e, AvgAbsErr: %e, AvgRelAbsErr: %e\n", aj, a_avg, fabs(a_avg / aj));
    }
    if (fabs(b_avg / bj) > epsilon) {
        errors++;
        printf("Failed Validation on array b[], AvgRelAbsErr > epsilon (%e)\n", epsilon);
        printf("     Expected Value: %e, AvgAbsErr: %e, AvgRelAbsErr: %e\n", bj, b_avg, fabs(b_avg / bj));
    }
    if (fabs(c_avg / cj) > epsilon) {
        errors++;
        printf("Failed Validation on array c[], AvgRelAbsErr > epsilon (%e)\n", epsilon);
        printf("     Expected Value: %e, AvgAbsErr: %e, AvgRelAbsErr: %e\n", cj, c_avg, fabs(c_avg / cj));
    }
    if (errors == 0)
        printf("Solution Validates: avg error less than %e on all three arrays\n", epsilon);
    return errors;
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 10000000L;
    int ntimes = argc > 2 ? atoi(argv[2]) : 10;
    if (n < 1000 || ntimes < 2) {
        fprintf(stderr, "usage: %s [ARRAY_SIZE>=1000 [NTIMES>=2]]\n", argv[0]);
        return 2;
    }
    a = malloc(sizeof(stream_t) * n);
    b = malloc(sizeof(stream_t) * n);
    c = malloc(sizeof(stream_t) * n);
    double *times[4];
    for (int k = 0; k < 4; k++)
        times[k] = malloc(sizeof(double) * ntimes);
    if (!a || !b || !c || !times[3]) {
        fprintf(stderr, "execbench-stream: cannot allocate 3 arrays of %ld elements\n", n);
        return 1;
    }
    static const char *label[4] = {"Copy:      ", "Scale:     ", "Add:       ", "Triad:     "};
    double bytes[4] = {2.0 * sizeof(stream_t) * n, 2.0 * sizeof(stream_t) * n,
                       3.0 * sizeof(stream_t) * n, 3.0 * sizeof(stream_t) * n};
    int word = (int)sizeof(stream_t);

    printf(HLINE);
    printf("STREAM version $Revision: 5.10 $ (execbench variant: based on a variant of the STREAM benchmark code)\n");
    printf(HLINE);
    printf("This system uses %d bytes per array element.\n", word);
    printf(HLINE);
    printf("Array size = %llu (elements), Offset = %d (elements)\n", (unsigned long long)n, 0);
    printf("Memory per array = %.1f MiB (= %.1f GiB).\n", word * ((double)n / 1024.0 / 1024.0),
           word * ((double)n / 1024.0 / 1024.0 / 1024.0));
    printf("Total memory required = %.1f MiB (= %.1f GiB).\n", (3.0 * word) * ((double)n / 1024.0 / 1024.),
           (3.0 * word) * ((double)n / 1024.0 / 1024. / 1024.));
    printf("Each kernel will be executed %d times.\n", ntimes);
    printf(" The *best* time for each kernel (excluding the first iteration)\n");
    printf(" will be used to compute the reported bandwidth.\n");
#ifdef _OPENMP
    printf(HLINE);
    int threads = 0;
#pragma omp parallel
    {
#pragma omp master
        printf("Number of Threads requested = %i\n", omp_get_num_threads());
    }
#pragma omp parallel
#pragma omp atomic
    threads++;
    printf("Number of Threads counted = %i\n", threads);
#endif

#pragma omp parallel for
    for (long j = 0; j < n; j++) {
        a[j] = 1.0;
        b[j] = 2.0;
        c[j] = 0.0;
    }
    printf(HLINE);
    int quantum = clock_granularity_us();
    printf("Your clock granularity/precision appears to be %d microseconds.\n", quantum);

    double t = now_seconds();
#pragma omp parallel for
    for (long j = 0; j < n; j++)
        a[j] = 2.0E0 * a[j];
    t = 1.0E6 * (now_seconds() - t);
    printf("Each test below will take on the order of %d microseconds.\n", (int)t);
    printf("   (= %d clock ticks)\n", (int)(t / quantum));
    printf("Increase the size of the arrays if this shows that\n");
    printf("you are not getting at least 20 clock ticks per test.\n");
    printf(HLINE);
    printf("WARNING -- The above is only a rough guideline.\n");
    printf("For best results, please be sure you know the\n");
    printf("precision of your system timer.\n");
    printf(HLINE);

    stream_t scalar = 3.0;
    for (int k = 0; k < ntimes; k++) {
        times[0][k] = now_seconds();
#pragma omp parallel for
        for (long j = 0; j < n; j++)
            c[j] = a[j];
        times[0][k] = now_seconds() - times[0][k];

        times[1][k] = now_seconds();
#pragma omp parallel for
        for (long j = 0; j < n; j++)
            b[j] = scalar * c[j];
        times[1][k] = now_seconds() - times[1][k];

        times[2][k] = now_seconds();
#pragma omp parallel for
        for (long j = 0; j < n; j++)
            c[j] = a[j] + b[j];
        times[2][k] = now_seconds() - times[2][k];

        times[3][k] = now_seconds();
#pragma omp parallel for
        for (long j = 0; j < n; j++)
            a[j] = b[j] + scalar * c[j];
        times[3][k] = now_seconds() - times[3][k];
    }

    printf("Function    Best Rate MB/s  Avg time     Min time     Max time\n");
    for (int j = 0; j < 4; j++) {
        double avg = 0, mn = FLT_MAX, mx = 0;
        for (int k = 1; k < ntimes; k++) { /* the first iteration is a warm-up */
            avg += times[j][k];
            mn = MIN(mn, times[j][k]);
            mx = MAX(mx, times[j][k]);
        }
        avg /= (double)(ntimes - 1);
        printf("%s%12.1f  %11.6f  %11.6f  %11.6f\n", label[j], 1.0E-06 * bytes[j] / mn, avg, mn, mx);
    }
    printf(HLINE);
    int errors = check_results(ntimes);
    printf(HLINE);
    return errors ? 1 : 0;
}
