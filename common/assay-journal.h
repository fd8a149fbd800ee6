/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The client's journal: one small JSON record per local file, in
 * $XDG_STATE_HOME/assay/journal/, written atomically. While a file uploads its record
 * says which job and how many chunks are stored, so that the next run after a crash
 * continues that job; once the job is uploaded the record keeps the file's size, mtime
 * and content hash, so that the same content is never submitted twice. A job the user
 * cancelled leaves a CANCELLED record with the file's size and mtime, so that the same
 * file is not submitted again by itself (only an explicit retry submits it).
 */

typedef enum
{
  ASSAY_JOURNAL_UPLOADING,
  ASSAY_JOURNAL_SUBMITTED,
  ASSAY_JOURNAL_CANCELLED,
} AssayJournalState;

typedef struct
{
  char *path;
  guint64 size;
  gint64 mtime_us;
  AssayJournalState state;
  char *job;
  char *file;
  guint preset;
  gsize chunk_size;
  guint chunks;   /* stored contiguously from 0 */
  char *hash;     /* SHA-256 of the content, lowercase hex, once known */
} AssayJournalEntry;

AssayJournalEntry *assay_journal_entry_new  (const char         *path);
void               assay_journal_entry_free (AssayJournalEntry  *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayJournalEntry, assay_journal_entry_free)

#define ASSAY_TYPE_JOURNAL (assay_journal_get_type ())
G_DECLARE_FINAL_TYPE (AssayJournal, assay_journal, ASSAY, JOURNAL, GObject)

AssayJournal      *assay_journal_new        (const char         *dir);
AssayJournal      *assay_journal_new_default (void);
const char        *assay_journal_get_dir    (AssayJournal       *self);
AssayJournalEntry *assay_journal_lookup     (AssayJournal       *self,
                                             const char         *path,
                                             GError            **error);
gboolean           assay_journal_save       (AssayJournal       *self,
                                             AssayJournalEntry  *entry,
                                             GError            **error);
GPtrArray         *assay_journal_list       (AssayJournal       *self);
gboolean           assay_journal_remove     (AssayJournal       *self,
                                             const char         *path,
                                             GError            **error);

G_END_DECLS
