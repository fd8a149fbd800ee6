/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "assay-store.h"

G_BEGIN_DECLS

/*
 * One body of tests for every AssayStore backend, through the interface only: the local
 * store runs it in the unit suite, the S3 + DynamoDB store in the integration suite.
 *
 * Each case calls @make_store (@data) for a new store (transfer full), inits it, and
 * checks at the end that the test held the last reference. Cases share nothing but the
 * backend: keys and ids are fresh per case, and query checks look only at the case's
 * own items, so that cases may run against one bucket and one pair of tables.
 */
typedef AssayStore *(*AssayTestMakeStore) (gpointer data);

void assay_test_store_conformance_add (const char         *prefix,
                                       AssayTestMakeStore  make_store,
                                       gpointer            data);

/* Synchronous forms of the interface for tests: each spins the thread-default main
 * context until its operation completes. */
gboolean         assay_test_store_init          (AssayStore         *store,
                                                 GError            **error);
char            *assay_test_store_put_object    (AssayStore         *store,
                                                 const char         *key,
                                                 GBytes             *data,
                                                 GHashTable         *metadata,
                                                 GError            **error);
AssayObjectInfo *assay_test_store_get_object    (AssayStore         *store,
                                                 const char         *key,
                                                 GBytes            **out_data,
                                                 GError            **error);
AssayObjectInfo *assay_test_store_head_object   (AssayStore         *store,
                                                 const char         *key,
                                                 GError            **error);
gboolean         assay_test_store_delete_object (AssayStore         *store,
                                                 const char         *key,
                                                 GError            **error);
AssayObjectList *assay_test_store_list_objects  (AssayStore         *store,
                                                 const char         *prefix,
                                                 const char         *token,
                                                 guint               max_keys,
                                                 GError            **error);
gboolean         assay_test_store_copy_object   (AssayStore         *store,
                                                 const char         *source_key,
                                                 const char         *key,
                                                 GError            **error);
gboolean         assay_test_store_put_item      (AssayStore         *store,
                                                 AssayTable          table,
                                                 JsonObject         *item,
                                                 AssayCondition     *condition,
                                                 GError            **error);
JsonObject      *assay_test_store_get_item      (AssayStore         *store,
                                                 AssayTable          table,
                                                 const char         *id,
                                                 GError            **error);
JsonObject      *assay_test_store_update_item   (AssayStore         *store,
                                                 AssayTable          table,
                                                 const char         *id,
                                                 AssayUpdate        *update,
                                                 AssayCondition     *condition,
                                                 AssayReturnValues   return_values,
                                                 GError            **error);
gboolean         assay_test_store_delete_item   (AssayStore         *store,
                                                 AssayTable          table,
                                                 const char         *id,
                                                 AssayCondition     *condition,
                                                 GError            **error);
AssayItemPage   *assay_test_store_query         (AssayStore         *store,
                                                 AssayTable          table,
                                                 const AssayQuery   *query,
                                                 GError            **error);

/* Waits until a GTask's worker thread has let go of @store, then asserts that this
 * last reference finalizes it. */
void             assay_test_store_release       (AssayStore         *store);
/* rm -rf, not following links. */
void             assay_test_remove_tree         (const char         *path);

/* A job item in DynamoDB form as the client creates it: seed fields, status UPLOADING,
 * chunks 0, queue open, due = @created. */
JsonObject      *assay_test_job_item            (const char         *id,
                                                 const char         *created);

G_END_DECLS
