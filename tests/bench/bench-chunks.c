/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-chunks: the xz chunk encoder and decoder next to the xz command.
 *
 * Makes a "mixed" file (see bench-mixed.h), then for each preset and thread count:
 * compresses it with AssayChunkEncoder (8 MiB chunks, written to a file) and with
 * `xz -T<t> -<p> -c`, and decompresses Assay's file with AssayChunkDecoder and with
 * `xz -T<t> -dc`, to /dev/null. Each run is its own process, timed by wall clock, its
 * peak RSS taken from wait4(). Prints a Markdown table (docs/benchmarks.md).
 *
 *   bench-chunks [--size MiB] [--presets 0,1,3,6] [--threads 1,2] [--repeat N] [--dir DIR]
 *
 * With --repeat N each process runs N times and the fastest run is shown (the machine's
 * other load only ever slows a run down).
 *
 * `./run bench` passes no arguments: ASSAY_BENCH_SIZE_MIB sets the default of --size there
 * (e.g. ASSAY_BENCH_SIZE_MIB=32 ./run bench for a quick run).
 */
#include "config.h"

#include "bench-mixed.h"

#include "assay-chunk-decoder.h"
#include "assay-chunk-encoder.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (G_GUINT64_CONSTANT (1) << 20)

/* ------------------------------------------------------------------------------------ */
/* The child processes that run Assay                                                   */

static int
encode_child (guint       preset,
              guint       threads,
              const char *input_path,
              const char *output_path)
{
  g_autoptr(GFile) in_file = g_file_new_for_path (input_path);
  g_autoptr(GFile) out_file = g_file_new_for_path (output_path);
  g_autoptr(GFileInputStream) in = NULL;
  g_autoptr(GFileOutputStream) out = NULL;
  g_autoptr(AssayChunkEncoder) encoder = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *chunk;

  if ((in = g_file_read (in_file, NULL, &error)) == NULL ||
      (out = g_file_replace (out_file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, &error)) == NULL)
    goto failed;

  encoder =
      assay_chunk_encoder_new (G_INPUT_STREAM (in), preset, threads, ASSAY_CHUNK_SIZE_DEFAULT);
  while ((chunk = assay_chunk_encoder_next (encoder, NULL, &error)) != NULL)
    {
      gboolean ok =
          g_output_stream_write_all (G_OUTPUT_STREAM (out), g_bytes_get_data (chunk, NULL),
                                     g_bytes_get_size (chunk), NULL, NULL, &error);

      g_bytes_unref (chunk);
      if (!ok)
        goto failed;
    }
  if (error != NULL || !g_output_stream_close (G_OUTPUT_STREAM (out), NULL, &error))
    goto failed;
  return 0;

failed:
  g_printerr ("bench-chunks: encoding: %s\n", error->message);
  return 1;
}

static int
decode_child (guint       threads,
              const char *input_path,
              guint64     expected_size)
{
  g_autoptr(GFile) in_file = g_file_new_for_path (input_path);
  g_autoptr(GFile) null_file = g_file_new_for_path ("/dev/null");
  g_autoptr(GFileInputStream) in = NULL;
  g_autoptr(GFileOutputStream) out = NULL;
  g_autoptr(AssayChunkDecoder) decoder = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *buf = g_malloc (ASSAY_CHUNK_SIZE_DEFAULT);
  AssayChunkLimits limits = { .threads = threads };

  if ((in = g_file_read (in_file, NULL, &error)) == NULL ||
      (out = g_file_append_to (null_file, G_FILE_CREATE_NONE, NULL, &error)) == NULL)
    goto failed;

  decoder = assay_chunk_decoder_new (G_OUTPUT_STREAM (out), &limits);
  for (;;)
    {
      g_autoptr(GBytes) chunk = NULL;
      gsize n = 0;

      if (!g_input_stream_read_all (G_INPUT_STREAM (in), buf, ASSAY_CHUNK_SIZE_DEFAULT, &n, NULL,
                                    &error))
        goto failed;
      if (n == 0)
        break;
      chunk = g_bytes_new_static (buf, n);
      if (!assay_chunk_decoder_push (decoder, chunk, NULL, &error))
        goto failed;
    }
  if (!assay_chunk_decoder_finish (decoder, NULL, &error))
    goto failed;
  if (assay_chunk_decoder_get_bytes_written (decoder) != expected_size)
    {
      g_printerr ("bench-chunks: decoded %" G_GUINT64_FORMAT " bytes, not %" G_GUINT64_FORMAT "\n",
                  assay_chunk_decoder_get_bytes_written (decoder), expected_size);
      return 1;
    }
  return 0;

failed:
  g_printerr ("bench-chunks: decoding: %s\n", error->message);
  return 1;
}

/* ------------------------------------------------------------------------------------ */
/* Timing a process                                                                     */

typedef struct
{
  double seconds;
  guint64 peak_rss; /* bytes */
} Run;

/* Runs @argv with stdin from @in_path and stdout to @out_path; FALSE if it failed. */
static gboolean
run_once (const char *const *argv,
          const char        *in_path,
          const char        *out_path,
          Run               *run)
{
  struct rusage usage;
  gint64 start = g_get_monotonic_time ();
  int status;
  pid_t pid;

  pid = fork ();
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      int in_fd = open (in_path != NULL ? in_path : "/dev/null", O_RDONLY | O_CLOEXEC);
      int out_fd = open (out_path != NULL ? out_path : "/dev/null",
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

      if (in_fd < 0 || out_fd < 0 || dup2 (in_fd, 0) < 0 || dup2 (out_fd, 1) < 0)
        _exit (126);
      execvp (argv[0], (char *const *) argv);
      _exit (127);
    }
  while (wait4 (pid, &status, 0, &usage) < 0)
    if (errno != EINTR)
      g_error ("wait4: %s", g_strerror (errno));

  run->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  run->peak_rss = (guint64) usage.ru_maxrss * 1024;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_autofree char *cmd = g_strjoinv (" ", (char **) argv);

      g_printerr ("bench-chunks: “%s” failed (status %d)\n", cmd, status);
      return FALSE;
    }
  return TRUE;
}

/* The fastest of @repeat runs. */
static gboolean
run_timed (const char *const *argv,
           const char        *in_path,
           const char        *out_path,
           guint              repeat,
           Run               *best)
{
  for (guint i = 0; i < repeat; i++)
    {
      Run run;

      if (!run_once (argv, in_path, out_path, &run))
        return FALSE;
      if (i == 0 || run.seconds < best->seconds)
        *best = run;
    }
  return TRUE;
}

static guint64
file_size (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    g_error ("stat %s: %s", path, g_strerror (errno));
  return (guint64) st.st_size;
}

static GArray *
parse_list (const char *text,
            guint       max)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  GArray *values = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint64 v;

      if (!g_ascii_string_to_unsigned (parts[i], 10, 0, max, &v, NULL))
        {
          g_printerr ("bench-chunks: “%s” is not a number from 0 to %u\n", parts[i], max);
          exit (2);
        }
      g_array_append_val (values, v);
    }
  return values;
}

static char *
cpu_model (void)
{
  g_autofree char *info = NULL;
  const char *line;

  if (g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL) &&
      (line = strstr (info, "model name")) != NULL && (line = strchr (line, ':')) != NULL)
    return g_strstrip (g_strndup (line + 1, strcspn (line + 1, "\n")));
  return g_strdup ("unknown CPU");
}

static double
mb_per_s (guint64 bytes,
          double  seconds)
{
  return (double) bytes / 1e6 / seconds;
}

static void
print_row (guint       preset,
           guint       threads,
           const char *tool,
           guint64     size,
           const Run  *enc,
           guint64     compressed,
           const Run  *dec)
{
  g_print ("| %u | %u | %-18s | %7.1f | %6.3f | %6" G_GUINT64_FORMAT
           " | %7.1f | %6" G_GUINT64_FORMAT " |\n",
           preset, threads, tool, mb_per_s (size, enc->seconds),
           (double) compressed / (double) size, enc->peak_rss / MiB, mb_per_s (size, dec->seconds),
           dec->peak_rss / MiB);
}

int
main (int   argc,
      char *argv[])
{
  int size_mib = 256;
  int repeat = 1;
  g_autofree char *presets_text = g_strdup ("0,1,3,6");
  g_autofree char *threads_text = g_strdup ("1,2");
  g_autofree char *dir = NULL;
  const GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_INT, &size_mib, "Size of the mixed file in MiB (256)", "MIB" },
    { "presets", 0, 0, G_OPTION_ARG_STRING, &presets_text, "xz presets (0,1,3,6)", "LIST" },
    { "threads", 0, 0, G_OPTION_ARG_STRING, &threads_text, "Thread counts (1,2)", "LIST" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Runs of each, the fastest shown (1)", "N" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Where the files go (the temp dir)", "DIR" },
    { NULL },
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) presets = NULL;
  g_autoptr(GArray) threads = NULL;
  g_autofree char *self_exe = NULL;
  g_autofree char *work = NULL;
  g_autofree char *input = NULL;
  g_autofree char *assay_xz = NULL;
  g_autofree char *xz_xz = NULL;
  g_autofree char *cpu = NULL;
  g_autofree char *xz_path = g_find_program_in_path ("xz");
  guint64 size;
  gboolean ok = TRUE;

  /* the child processes: bench-chunks --encode-child P T IN OUT / --decode-child T IN N */
  if (argc == 6 && g_str_equal (argv[1], "--encode-child"))
    return encode_child ((guint) g_ascii_strtoull (argv[2], NULL, 10),
                         (guint) g_ascii_strtoull (argv[3], NULL, 10), argv[4], argv[5]);
  if (argc == 5 && g_str_equal (argv[1], "--decode-child"))
    return decode_child ((guint) g_ascii_strtoull (argv[2], NULL, 10), argv[3],
                         g_ascii_strtoull (argv[4], NULL, 10));

  if (g_getenv ("ASSAY_BENCH_SIZE_MIB") != NULL)
    size_mib = (int) g_ascii_strtoll (g_getenv ("ASSAY_BENCH_SIZE_MIB"), NULL, 10);

  context = g_option_context_new ("- xz chunks next to the xz command");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-chunks: %s\n", error->message);
      return 2;
    }
  if (size_mib < 1 || repeat < 1)
    {
      g_printerr ("bench-chunks: --size and --repeat must be at least 1\n");
      return 2;
    }
  if (xz_path == NULL)
    {
      g_printerr ("bench-chunks: the xz command is needed for the baseline\n");
      return 1;
    }
  presets = parse_list (presets_text, 9);
  threads = parse_list (threads_text, 64);
  size = (guint64) size_mib * MiB;
  self_exe = g_file_read_link ("/proc/self/exe", &error);
  g_assert_no_error (error);

  work = g_build_filename (dir != NULL ? dir : g_get_tmp_dir (), "bench-chunks-XXXXXX", NULL);
  if (g_mkdtemp (work) == NULL)
    {
      g_printerr ("bench-chunks: cannot make %s: %s\n", work, g_strerror (errno));
      return 1;
    }
  input = g_build_filename (work, "mixed", NULL);
  assay_xz = g_build_filename (work, "assay.xz", NULL);
  xz_xz = g_build_filename (work, "xz.xz", NULL);
  if (!bench_make_mixed_file (input, size, &error))
    {
      g_printerr ("bench-chunks: %s\n", error->message);
      return 1;
    }

  cpu = cpu_model ();
  g_print ("bench-chunks: %d MiB mixed file (1 MiB regions: 1/4 random, 1/2 log-like text, "
           "1/4 zeros), %s, %u CPUs, liblzma %s\n",
           size_mib, cpu, g_get_num_processors (), lzma_version_string ());
  g_print ("MB/s = 10^6 bytes of the uncompressed file per second of wall time (fastest of %d "
           "%s); RSS = peak resident memory of the process, MiB. Assay: 8 MiB chunks; xz rows: "
           "`xz -T<t> -<p> -c`, then `xz -T<t> -dc` of Assay's file (both decoders read it).\n\n",
           repeat, repeat == 1 ? "run" : "runs");
  g_print ("| preset | threads | tool | compress MB/s | ratio | RSS | decompress MB/s | RSS |\n");
  g_print ("|---|---|---|---|---|---|---|---|\n");

  for (guint p = 0; p < presets->len && ok; p++)
    for (guint t = 0; t < threads->len && ok; t++)
      {
        guint preset = g_array_index (presets, guint, p);
        guint n = g_array_index (threads, guint, t);
        g_autofree char *preset_arg = g_strdup_printf ("%u", preset);
        g_autofree char *threads_arg = g_strdup_printf ("%u", n);
        g_autofree char *size_arg = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
        g_autofree char *xz_preset = g_strdup_printf ("-%u", preset);
        g_autofree char *xz_threads = g_strdup_printf ("-T%u", n);
        const char *assay_enc[] = { self_exe, "--encode-child", preset_arg, threads_arg,
                                    input,    assay_xz,         NULL };
        const char *assay_dec[] = { self_exe, "--decode-child", threads_arg,
                                    assay_xz, size_arg,         NULL };
        const char *xz_enc[] = { xz_path, xz_threads, xz_preset, "-c", NULL };
        const char *xz_dec[] = { xz_path, xz_threads, "-dc", NULL };
        g_autofree char *xz_name = g_strdup_printf ("xz %s -%u", xz_threads, preset);
        Run ae = { 0 }, ad = { 0 }, xe = { 0 }, xd = { 0 };

        ok = run_timed (assay_enc, NULL, NULL, repeat, &ae) &&
             run_timed (xz_enc, input, xz_xz, repeat, &xe) &&
             run_timed (assay_dec, NULL, NULL, repeat, &ad) &&
             run_timed (xz_dec, assay_xz, NULL, repeat, &xd);
        if (!ok)
          break;
        print_row (preset, n, "Assay", size, &ae, file_size (assay_xz), &ad);
        print_row (preset, n, xz_name, size, &xe, file_size (xz_xz), &xd);
      }

  g_unlink (input);
  g_unlink (assay_xz);
  g_unlink (xz_xz);
  g_rmdir (work);
  return ok ? 0 : 1;
}
